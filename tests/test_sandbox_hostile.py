"""Hostile programs, run only through the sandbox: the verdict is right, the evaluating process and
its neighbours live on, nothing is left running, nothing outside changes, nothing reaches the host.

The test run has a ceiling of its own in case the sandbox has a bug (CI runs as root on a shared
machine): where cgroups can be made, this module's process (and so every sandbox it starts, whose
cgroups nest inside) is moved into one capped at 1024 processes and 12 GiB; and every bomb is
bounded (512 processes, 8 GiB) so that it cannot take the machine down even without one.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from textbooks.eval.sandbox import GiB, KiB, Limits, Sandbox
from textbooks.eval.sandbox_cgroup import create_ceiling

pytestmark = pytest.mark.slow

LIMITS = Limits(timeout_s=3, memory_bytes=1 * GiB, max_processes=32, output_bytes=8 * KiB)


@pytest.fixture(scope="module", autouse=True)
def ceiling_for_this_test_run():
    ceiling = create_ceiling(memory_bytes=12 * GiB, max_pids=1024)
    if ceiling is None:
        yield
        return
    ceiling.add(os.getpid())
    try:
        yield
    finally:
        for directory in ceiling.directories:  # back to where we were: the cgroup's parent
            (directory.parent / "cgroup.procs").write_text(str(os.getpid()))
        ceiling.remove()


@pytest.fixture(scope="module")
def sandbox(ceiling_for_this_test_run):
    with Sandbox(workers=2, limits=LIMITS) as box:
        yield box


@pytest.fixture(scope="module")
def host_canary():
    """A process of ours outside the sandbox that kill(-1) and friends must not reach."""
    canary = subprocess.Popen(["sleep", marker()])
    yield canary
    canary.kill()
    canary.wait()


@pytest.fixture(autouse=True)
def sandbox_and_host_survive(sandbox, host_canary):
    yield
    assert host_canary.poll() is None, "a program killed a process outside the sandbox"
    assert sandbox.run("import json\nassert json.loads('[1]') == [1]").status == "passed"


def marker() -> str:
    """A unique `sleep` duration: finds, in /proc, the processes a program started."""
    return f"{900_000 + secrets.randbelow(99_999)}.{secrets.randbelow(10**6)}"


def processes_with(mark: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and mark.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            pass
    return found


def program(source: str, **values: str) -> str:
    return textwrap.dedent(source).format(**values)


def test_an_infinite_loop_times_out(sandbox):
    assert sandbox.run("while True:\n    pass").status == "timeout"


def test_a_fork_bomb_is_contained_and_leaves_nothing_behind(sandbox):
    mark = marker()
    bomb = program(
        """
        import os
        for _ in range(9):  # 2 ** 9 = 512 processes at most, were nothing to stop it
            try:
                os.fork()
            except OSError:
                pass
        os.execv("/bin/sleep", ["sleep", "{mark}"])
        """,
        mark=mark,
    )
    assert sandbox.run(bomb).status == "timeout"
    assert processes_with(mark) == []


def test_a_memory_bomb_gets_memory_error(sandbox):
    bomb = "chunks = []\nfor _ in range(32):  # 32 x 256 MiB = 8 GiB at most\n    chunks.append(b'x' * (256 << 20))"
    outcome = sandbox.run(bomb)
    assert (outcome.status, outcome.error_type) == ("failed", "MemoryError")


def test_a_memory_bomb_spread_over_processes_meets_the_ceiling_not_the_worker(sandbox):
    if sandbox.ceiling is None:
        pytest.skip("no cgroup ceiling here: each process only has its own address-space limit")
    bomb = program(
        """
        import os, time
        children = []
        for _ in range(4):  # 4 x 700 MiB: under each process's limit, over the worker's ceiling
            pid = os.fork()
            if pid == 0:
                block = b"x" * (700 << 20)
                time.sleep(2)
                os._exit(0)
            children.append(pid)
        assert all(os.waitpid(pid, 0)[1] == 0 for pid in children), "a child was killed"
        """
    )
    outcome = sandbox.run(bomb, timeout_s=10)
    assert outcome.status != "passed" and outcome.error_type != "WorkerDied", outcome


def test_recursion_past_the_c_stack_crashes_only_the_program(sandbox):
    # Through a C function (map) each level takes C stack, which overflows long before the limit.
    deep = "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return list(map(f, [n + 1]))\nf(0)"
    outcome = sandbox.run(deep)
    assert (outcome.status, outcome.error_type) == ("crashed", "Signal 11")


def test_endless_output_is_capped_and_times_out(sandbox):
    outcome = sandbox.run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)")
    assert outcome.status == "timeout"
    assert len(outcome.stdout) == LIMITS.output_bytes


def test_writing_outside_the_working_directory_changes_nothing(sandbox):
    if sandbox.isolation_level.startswith("rlimits") or sandbox.isolation_level == "unshare":
        pytest.skip(f"{sandbox.isolation_level} gives no read-only view")
    outside = Path(tempfile.mkdtemp(dir="/var/tmp"))
    host_tmp = Path("/tmp") / f"sandbox-escape-{marker()}"
    try:
        (outside / "sentinel.txt").write_text("original")
        attack = program(
            """
            import os, shutil
            attempts = [
                lambda: open("{outside}/sentinel.txt", "w").write("changed"),
                lambda: os.remove("{outside}/sentinel.txt"),
                lambda: os.rename("{outside}/sentinel.txt", "{outside}/moved.txt"),
                lambda: os.chmod("{outside}/sentinel.txt", 0o777),
                lambda: shutil.rmtree("{outside}"),
                lambda: open("{host_tmp}", "w").write("escaped"),
                lambda: open("/etc/sandbox-escape", "w").write("escaped"),
                lambda: open(os.path.expanduser("~") + "/../escape", "w").write("escaped"),
            ]
            for number, attempt in enumerate(attempts):
                try:
                    attempt()
                    print("succeeded:", number)
                except OSError:
                    pass
            """,
            outside=outside,
            host_tmp=host_tmp,
        )
        outcome = sandbox.run(attack)
        assert (outcome.status, outcome.stdout) == ("passed", "")
        assert [p.name for p in outside.iterdir()] == ["sentinel.txt"]
        assert (outside / "sentinel.txt").read_text() == "original"
        assert (outside / "sentinel.txt").stat().st_mode & 0o777 == 0o644
        assert not host_tmp.exists() and not Path("/etc/sandbox-escape").exists()
    finally:
        shutil.rmtree(outside)


@pytest.mark.parametrize(
    "attack",
    [
        "os.kill(os.getppid(), signal.SIGKILL)",
        "os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)",
        "os.kill(-1, signal.SIGKILL)",
        "os.kill(-1, signal.SIGTERM)",
        "subprocess.run(['kill', '-9', '-1'])",
    ],
)
def test_killing_the_parent_or_everyone_reaches_nothing_outside(sandbox, attack):
    outcome = sandbox.run(f"import os, signal, subprocess\ntry:\n    {attack}\nexcept OSError:\n    pass")
    # The program may kill itself (`kill -9 -1` from a child reaches its parent), but with
    # namespaces the worker (PID 1 there, and another uid) cannot be signalled at all.
    assert outcome.status in ("passed", "crashed"), outcome
    if sandbox.isolation_level != "rlimits-only":
        assert outcome.error_type != "WorkerDied"


def test_a_worker_killed_by_its_program_is_replaced():
    # Only the weakest level lets a program reach its worker; the pool must carry on regardless.
    with pytest.warns(UserWarning), Sandbox(workers=1, limits=LIMITS, isolation="rlimits") as box:
        outcome = box.run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
        if box.isolation_level == "rlimits-only":
            assert (outcome.status, outcome.error_type) == ("crashed", "WorkerDied")
        assert box.run("print('still here')").stdout == "still here\n"


def children_of(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def test_a_worker_that_stops_answering_is_replaced():
    before = set(children_of(os.getpid()))
    with Sandbox(workers=1, limits=LIMITS) as box:
        (isolation,) = set(children_of(os.getpid())) - before  # bwrap, unshare, or the worker itself
        stopped = (children_of(isolation) or [isolation])[0]
        os.kill(stopped, signal.SIGSTOP)  # a frozen worker: the host's own deadline must end the wait
        outcome = box.run("print('never answered')", timeout_s=0.5)
        assert (outcome.status, outcome.error_type) == ("timeout", None)
        assert "replaced" in outcome.message
        assert box.run("print('answered')").stdout == "answered\n"


def test_nothing_reaches_a_listener_on_the_host(sandbox):
    if sandbox.isolation_level.startswith("rlimits"):
        pytest.skip("no network namespace at this level")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        attack = f"import socket\nwith socket.create_connection(('127.0.0.1', {port}), timeout=2) as s:\n    s.sendall(b'hi')"
        outcome = sandbox.run(attack)
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert (outcome.status, outcome.error_type) == ("failed", "ConnectionRefusedError")


@pytest.mark.parametrize(("code", "status"), [(0, "failed"), (13, "failed")])
def test_os_exit_mid_output_fails_whatever_its_status(sandbox, code, status):
    outcome = sandbox.run(f"import os\nprint('partial', flush=True)\nos._exit({code})")
    assert (outcome.status, outcome.stdout) == (status, "partial\n")


def test_ignoring_termination_signals_does_not_outlive_the_timeout(sandbox):
    mark = marker()
    stubborn = program(
        """
        import os, signal
        for number in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
            signal.signal(number, signal.SIG_IGN)
        os.execv("/bin/sleep", ["sleep", "{mark}"])  # ignored signals stay ignored across exec
        """,
        mark=mark,
    )
    assert sandbox.run(stubborn).status == "timeout"
    assert processes_with(mark) == []


def test_tampering_with_modules_and_builtins_stays_in_the_program():
    tamper = program(
        """
        import builtins, json, os, sys
        json.dumps = os._exit = os.write = None
        builtins.print = builtins.__import__ = None
        sys.modules.clear()
        raise ValueError("tampered")
        """
    )
    with Sandbox(workers=1, limits=LIMITS) as box:  # one worker: the next program runs in the same one
        outcome = box.run(tamper)
        after = box.run("import json\nprint(json.dumps([1]))")
    assert (outcome.status, outcome.error_type, outcome.message) == ("failed", "ValueError", "tampered")
    assert (after.status, after.stdout) == ("passed", "[1]\n")


DOUBLE_FORK = """
import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "{mark}"])
    os._exit(0)
os.wait()
"""


def test_a_double_forked_child_in_its_own_session_is_killed(sandbox):
    mark = marker()
    assert sandbox.run(program(DOUBLE_FORK, mark=mark)).status == "passed"
    assert processes_with(mark) == []


@pytest.mark.parametrize("isolation", ["unshare", "rlimits"])
def test_a_double_forked_child_is_killed_at_the_weaker_levels_too(isolation):
    mark = marker()
    with pytest.warns(UserWarning), Sandbox(workers=1, limits=LIMITS, isolation=isolation) as box:
        assert box.run(program(DOUBLE_FORK, mark=mark)).status == "passed"
        assert processes_with(mark) == []
