"""A warm sandbox worker: runs untrusted Python programs one at a time, each in a forked child.

Started by `textbooks.sandbox` inside the isolation (bubblewrap, unshare, or nothing) as
`python -I worker.py CONFIG_JSON`. It imports nothing from `textbooks`, so it runs from any
interpreter that can read this one file.

Protocol on stdin/stdout: frames of a 4-byte big-endian length and a JSON object.
  worker -> host, once at start: {"ready": true, "pid": ...}
  host -> worker: {"program": str, "timeout_s": float, "cpu_s": int}
  worker -> host: {"status", "error_type", "message", "duration_s", "cpu_time_s", "stdout", "stderr"}

Why a fork per program: a fresh sandboxed interpreter costs about 0.14 s to start; forking this
warm one (with the common stdlib already imported) costs about a millisecond. The child gets a new
session, the resource limits, an unprivileged uid when we can switch, a fresh working directory,
a minimal environment, and then `exec`s the program. Afterwards every process the program left
behind is killed (see `kill_everything_but_us`).
"""

import ctypes
import json
import os
import resource
import selectors
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import types

# Imported once here so a child does not pay for them (and can use them after dropping to a uid
# that may not be able to read the interpreter's files). The usual needs of HumanEval and MBPP.
PRELOADED_MODULES = (
    "abc array bisect calendar cmath collections collections.abc copy dataclasses datetime decimal "
    "enum fractions functools hashlib heapq io itertools json math numbers operator random re "
    "statistics string struct sys textwrap time typing unicodedata"
).split()

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 4, 36, 38  # from <linux/prctl.h>
HEADER = struct.Struct(">I")
MESSAGE_CHARS = 1000
CPU_HARD_LIMIT_GRACE_S = 1  # RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL this much later


def main() -> None:
    config = json.loads(sys.argv[1])
    config["own_namespace"] = os.getpid() == 1
    # The protocol gets private descriptors; fds 0 and 1 point at /dev/null so that nothing printed
    # by accident (by us or by a preloaded module) can corrupt a frame. Our stderr is the host's log.
    requests, replies = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    # As PID 1 of our own namespace the kernel drops signals from inside it that we do not
    # handle, so a program cannot kill us; leave no Python handler that it could trigger instead.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # Where programs keep our uid, a dumpable worker could be ptraced by them (and made to report
    # what they like): not dumpable, only a process with CAP_SYS_PTRACE may attach.
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if not config["own_namespace"]:
        LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for name in PRELOADED_MODULES:
        __import__(name)
    _write_frame(replies, {"ready": True, "pid": os.getpid()})
    while (request := _read_frame(requests)) is not None:
        _write_frame(replies, run_program(request, config))


def run_program(request: dict, config: dict) -> dict:
    workdir = tempfile.mkdtemp(prefix="run-", dir=config["workdir_base"])
    if config["uid"] is not None:
        os.chown(workdir, config["uid"], config["gid"])
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    report_r, report_w = os.pipe()
    started = time.monotonic()
    exit_now = os._exit  # bound before the fork: the program may replace os._exit
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.dup2(report_w, 3)
            os.closerange(4, _max_fd())
            _run_child(request, config, workdir)
        finally:  # whatever the program broke, the child never returns into the worker's loop
            exit_now(1)
    for fd in (out_w, err_w, report_w):
        os.close(fd)
    try:
        outcome = _watch_child(pid, request, config, (out_r, err_r, report_r), started)
    finally:
        kill_everything_but_us(pid, config["own_namespace"])
        for fd in (out_r, err_r, report_r):
            os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)
        for directory in config["private_dirs"]:
            _empty(directory)
        if config["own_namespace"]:
            remove_ipc_objects(config)
    return outcome


def _empty(directory: str) -> None:
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass


IPC_RMID = 0


def remove_ipc_objects(config: dict) -> None:
    """Remove the System V shared memory segments, semaphore sets and message queues the program
    left (they outlive it). In our own IPC namespace every one is the program's; only their
    creator (or CAP_SYS_ADMIN, which we lack) may remove them, so a child of its uid does."""
    left = {kind: _ipc_ids(kind) for kind in ("shm", "sem", "msg")}
    if not any(left.values()):
        return
    pid = os.fork()
    if pid == 0:
        try:
            if config["uid"] is not None:
                os.setgroups([])
                os.setgid(config["gid"])
                os.setuid(config["uid"])
            for number in left["shm"]:
                LIBC.shmctl(number, IPC_RMID, None)
            for number in left["sem"]:
                LIBC.semctl(number, 0, IPC_RMID)
            for number in left["msg"]:
                LIBC.msgctl(number, IPC_RMID, None)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _ipc_ids(kind: str) -> list[int]:
    with open(f"/proc/sysvipc/{kind}") as table:
        return [int(row.split()[1]) for row in table.read().splitlines()[1:]]  # key, id, ...


# Written on the report pipe when the program ran to its end (or raised SystemExit(0)); an exit
# status of 0 without it means os._exit(0) cut the program short.
COMPLETED = b'{"type": "completed"}'


def _run_child(request: dict, config: dict, workdir: str) -> None:
    exit_now, write, dumps = os._exit, os.write, json.dumps  # bound before the program can patch
    try:
        LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # back to normal: our /proc/self files, core limits
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        _set_limits(config["limits"], request["cpu_s"], config["uid"] is not None or config["own_namespace"])
        with open("/proc/self/oom_score_adj", "w") as oom:
            oom.write("1000")  # when the cgroup's memory runs out, the kernel kills the program, not us
        os.chdir(workdir)
        LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid binary can give privileges back
        if config["uid"] is not None:
            os.setgroups([])
            os.setgid(config["gid"])
            os.setuid(config["uid"])
        os.environ.clear()
        os.environ.update(config["env"], HOME=workdir, TMPDIR=workdir)
        tempfile.tempdir = None
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.argv = ["program.py"]
        sys.path[0:0] = [workdir]
        code = compile(request["program"], "program.py", "exec")
        # A fresh __main__ (not ours), so pickle and multiprocessing find the program's names.
        sys.modules["__main__"] = main_module = types.ModuleType("__main__")
        exec(code, main_module.__dict__)
    except SystemExit as stop:
        if stop.code in (None, 0):
            write(3, COMPLETED)
            _flush_and_exit(exit_now, 0)
        write(3, dumps({"type": "SystemExit", "message": str(stop.code)}).encode())
        _flush_and_exit(exit_now, stop.code if isinstance(stop.code, int) else 1)
    except BaseException as error:
        write(3, dumps({"type": type(error).__name__, "message": f"{error}"[:MESSAGE_CHARS]}).encode())
        # Skip our own frame: the traceback starts in the program (or at its SyntaxError).
        traceback.print_exception(type(error), error, error.__traceback__.tb_next)
        _flush_and_exit(exit_now, 1)
    write(3, COMPLETED)
    _flush_and_exit(exit_now, 0)


def _flush_and_exit(exit_now, code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    exit_now(code & 0xFF or (1 if code else 0))


def _set_limits(limits: dict, cpu_s: int, limits_processes: bool) -> None:
    """RLIMIT_NPROC counts every process of the uid (in its user namespace): only meaningful for
    the sandbox uid or inside a namespace of ours, not for a user's own uid on the host. The
    sandbox uid is shared by all workers, so a fork bomb in one may briefly starve forks in
    another; the per-worker cgroup ceiling is the real process cap where there is one."""
    memory = limits["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + CPU_HARD_LIMIT_GRACE_S))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_bytes"],) * 2)
    if limits_processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["max_processes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _watch_child(pid: int, request: dict, config: dict, fds: tuple, started: float) -> dict:
    """Collect the child's capped output until it exits or its wall clock runs out."""
    out_r, err_r, report_r = fds
    cap = config["limits"]["output_bytes"]
    captured = {out_r: bytearray(), err_r: bytearray(), report_r: bytearray()}
    deadline = started + request["timeout_s"]
    pidfd = os.pidfd_open(pid)
    selector = selectors.DefaultSelector()
    for fd in (*captured, pidfd):
        selector.register(fd, selectors.EVENT_READ)
    status = usage = None
    cpu_spent = None  # user + system CPU seconds of the child and the children it waited for
    try:
        while status is None and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                if key.fd == pidfd:
                    _, status, usage = os.wait4(pid, 0)
                elif not _read_capped(key.fd, captured[key.fd], cap):
                    selector.unregister(key.fd)
    finally:
        selector.close()
        os.close(pidfd)
    duration = time.monotonic() - started
    if status is None:
        outcome = _outcome("timeout", None, f"exceeded {request['timeout_s']:g} s wall clock")
    else:
        cpu_spent = usage.ru_utime + usage.ru_stime
        outcome = _verdict(status, bytes(captured[report_r]), request["cpu_s"], cpu_spent)
    # Every writer is gone after this, so the pipes reach end of file.
    kill_everything_but_us(pid, config["own_namespace"])
    for fd in (out_r, err_r):
        while _read_capped(fd, captured[fd], cap):
            pass
    outcome.update(
        duration_s=duration,
        cpu_time_s=cpu_spent,
        stdout=captured[out_r].decode("utf-8", "replace"),
        stderr=captured[err_r].decode("utf-8", "replace"),
    )
    return outcome


def _read_capped(fd: int, buffer: bytearray, cap: int) -> bool:
    """Read what is there; keep at most `cap` bytes and drain the rest. False at end of file."""
    chunk = os.read(fd, 65536)
    buffer += chunk[: max(0, cap - len(buffer))]
    return bool(chunk)


def _verdict(status: int, report: bytes, cpu_s: int, cpu_spent: float) -> dict:
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code == 0 and report == COMPLETED:
            return _outcome("passed", None, "")
        if code == 0:
            # os._exit(0) mid-program: it stopped early, whatever its exit status says.
            return _outcome("failed", "Exit 0", "exited with status 0 before the end of the program")
        try:
            raised = json.loads(report)
            return _outcome("failed", str(raised["type"]), str(raised["message"]))
        except (ValueError, KeyError, TypeError):
            return _outcome("failed", f"Exit {code}", f"exited with status {code}")
    number = os.WTERMSIG(status)
    if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu_spent >= cpu_s):
        return _outcome("timeout", None, f"exceeded {cpu_s} s of CPU time")
    return _outcome("crashed", f"Signal {number}", f"killed by {signal.Signals(number).name}")


def _outcome(status: str, error_type, message: str) -> dict:
    return {"status": status, "error_type": error_type, "message": message[:MESSAGE_CHARS]}


def kill_everything_but_us(child: int, own_namespace: bool) -> None:
    """SIGKILL the program's whole tree, including processes that left its session, and reap it.

    As PID 1 of a PID namespace, kill(-1) reaches every other process in it (all of them are the
    program's). Elsewhere we are a child subreaper: the program's orphans are reparented to us, so
    killing our children until none is left gets them all, however they double-forked.
    """
    while True:
        if own_namespace:
            _kill(-1)
        else:
            _kill(-child)
            for pid in _our_children():
                _kill(-pid)
                _kill(pid)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _kill(target: int) -> None:
    try:
        os.kill(target, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _our_children() -> list[int]:
    # The worker is single-threaded, so its main thread's children are all of its children.
    me = os.getpid()
    with open(f"/proc/{me}/task/{me}/children") as children:
        return [int(pid) for pid in children.read().split()]


def _max_fd() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _read_frame(fd: int) -> dict | None:
    header = _read_exactly(fd, HEADER.size)
    if header is None:
        return None
    return json.loads(_read_exactly(fd, HEADER.unpack(header)[0]))


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _write_frame(fd: int, message: dict) -> None:
    payload = json.dumps(message).encode()
    data = memoryview(HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


if __name__ == "__main__":
    main()
