"""The sandbox's ordinary behaviour: verdicts, limits, parallel runs, environment and files."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from textbooks.errors import UserError
from textbooks.sandbox import (
    DISABLE_VARIABLE,
    PROMISES,
    IsolationUnavailable,
    KiB,
    Limits,
    MiB,
    Outcome,
    Sandbox,
    check_isolation,
    levels_to_try,
)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, limits=Limits(timeout_s=5, memory_bytes=512 * MiB, output_bytes=4 * KiB)) as box:
        yield box


def test_a_program_that_runs_to_the_end_passes_and_its_output_is_kept(sandbox):
    outcome = sandbox.run("def add(a, b):\n    return a + b\nassert add(1, 2) == 3\nprint('done')")
    assert outcome == Outcome("passed", None, "", outcome.duration_s, stdout="done\n", stderr="", cpu_time_s=outcome.cpu_time_s)


@pytest.mark.parametrize(
    ("program", "error_type", "message"),
    [
        ("assert 1 + 1 == 3, 'arithmetic'", "AssertionError", "arithmetic"),
        ("undefined_function()", "NameError", "name 'undefined_function' is not defined"),
        ("def f(:\n    pass", "SyntaxError", "invalid syntax (program.py, line 1)"),
        ("1 / 0", "ZeroDivisionError", "division by zero"),
        ("import sys\nsys.exit(3)", "SystemExit", "3"),
        ("import os\nos._exit(7)", "Exit 7", "exited with status 7"),
        ("def f(n):\n    return f(n + 1)\nf(0)", "RecursionError", "maximum recursion depth exceeded"),
        ("import no_such_module_here", "ModuleNotFoundError", "No module named 'no_such_module_here'"),
    ],
)
def test_a_program_that_raises_or_exits_nonzero_fails_with_its_error_type(
    sandbox, program, error_type, message
):
    outcome = sandbox.run(program)
    assert (outcome.status, outcome.error_type, outcome.message) == ("failed", error_type, message)


def test_sys_exit_zero_passes_but_os_exit_zero_skipping_the_rest_fails(sandbox):
    assert sandbox.run("import sys\nprint('early')\nsys.exit(0)\nassert False").status == "passed"
    cut_short = sandbox.run("import os\nos._exit(0)\nassert False")
    assert (cut_short.status, cut_short.error_type) == ("failed", "Exit 0")


def test_the_traceback_starts_in_the_program(sandbox):
    outcome = sandbox.run("def check():\n    assert False, 'no'\ncheck()")
    assert 'File "program.py", line 3, in <module>' in outcome.stderr
    assert "worker.py" not in outcome.stderr


def test_a_program_past_its_wall_clock_times_out(sandbox):
    outcome = sandbox.run("import time\ntime.sleep(60)", timeout_s=0.5)
    assert (outcome.status, outcome.error_type) == ("timeout", None)
    assert "wall clock" in outcome.message


def test_a_program_past_its_cpu_time_times_out():
    with Sandbox(workers=1, limits=Limits(timeout_s=30, cpu_s=1)) as box:
        outcome = box.run("while True:\n    pass")
    assert (outcome.status, outcome.message) == ("timeout", "exceeded 1 s of CPU time")


def test_allocating_past_the_address_space_limit_raises_memory_error(sandbox):
    outcome = sandbox.run("block = bytearray(1024 ** 3)")
    assert (outcome.status, outcome.error_type) == ("failed", "MemoryError")


def test_writing_past_the_file_size_limit_fails():
    with Sandbox(workers=1, limits=Limits(file_size_bytes=1 * MiB)) as box:
        outcome = box.run("open('big', 'wb').write(b'x' * (2 * 1024 * 1024))")
    assert outcome.status == "failed"  # SIGXFSZ is ignored by Python: the write raises EFBIG
    assert outcome.error_type == "OSError" and "File too large" in outcome.message


def test_stdout_and_stderr_are_cut_at_the_output_limit(sandbox):
    outcome = sandbox.run("import sys\nprint('x' * 1_000_000)\nsys.stderr.write('e' * 1_000_000)")
    assert outcome.status == "passed"
    assert outcome.stdout == "x" * 4096 and outcome.stderr == "e" * 4096


def test_run_many_with_two_workers_returns_every_key_once(sandbox):
    programs = [(f"ok-{i}", f"assert {i} + 1 == {i + 1}") for i in range(12)]
    programs += [(f"bad-{i}", f"assert {i} == -1") for i in range(6)]
    programs += [("slow", "import time\ntime.sleep(60)", 0.3)]
    results = list(sandbox.run_many(iter(programs)))
    assert sorted(key for key, _ in results) == sorted(key for key, *_ in programs)
    statuses = {key: outcome.status for key, outcome in results}
    assert {statuses[f"ok-{i}"] for i in range(12)} == {"passed"}
    assert {statuses[f"bad-{i}"] for i in range(6)} == {"failed"}
    assert statuses["slow"] == "timeout"


def test_run_many_applies_its_timeout_to_items_without_one(sandbox):
    results = dict(sandbox.run_many([("a", "import time\ntime.sleep(60)")], timeout_s=0.3))
    assert results["a"].status == "timeout"


# Each program prints when it started and ended (CLOCK_MONOTONIC is one clock for the whole machine).
SPAN = "import time\nstart = time.monotonic()\n{body}\nprint(start, time.monotonic())"


def test_past_half_its_limit_a_program_lets_a_spare_worker_run_the_next_beside_it():
    with Sandbox(workers=1, limits=Limits(timeout_s=3)) as box:
        results = list(box.run_many([("loop", "while True:\n    pass"), ("quick", SPAN.format(body="pass"))]))
    assert [key for key, _ in results] == ["quick", "loop"]  # done while the loop still held its worker
    assert [outcome.status for _, outcome in results] == ["passed", "timeout"]
    assert box.workers == 1


def test_programs_within_the_first_half_of_their_limit_never_exceed_the_worker_count():
    with Sandbox(workers=1, limits=Limits(timeout_s=5)) as box:
        results = dict(box.run_many((key, SPAN.format(body="time.sleep(0.4)")) for key in "abc"))
    spans = sorted(tuple(map(float, outcome.stdout.split())) for outcome in results.values())
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))


def test_the_environment_is_built_from_scratch(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-for-programs")
    monkeypatch.setenv("HF_TOKEN", "hf-test-not-for-programs")
    program = (
        "import os, glob\n"
        "assert 'OPENAI_API_KEY' not in os.environ and 'HF_TOKEN' not in os.environ\n"
        "assert sorted(os.environ) == ['HOME', 'LANG', 'LC_ALL', 'PATH', 'PYTHONDONTWRITEBYTECODE',"
        " 'PYTHONIOENCODING', 'TMPDIR'], sorted(os.environ)\n"
        "for path in glob.glob('/proc/*/environ'):\n"
        "    try:\n"
        "        assert b'not-for-programs' not in open(path, 'rb').read(), path\n"
        "    except OSError:\n"
        "        pass\n"
    )
    with Sandbox(workers=1) as box:
        outcome = box.run(program)
    assert outcome.status == "passed", outcome


def test_the_working_directory_is_writable_and_fresh_for_each_program():
    with Sandbox(workers=1) as box:
        first = box.run("import os\nopen('left-behind.txt', 'w').write('x')\nprint(os.getcwd())")
        second = box.run("import os\nassert os.listdir('.') == [], os.listdir('.')\nprint(os.getcwd())")
    assert (first.status, second.status) == ("passed", "passed"), (first, second)
    assert first.stdout != second.stdout


def test_everything_outside_the_working_directory_is_read_only(sandbox):
    assert "read-only" in PROMISES[sandbox.isolation_level]  # what `auto` guarantees
    outside = Path(tempfile.mkdtemp(dir="/var/tmp"))
    try:
        (outside / "kept.txt").write_text("original")
        program = (
            f"for path in ['{outside}/kept.txt', '{outside}/new.txt', '/usr/new.txt', '/etc/new.txt']:\n"
            "    try:\n"
            "        open(path, 'w').write('changed')\n"
            "        print('wrote', path)\n"
            "    except OSError:\n"
            "        pass\n"
        )
        outcome = sandbox.run(program)
        assert (outcome.status, outcome.stdout) == ("passed", "")
        assert [p.name for p in outside.iterdir()] == ["kept.txt"]
        assert (outside / "kept.txt").read_text() == "original"
    finally:
        shutil.rmtree(outside)


def test_a_program_gets_a_main_module_of_its_own(sandbox):
    program = "import pickle\ndef square(x):\n    return x * x\nassert pickle.loads(pickle.dumps(square))(3) == 9"
    assert sandbox.run(program).status == "passed"


def test_multiprocessing_works_and_its_shared_memory_does_not_outlive_the_program():
    pool = (
        "import multiprocessing, os\n"
        "def square(x):\n    return x * x\n"
        "if __name__ == '__main__':\n"
        "    with multiprocessing.Pool(2) as pool:\n        assert pool.map(square, range(4)) == [0, 1, 4, 9]\n"
        "    open('/dev/shm/left-behind', 'w').write('x')\n"
    )
    with Sandbox(workers=1) as box:  # one worker: the next program runs in the same one
        outcome = box.run(pool)
        after = box.run("import os\nassert 'left-behind' not in os.listdir('/dev/shm')")
    assert (outcome.status, after.status) == ("passed", "passed"), (outcome, after)
    assert not os.path.exists("/dev/shm/left-behind")


def test_a_closed_sandbox_runs_nothing():
    box = Sandbox(workers=1)
    box.close()
    with pytest.raises(RuntimeError, match="closed"):
        box.run("pass")


def test_auto_runs_at_a_guaranteed_level_bubblewrap_first(sandbox):
    bwrap = shutil.which("bwrap") and "bwrap" not in os.environ.get(DISABLE_VARIABLE, "")
    assert sandbox.isolation_level.startswith("bwrap" if bwrap else "namespaces")
    assert sandbox.isolation == sandbox.isolation_level
    if os.geteuid() == 0:
        assert sandbox.isolation_level.endswith("+uid")
        assert sandbox.run("import os\nassert os.getuid() == 65534").status == "passed"


def test_without_a_guaranteed_level_auto_refuses_unless_isolation_is_waived(monkeypatch):
    monkeypatch.setenv(DISABLE_VARIABLE, "bwrap,namespaces")
    with pytest.raises(IsolationUnavailable) as refused:
        Sandbox(workers=1)
    message = str(refused.value)
    assert "\n" not in message and "disabled by" in message
    assert "apt-get install -y bubblewrap" in message and "--unsafe-no-isolation" in message
    with pytest.warns(UserWarning, match="may change files outside"):
        box = Sandbox(workers=1, unsafe_no_isolation=True)
    with box:
        assert box.isolation_level.startswith(("unshare", "rlimits"))
        assert box.isolation == f"{box.isolation_level} (unsafe-no-isolation)"
        assert box.run("print(6 * 7)").stdout == "42\n"


def test_check_isolation_refuses_as_the_sandbox_would(monkeypatch):
    assert check_isolation() in PROMISES
    monkeypatch.setenv(DISABLE_VARIABLE, "bwrap,namespaces")
    with pytest.raises(IsolationUnavailable):
        check_isolation()
    assert check_isolation(unsafe_no_isolation=True).endswith("(unsafe-no-isolation)")


def test_only_auto_with_the_waiver_tries_the_weaker_levels():
    assert levels_to_try("auto", unsafe_no_isolation=False) == ("bwrap", "namespaces")
    assert levels_to_try("auto", unsafe_no_isolation=True) == ("bwrap", "namespaces", "unshare", "rlimits")
    assert levels_to_try("unshare", unsafe_no_isolation=False) == ("unshare",)


def test_a_disabled_level_asked_for_by_name_says_so(monkeypatch):
    monkeypatch.setenv(DISABLE_VARIABLE, "namespaces")
    with pytest.raises(UserError, match=f"namespaces: disabled by {DISABLE_VARIABLE}"):
        Sandbox(workers=1, isolation="namespaces")


@pytest.mark.parametrize("isolation", ["unshare", "rlimits"])
def test_weaker_isolation_levels_still_run_programs_and_warn(isolation):
    with pytest.warns(UserWarning, match="may change files outside"):
        box = Sandbox(workers=1, isolation=isolation)
    with box:
        assert box.isolation_level.startswith(isolation)
        assert box.run("print(6 * 7)").stdout == "42\n"
        assert box.run("assert False").error_type == "AssertionError"


def test_an_unknown_isolation_is_a_user_error():
    with pytest.raises(UserError, match="isolation='docker'"):
        Sandbox(workers=1, isolation="docker")
