"""Hostile programs, run only through the sandbox: the verdict is right, the evaluating process and
its neighbours live on, nothing is left running, nothing outside changes, nothing reaches the host.

Every test that takes the `sandbox` fixture runs at each isolation level this machine offers (a
level that cannot start is skipped with its reason) and asserts what that level promises
(`PROMISES`), nothing narrower; attacks a level does not promise to contain are skipped, since
they would reach the machine (`kill -1` without a PID namespace kills the test run).

The test run has a ceiling of its own in case the sandbox has a bug (CI runs as root on a shared
machine): where cgroups can be made, this module's process (and so every sandbox it starts, whose
cgroups nest inside) is moved into one capped at 1024 processes and 12 GiB; and every bomb is
bounded (512 processes, 8 GiB) so that it cannot take the machine down even without one.
"""

import errno
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import warnings
from pathlib import Path

import pytest

from textbooks.errors import UserError
from textbooks.sandbox import ISOLATIONS, PROMISES, GiB, KiB, Limits, Sandbox
from textbooks.sandbox.cgroup import create_ceiling

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


LEVELS = [isolation for isolation in ISOLATIONS if isolation != "auto"]


def start(isolation: str, workers: int = 2) -> Sandbox:
    """A sandbox at `isolation`, or the test skipped with the reason it cannot start here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the weaker levels warn; here that is the point
            return Sandbox(workers=workers, limits=LIMITS, isolation=isolation)
    except UserError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module", params=LEVELS)
def isolation(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def sandbox(isolation, ceiling_for_this_test_run):
    with start(isolation) as box:
        yield box


def require(sandbox: Sandbox, *promises: str) -> None:
    missing = set(promises) - PROMISES[sandbox.isolation_level]
    if missing:
        pytest.skip(f"{sandbox.isolation_level} does not promise {', '.join(sorted(missing))}")


@pytest.fixture(scope="module")
def host_canary():
    """A process of ours outside the sandbox that kill(-1) and friends must not reach."""
    canary = subprocess.Popen(["sleep", marker()])
    yield canary
    canary.kill()
    canary.wait()


@pytest.fixture(autouse=True)
def sandbox_and_host_survive(request, host_canary):
    yield
    assert host_canary.poll() is None, "a program killed a process outside the sandbox"
    if "sandbox" in request.fixturenames:
        sandbox = request.getfixturevalue("sandbox")
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


WRITE_ATTEMPTS = """
import os, shutil
attempts = [
    lambda: open("{outside}/sentinel.txt", "w").write("changed"),
    lambda: open("{outside}/sentinel.txt", "a").write("appended"),
    lambda: os.remove("{outside}/sentinel.txt"),
    lambda: os.rename("{outside}/sentinel.txt", "{outside}/moved.txt"),
    lambda: os.chmod("{outside}/sentinel.txt", 0o777),
    lambda: open("{outside}/new.txt", "w").write("new"),
    lambda: shutil.rmtree("{outside}"),
]
for number, attempt in enumerate(attempts):
    try:
        attempt()
        print("succeeded:", number)
    except OSError:
        pass
"""


@pytest.fixture
def outside_directories():
    """Two directories outside the sandbox, each with a sentinel: one as the worker's user keeps
    its files (0755, 0644), one open to everyone (0777, 0666) where only a read-only view helps."""
    made = {}
    for name, (directory_mode, file_mode) in {"own": (0o755, 0o644), "open": (0o777, 0o666)}.items():
        directory = Path(tempfile.mkdtemp(dir="/var/tmp", prefix=f"sandbox-{name}-"))
        (directory / "sentinel.txt").write_text("original")
        os.chmod(directory / "sentinel.txt", file_mode)
        os.chmod(directory, directory_mode)
        made[name] = directory
    yield made
    for directory in made.values():
        shutil.rmtree(directory)


def assert_untouched(directory: Path, file_mode: int) -> None:
    assert [p.name for p in directory.iterdir()] == ["sentinel.txt"]
    assert (directory / "sentinel.txt").read_text() == "original"
    assert (directory / "sentinel.txt").stat().st_mode & 0o777 == file_mode


def test_files_of_the_workers_user_outside_are_neither_overwritten_nor_deleted(sandbox, outside_directories):
    if not PROMISES[sandbox.isolation_level] & {"read-only", "other-uid"}:
        pytest.skip(f"{sandbox.isolation_level}: programs run as the worker's user and may write its files")
    outcome = sandbox.run(program(WRITE_ATTEMPTS, outside=outside_directories["own"]))
    assert (outcome.status, outcome.stdout) == ("passed", "")
    assert_untouched(outside_directories["own"], 0o644)


def test_nothing_outside_is_writable_even_where_permissions_allow_it(sandbox, outside_directories):
    require(sandbox, "read-only")
    outcome = sandbox.run(program(WRITE_ATTEMPTS, outside=outside_directories["open"]))
    assert (outcome.status, outcome.stdout) == ("passed", "")
    assert_untouched(outside_directories["open"], 0o666)
    # The sandbox's own /tmp may take the file (it is private): only the host's must not change.
    escapes = [Path("/tmp") / f"sandbox-escape-{marker()}", Path("/etc/sandbox-escape"),
               Path("/var/tmp/sandbox-escape"), Path("/root/sandbox-escape"), Path("/run/sandbox-escape")]
    attack = "\n".join(f"try:\n    open('{path}', 'w').write('escaped')\nexcept OSError:\n    pass" for path in escapes)
    assert sandbox.run(attack).status == "passed"
    assert [path for path in escapes if os.path.exists(path)] == []  # (False where we may not look)


SUBMOUNT_ATTEMPTS = """
import os
name = "sandbox-escape-{mark}"
for directory in ["{submount}", "/dev/shm", "/sys/fs/cgroup", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory"]:
    try:
        open(os.path.join(directory, name), "w").write("escaped")
    except OSError:
        pass
    try:
        os.mkdir(os.path.join(directory, name + ".d"))  # in cgroupfs: a new cgroup
    except OSError:
        pass
"""


def test_writes_to_submounts_do_not_reach_the_host(sandbox, isolation):
    """The read-only view covers the mounts below / too: cgroupfs (writable by root), the host's
    /dev/shm (open to everyone), and a world-writable tmpfs mounted for the test where we may."""
    require(sandbox, "read-only", "private-shm")
    mark = marker()
    submount = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="sandbox-submount-"))
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=1777", "tmpfs", str(submount)], check=False
    ).returncode == 0
    try:
        os.chmod(submount, 0o1777)
        with start(isolation, workers=1) as fresh:  # it sees the new mount
            outcome = fresh.run(program(SUBMOUNT_ATTEMPTS, mark=mark, submount=submount))
        assert outcome.status == "passed", outcome
        places = [submount, Path("/dev/shm"), *Path("/sys/fs/cgroup").glob("*")]
        left = [p for d in places for p in (d / f"sandbox-escape-{mark}", d / f"sandbox-escape-{mark}.d") if p.exists()]
        assert left == []
    finally:
        if mounted:
            subprocess.run(["umount", str(submount)], check=True)
        shutil.rmtree(submount)


SYSTEM_V_KEY = 0x7E57_0000 + secrets.randbelow(0xFFFF)


def test_shared_memory_is_not_left_behind(sandbox):
    """Neither for the host nor for the next program: POSIX shared memory and files in /dev/shm,
    and System V segments, semaphores and queues (which outlive their creator)."""
    require(sandbox, "private-shm")
    mark = marker().replace(".", "-")
    leave = program(
        """
        import ctypes
        from multiprocessing import shared_memory
        block = shared_memory.SharedMemory(name="sandbox-{mark}", create=True, size=4096)
        block.buf[:2] = b"hi"
        block.close()  # closed, never unlinked
        open("/dev/shm/sandbox-file-{mark}", "w").write("left")
        libc = ctypes.CDLL(None, use_errno=True)
        IPC_CREAT = 0o1000
        made = [libc.shmget({key}, 4096, IPC_CREAT | 0o666), libc.semget({key}, 1, IPC_CREAT | 0o666),
                libc.msgget({key}, IPC_CREAT | 0o666)]
        assert -1 not in made, made
        """,
        mark=mark,
        key=SYSTEM_V_KEY,
    )
    assert sandbox.run(leave).status == "passed"
    assert not {f"sandbox-{mark}", f"sandbox-file-{mark}"} & set(os.listdir("/dev/shm"))
    look = program(
        """
        import os
        assert not [n for n in os.listdir("/dev/shm") if "{mark}" in n], os.listdir("/dev/shm")
        for kind in ("shm", "sem", "msg"):
            keys = [int(row.split()[0]) for row in open("/proc/sysvipc/" + kind).read().splitlines()[1:]]
            assert {key} not in keys, kind
        """,
        mark=mark,
        key=SYSTEM_V_KEY,
    )
    for path in ("/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg"):  # the host's
        assert str(SYSTEM_V_KEY) not in {row.split()[0] for row in Path(path).read_text().splitlines()[1:]}
    outcomes = [sandbox.run(look) for _ in range(sandbox.workers)]  # idle workers take turns: each one
    assert [o.status for o in outcomes] == ["passed"] * sandbox.workers, outcomes


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
    require(sandbox, "own-pids")  # elsewhere kill(-1) reaches the test run or other sandboxes
    outcome = sandbox.run(f"import os, signal, subprocess\ntry:\n    {attack}\nexcept OSError:\n    pass")
    # The program may kill itself (`kill -9 -1` from a child reaches its parent), but with
    # namespaces the worker (PID 1 there, and another uid) cannot be signalled at all.
    assert outcome.status in ("passed", "crashed"), outcome
    assert outcome.error_type != "WorkerDied"


def test_a_program_cannot_trace_its_worker(sandbox):
    require(sandbox, "sealed-worker")
    # Attached, a program could make the worker report any verdict, for itself and those after it.
    attach = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "PTRACE_ATTACH = 16\n"
        "assert libc.ptrace(PTRACE_ATTACH, os.getppid(), 0, 0) == -1, 'attached to the worker'\n"
    )
    outcome = sandbox.run(attach)
    assert outcome.status == "passed", outcome


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
    require(sandbox, "no-network")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        attack = (
            f"import socket\nwith socket.create_connection(('127.0.0.1', {port}), timeout=2) as s:\n"
            "    s.sendall(b'hi')"
        )
        outcome = sandbox.run(attack)
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()
    # Refused (bwrap brings up a loopback of its own) and unreachable both mean nothing got out.
    refused = (outcome.status, outcome.error_type) == ("failed", "ConnectionRefusedError")
    unreachable = (outcome.status, outcome.error_type) == ("failed", "OSError") and (
        os.strerror(errno.ENETUNREACH) in outcome.message)
    assert refused or unreachable, outcome


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
