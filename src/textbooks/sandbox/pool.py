"""Run untrusted, model-written Python programs: isolated, limited, and fast.

    with Sandbox(workers=2) as sandbox:
        outcome = sandbox.run("assert 1 + 1 == 2")            # Outcome(status="passed", ...)
        for key, outcome in sandbox.run_many([("a", prog_a), ("b", prog_b, 3.0)]):
            ...

Each `Sandbox` keeps a pool of warm workers (`worker.py`), each one long-lived Python
process inside one of these isolation levels:

  "bwrap+uid"    bubblewrap: own PID, network, IPC and UTS namespaces; the file system read-only
                 (submounts too) except a private size-capped /tmp and /dev/shm; /root, /home,
                 $HOME and /run hidden (the interpreter bound back); programs run as uid 65534
                 without new privileges, so they cannot signal the worker.
  "bwrap"        the same in an unprivileged user namespace; programs keep the worker's uid (as
                 PID 1 of the namespace the worker still ignores their signals).
  "namespaces+uid", "namespaces"
                 the same view and namespaces built without bubblewrap, by `namespaces.py`
                 (system calls through ctypes): as root, or in an unprivileged user namespace.
  "unshare"      util-linux `unshare`: own PID (fresh /proc), network, IPC and UTS namespaces; no
                 read-only view: programs can write what the worker's uid can ("+uid" where they
                 can run as uid 65534, i.e. root and an interpreter that uid can read).
  "rlimits-only" no namespaces: resource limits, a new session, and killing of the program's tree
                 through a child subreaper; a hostile program can reach the network and the host.

`auto` runs model-written code only at a level that guarantees nothing outside the working
directory is writable, no network and no host process reachable (bwrap, then namespaces); where
neither starts it refuses (`IsolationUnavailable`) unless the caller passes `unsafe_no_isolation`,
which `Sandbox.isolation` then records. "unshare" and "rlimits" run only when asked for by name.
`PROMISES` says what each level guarantees; the hostile tests check exactly that.
Set TEXTBOOKS_SANDBOX_DISABLE=bwrap (comma-separated choices) to test a machine without one.

Every program runs in a child forked from a worker (see worker.py for what the child gets),
never in the caller's process; the worker kills the program's whole tree after each run.
`workers` programs run at once, not counting those past half of their wall-clock limit: beside
each of those a spare worker (one per worker, started on first use) may run the next program, so
that an endless loop holds its worker until its timeout but a core only for half of it. A
program that is still correct at any pace is unaffected; one that needs more than three quarters
of its limit alone may time out, as it may on any busy machine (see `LONG_RUNNING_SHARE`). Where
cgroups can be made (root), each worker tree also gets a memory and a process-count ceiling.
A worker that dies or hangs is replaced and its program reported "crashed" (or "timeout").
"""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import signal
import site
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from textbooks.errors import UserError
from textbooks.sandbox.cgroup import Ceiling, create_ceiling

KiB, MiB, GiB = 1024, 1024**2, 1024**3

Status = Literal["passed", "failed", "timeout", "crashed"]
ISOLATIONS = ("auto", "bwrap", "namespaces", "unshare", "rlimits")
GUARANTEED = ("bwrap", "namespaces")  # what `auto` tries, strongest first
DISABLE_VARIABLE = "TEXTBOOKS_SANDBOX_DISABLE"
# What each level guarantees a hostile program cannot do:
#   read-only      write anything outside its working directory, /tmp and /dev/shm (all private)
#   other-uid      run as the worker's user (it runs as uid 65534, without new privileges)
#   no-network     reach the network or the host's loopback
#   own-pids       see or signal any process outside its sandbox
#   private-shm    leave shared memory (/dev/shm, System V) behind for the host or the next program
#   sealed-worker  take over its worker (ptrace) and forge verdicts
_FULL = frozenset({"read-only", "no-network", "own-pids", "private-shm", "sealed-worker"})
PROMISES = {
    "bwrap+uid": _FULL | {"other-uid"},
    "bwrap": _FULL,
    "namespaces+uid": _FULL | {"other-uid"},
    "namespaces": _FULL,
    "unshare+uid": frozenset({"other-uid", "no-network", "own-pids", "sealed-worker"}),
    "unshare": frozenset({"no-network", "own-pids"}),  # programs keep root's powers in the namespace
    "rlimits+uid": frozenset({"other-uid", "sealed-worker"}),
    "rlimits-only": frozenset(),
}
SANDBOX_UID = SANDBOX_GID = 65534  # "nobody"
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
NAMESPACES_SCRIPT = Path(__file__).with_name("namespaces.py")
# The worker's own powers as root: make and clean the working directories, switch a child's uid,
# kill its tree. The child loses them all when it switches to uid 65534.
WORKER_CAPABILITIES = ("SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER")
CAPABILITY_NUMBERS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "KILL": 5, "SETGID": 6, "SETUID": 7}
START_TIMEOUT_S = 30.0
# The worker enforces the wall clock itself; the host only steps in when the worker stops
# answering, after this much more (killing and reaping a tree takes milliseconds, but the
# machine may be busy).
HOST_GRACE_S = 5.0
# Past this share of its wall-clock limit a program no longer counts against `workers`, and a
# spare worker may start the next one beside it. Sharing the cores from then on, a program that
# alone needs at most (1 + share) / 2 of its limit still finishes within it.
LONG_RUNNING_SHARE = 0.5
STOP_GRACE_S = 1.0  # an idle worker whose pipe closes exits in milliseconds
PROGRAM_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
}
_HEADER = struct.Struct(">I")


@dataclass(frozen=True)
class Limits:
    """Per-program limits; the defaults suit HumanEval and MBPP."""

    timeout_s: float = 10.0  # wall clock
    cpu_s: float | None = None  # None: the wall clock plus one second (threads can outpace it)
    memory_bytes: int = 4 * GiB  # RLIMIT_AS of each process
    file_size_bytes: int = 16 * MiB  # RLIMIT_FSIZE: largest file a program may write
    max_processes: int = 64  # RLIMIT_NPROC of the sandbox uid, and the cgroup's pids.max
    output_bytes: int = 64 * KiB  # stdout and stderr are each cut here (the rest is drained)
    workdir_bytes: int = 256 * MiB  # bwrap: size of the private /tmp (working directories), /dev/shm

    def cpu_seconds(self, timeout_s: float) -> int:
        return math.ceil(self.cpu_s if self.cpu_s is not None else timeout_s + 1)


@dataclass(frozen=True)
class Outcome:
    """What became of one program.

    status: "passed" ran to the end (exit status 0); "failed" raised, or exited non-zero;
    "timeout" exceeded its wall clock or CPU time; "crashed" killed by a signal, or its worker
    died. error_type: the exception's class name ("AssertionError", "SyntaxError",
    "MemoryError", ...), "SystemExit", "Exit N" (os._exit), "Signal N", "WorkerDied"; None when
    passed or timed out. message: short (1000 characters at most). stdout, stderr: the
    program's output, each cut at `Limits.output_bytes` (stderr holds its traceback).
    cpu_time_s: the CPU time (user + system) of the program and the children it waited for; None
    when it was killed at its wall clock, or its worker died.
    """

    status: Status
    error_type: str | None
    message: str
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    cpu_time_s: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class Sandbox:
    """A pool of warm sandboxed workers; use as a context manager (or call `close`).

    workers: programs run at once (default: the CPU count), not counting those past
    `LONG_RUNNING_SHARE` of their time limit (a spare worker runs one beside each of those). isolation: "auto" picks the strongest
    guaranteed level that starts here (see `levels_to_try`); "bwrap", "namespaces", "unshare" or
    "rlimits" demand one. `isolation_level` says what runs (a key of `PROMISES`); `isolation` is
    what results should record (the level, marked when only `unsafe_no_isolation` let it run);
    `ceiling` names the cgroup limits, or None.
    Thread-safe: `run` may be called from several threads at once.
    """

    def __init__(self, workers: int | None = None, limits: Limits = Limits(), isolation: str = "auto",
                 unsafe_no_isolation: bool = False):
        if isolation not in ISOLATIONS:
            raise UserError(f"isolation={isolation!r}: unknown; expected one of {', '.join(ISOLATIONS)}")
        if workers is not None and workers < 1:
            raise UserError(f"workers={workers}: expected at least 1 (or None for the CPU count)")
        self.limits = limits
        self._scratch = tempfile.mkdtemp(prefix="textbooks-sandbox-")
        os.chmod(self._scratch, 0o711)  # the sandbox uid may enter its own working directories
        self._slots: list[_WorkerSlot] = []  # the workers, then the spares (started on first use)
        self._finalizer = weakref.finalize(self, _close_slots, self._slots, self._scratch)
        try:
            plan = self._start_first_worker(isolation, unsafe_no_isolation)
            self._workers = workers or os.cpu_count() or 1
            more = [_WorkerSlot(plan, limits) for _ in range(self._workers - 1)]
            self._slots.extend(more)
            for slot in more:  # all start together; each takes about 0.15 s
                slot.launch()
            for slot in more:
                slot.await_ready()
        except BaseException:
            self.close()
            raise
        if plan.workdir_base != self._scratch:
            os.rmdir(self._scratch)  # bwrap keeps the working directories in its private /tmp
        self.isolation_level = plan.level
        guaranteed = PROMISES[plan.level] >= _FULL or isolation != "auto"
        self.isolation = plan.level if guaranteed else f"{plan.level} (unsafe-no-isolation)"
        self.ceiling = self._slots[0].ceiling_description
        self._slots.extend(_WorkerSlot(plan, limits) for _ in range(self._workers))  # the spares
        self._idle = list(self._slots)
        self._young = 0  # programs running that count against `workers`
        self._turns = threading.Condition()

    @property
    def workers(self) -> int:
        return self._workers

    def run(self, program: str, *, timeout_s: float | None = None) -> Outcome:
        """Run one program (its source text) to completion in a fresh sandboxed child."""
        if not self._finalizer.alive:
            raise RuntimeError("this Sandbox is closed")
        timeout_s = timeout_s if timeout_s is not None else self.limits.timeout_s
        with self._turns:
            self._turns.wait_for(lambda: self._young < self._workers and self._idle)
            self._young += 1
            # The first idle one in `_slots` order: a spare only while a worker is busy.
            slot = min(self._idle, key=self._slots.index)
            self._idle.remove(slot)
        counted = True

        def long_running() -> None:
            nonlocal counted
            with self._turns:
                counted = False
                self._young -= 1
                self._turns.notify()

        try:
            return slot.run(program, timeout_s, long_running)
        finally:
            with self._turns:
                self._idle.append(slot)
                self._young -= counted
                self._turns.notify()

    def run_many(
        self,
        programs: Iterable[tuple[Hashable, str] | tuple[Hashable, str, float | None]],
        *,
        timeout_s: float | None = None,
    ) -> Iterator[tuple[Hashable, Outcome]]:
        """Run (key, program) or (key, program, timeout_s) items in parallel over the workers.

        Yields (key, outcome) in completion order, reading `programs` lazily (at most twice the
        workers and spares are queued at a time).
        """

        def run_keyed(key: Hashable, program: str, timeout: float | None) -> tuple[Hashable, Outcome]:
            return key, self.run(program, timeout_s=timeout if timeout is not None else timeout_s)

        with ThreadPoolExecutor(len(self._slots), thread_name_prefix="sandbox") as pool:
            pending = set()
            for key, program, *timeout in programs:
                pending.add(pool.submit(run_keyed, key, program, *timeout or [None]))
                if len(pending) >= 2 * len(self._slots):
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (future.result() for future in done)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _start_first_worker(self, isolation: str, unsafe_no_isolation: bool) -> _Plan:
        failures = []
        for namespaces in levels_to_try(isolation, unsafe_no_isolation):
            plan = _plan(namespaces, self.limits, self._scratch)
            if isinstance(plan, str):
                failures.append(f"{namespaces}: {plan}")
                continue
            slot = _WorkerSlot(plan, self.limits)
            try:
                slot.start()
            except SandboxError as error:
                slot.stop()
                failures.append(f"{namespaces}: {error}")
                continue
            self._slots.append(slot)
            if not PROMISES[plan.level] >= _FULL:
                why = f" ({'; '.join(failures)})" if failures else ""
                warnings.warn(
                    f"sandbox isolation is {plan.level!r}: model-written programs may change files outside "
                    f"their working directory or leave shared memory behind{why}",
                    stacklevel=3,
                )
            return plan
        if isolation == "auto":
            raise IsolationUnavailable(
                f"no isolating sandbox starts here ({'; '.join(failures)}): install bubblewrap "
                "(apt-get install -y bubblewrap), run as root, or allow unprivileged user namespaces; or run "
                "model-written code with less isolation by passing --unsafe-no-isolation (config key unsafe_no_isolation)"
            )
        raise UserError(f"isolation={isolation!r}: no sandbox starts here ({'; '.join(failures)})")


def levels_to_try(isolation: str, unsafe_no_isolation: bool) -> tuple[str, ...]:
    """The one place that decides how model-written code may run: `auto` tries only the levels
    that guarantee isolation, then (only with `unsafe_no_isolation`) the weaker ones; a level
    asked for by name is tried alone."""
    if isolation != "auto":
        return (isolation,)
    return GUARANTEED + (("unshare", "rlimits") if unsafe_no_isolation else ())


def check_isolation(unsafe_no_isolation: bool = False) -> str:
    """What `Sandbox()` would record as its isolation here (raises `IsolationUnavailable` where it
    would refuse): lets a long job refuse at its start, not hours later at its first program."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Sandbox that runs the programs warns later
        with Sandbox(workers=1, unsafe_no_isolation=unsafe_no_isolation) as sandbox:
            return sandbox.isolation


class IsolationUnavailable(UserError):
    """No level that guarantees isolation starts here, and the user did not waive it."""


@dataclass(frozen=True)
class _Plan:
    """How to start a worker at one isolation level."""

    level: str
    prefix: tuple[str, ...]  # the isolation command put before `python -I worker.py`
    uid: int | None  # the uid programs run as, None to keep the worker's
    workdir_base: str  # where the worker makes each program's working directory
    private_dirs: tuple[str, ...] = ()  # the sandbox's own shared directories, emptied after each program


def _plan(namespaces: str, limits: Limits, scratch: str) -> _Plan | str:
    """How to start a worker at `namespaces`, or why it cannot start here."""
    if namespaces in os.environ.get(DISABLE_VARIABLE, "").split(","):
        return f"disabled by {DISABLE_VARIABLE}"
    root = os.geteuid() == 0
    if namespaces == "bwrap":
        if shutil.which("bwrap") is None:
            return "bubblewrap is not installed"
        # As root, bwrap makes no user namespace, so the worker can switch a child to 65534.
        prefix = tuple(_bwrap_prefix(root, limits))
        return _Plan("bwrap+uid" if root else "bwrap", prefix, SANDBOX_UID if root else None, "/tmp", ("/dev/shm",))
    if namespaces == "namespaces":
        prefix = tuple(_namespaces_prefix(limits))
        uid = SANDBOX_UID if root else None
        return _Plan("namespaces+uid" if root else "namespaces", prefix, uid, "/tmp", ("/dev/shm",))
    # Without a mount namespace of our own the interpreter must be readable by uid 65534 as it is.
    uid = SANDBOX_UID if root and _readable_by_everyone(Path(os.__file__).parent) else None
    suffix = "+uid" if uid is not None else ""
    if namespaces == "unshare":
        if shutil.which("unshare") is None:
            return "util-linux unshare is not installed"
        user = () if root else ("--user", "--map-root-user")
        flags = ("--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--uts")
        return _Plan("unshare" + suffix, ("unshare", *user, *flags), uid, scratch)
    return _Plan("rlimits" + (suffix or "-only"), (), uid, scratch)


def _bwrap_prefix(root: bool, limits: Limits) -> list[str]:
    prefix = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    prefix += ["--size", str(limits.workdir_bytes), "--tmpfs", "/tmp"]
    # multiprocessing's locks live in /dev/shm: a private one, emptied after each program.
    prefix += ["--perms", "1777", "--size", str(limits.workdir_bytes), "--tmpfs", "/dev/shm"]
    prefix += ["--tmpfs", "/run"]  # no daemon sockets (a read-only bind still lets one connect)
    view = _hidden_view()
    for directory in view.hidden:
        prefix += ["--perms", "0755", "--tmpfs", directory]
    for directory in view.leading:
        prefix += ["--perms", "0755", "--dir", directory]
    for path in view.bound:
        prefix += ["--ro-bind", path, path]
    if root:
        namespaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        namespaces += ["--unshare-cgroup-try", "--cap-drop", "ALL"]
        namespaces += [a for c in WORKER_CAPABILITIES for a in ("--cap-add", f"CAP_{c}")]
    else:
        namespaces = ["--unshare-all"]
    return prefix + namespaces + ["--die-with-parent", "--new-session", "--as-pid-1"]


def _namespaces_prefix(limits: Limits) -> list[str]:
    view = _hidden_view()
    setup = {
        "size_bytes": limits.workdir_bytes,
        "hidden": view.hidden,
        "leading": view.leading,
        "bound": view.bound,
        "keep_capabilities": [CAPABILITY_NUMBERS[c] for c in WORKER_CAPABILITIES],
    }
    return [sys.executable, "-I", str(NAMESPACES_SCRIPT), json.dumps(setup)]


@dataclass(frozen=True)
class _HiddenView:
    hidden: list[str]  # directories covered by an empty tmpfs: /root, /home, $HOME
    leading: list[str]  # directories made 0755 on those tmpfs, leading to what is bound back
    bound: list[str]  # the interpreter's directories under them, bound back read-only


def _hidden_view() -> _HiddenView:
    home = os.path.realpath(os.path.expanduser("~"))
    hidden = [d for d in dict.fromkeys(("/root", "/home", home)) if d != "/" and os.path.isdir(d)]
    hidden = [d for d in hidden if not _is_under(d, ["/tmp", "/run"])]  # they have their own tmpfs
    hidden = [d for d in hidden if not _is_under(d, hidden, strictly=True)]
    covered = ["/tmp", "/run", *hidden]
    bound = _interpreter_paths_under(covered)
    # Left to themselves bwrap would make the directories leading to a bind mount 0700 (and we
    # would have none): uid 65534 could not pass.
    leading = {str(a) for p in bound for a in Path(p).parents if _is_under(str(a), covered, strictly=True)}
    return _HiddenView(hidden, sorted(leading), bound)


def _interpreter_paths_under(covered: list[str]) -> list[str]:
    """The interpreter's directories (and the worker's) that a tmpfs covers, to bind back."""
    wanted = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()}
    wanted |= {os.path.dirname(os.path.realpath(sys.executable)), str(WORKER_SCRIPT.parent)}
    real = sorted({os.path.realpath(p) for p in wanted if os.path.isdir(p)})
    under = [p for p in real if _is_under(p, covered)]
    return [p for p in under if not _is_under(p, under, strictly=True)]


def _is_under(path: str, directories: list[str], strictly: bool = False) -> bool:
    return any(path.startswith(d + "/") or (path == d and not strictly) for d in directories)


def _readable_by_everyone(directory: Path) -> bool:
    return all(os.stat(d).st_mode & 0o005 == 0o005 for d in (directory, *directory.parents))


class SandboxError(RuntimeError):
    """A worker could not be started (or restarted): the machine, not the program, is at fault."""


class _WorkerSlot:
    """One worker process, started on demand and replaced when it dies or stops answering."""

    def __init__(self, plan: _Plan, limits: Limits):
        self._plan, self._limits = plan, limits
        self._process: subprocess.Popen | None = None
        self._ceiling: Ceiling | None = None
        self.ceiling_description: str | None = None

    def start(self) -> None:
        self.launch()
        self.await_ready()

    def launch(self) -> None:
        # The tree may hold the program's memory, the worker's own and the /tmp tmpfs.
        memory = self._limits.memory_bytes + self._limits.workdir_bytes + 256 * MiB
        self._ceiling = create_ceiling(memory, self._limits.max_processes + 8)
        self.ceiling_description = self._ceiling.description if self._ceiling else None
        config = {
            "uid": self._plan.uid,
            "gid": SANDBOX_GID if self._plan.uid is not None else None,
            "workdir_base": self._plan.workdir_base,
            "private_dirs": self._plan.private_dirs,
            "env": PROGRAM_ENV,
            "limits": asdict(self._limits),
        }
        argv = [*self._plan.prefix, sys.executable, "-I", str(WORKER_SCRIPT), json.dumps(config)]
        if self._ceiling is not None:
            argv = self._ceiling.wrap(argv)
        self._errors = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            env=PROGRAM_ENV,
            start_new_session=True,
            bufsize=0,
        )

    def await_ready(self) -> None:
        try:
            ready = _receive(self._process, time.monotonic() + START_TIMEOUT_S)
        except EOFError:
            ready = None
        if ready is None:
            self._errors.seek(0)
            reason = self._errors.read().decode(errors="replace").strip()[-500:] or "no answer"
            self.stop()
            raise SandboxError(reason)

    def run(self, program: str, timeout_s: float, long_running=None) -> Outcome:
        """`long_running()` is called once the program has run `LONG_RUNNING_SHARE` of its limit."""
        if self._process is None:
            self.start()
        request = {"program": program, "timeout_s": timeout_s, "cpu_s": self._limits.cpu_seconds(timeout_s)}
        started = time.monotonic()
        try:
            _send(self._process, request)
            if long_running and not _answered(self._process, started + LONG_RUNNING_SHARE * timeout_s):
                long_running()
            reply = _receive(self._process, started + timeout_s + HOST_GRACE_S)
        except (OSError, EOFError):  # the pipe broke: the worker is gone
            self.stop()
            return Outcome("crashed", "WorkerDied", "the worker died; replaced", time.monotonic() - started)
        if reply is None:
            self.stop()
            message = f"the worker did not answer within {timeout_s:g} s; replaced"
            return Outcome("timeout", None, message, time.monotonic() - started)
        return Outcome(**reply)

    def stop(self, graceful: bool = False) -> None:
        """Kill the worker (its isolation takes the namespace down with it); `graceful` first
        closes its pipe and gives it a moment to finish, as an idle worker then exits by itself."""
        if self._process is not None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=STOP_GRACE_S if graceful else 0)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self._process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self._process.wait()
            self._process.stdout.close()
            self._errors.close()
            self._process = None
        if self._ceiling is not None:
            self._ceiling.remove()
            self._ceiling = None


def _close_slots(slots: list[_WorkerSlot], scratch: str) -> None:
    for slot in slots:
        slot.stop(graceful=True)
    shutil.rmtree(scratch, ignore_errors=True)


def _send(process: subprocess.Popen, message: dict) -> None:
    payload = json.dumps(message).encode()
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        data = data[process.stdin.write(data) :]


def _answered(process: subprocess.Popen, deadline: float) -> bool:
    """Whether the worker has started to answer by the deadline (nothing is read)."""
    poller = select.poll()
    poller.register(process.stdout.fileno(), select.POLLIN)
    return bool(poller.poll(max(0, 1000 * (deadline - time.monotonic()))))


def _receive(process: subprocess.Popen, deadline: float) -> dict | None:
    """The worker's next frame; None if the deadline passed; EOFError if the worker is gone."""
    fd = process.stdout.fileno()
    poller = select.poll()  # not select.select: it fails on descriptors past 1023
    poller.register(fd, select.POLLIN)
    data = bytearray()
    size = None
    while size is None or len(data) < _HEADER.size + size:
        if not poller.poll(max(0, 1000 * (deadline - time.monotonic()))):
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise EOFError("the sandbox worker closed its pipe")
        data += chunk
        if size is None and len(data) >= _HEADER.size:
            size = _HEADER.unpack_from(data)[0]
    return json.loads(data[_HEADER.size :])
