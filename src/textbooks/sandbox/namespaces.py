"""Start a command inside namespaces of its own with bubblewrap's view of the file system, without
bubblewrap: the "namespaces" isolation level of `textbooks.sandbox`.

Run as `python -I namespaces.py SETUP_JSON COMMAND...`; like the worker it imports nothing
from `textbooks` (nor anything lazily: between the two root switches there are no files to import).
Plain system calls through ctypes rather than util-linux's commands: its `mount` makes a recursive
read-only bind only from 2.39 (Debian 12 ships 2.38), and chaining `unshare`, `mount`, `pivot_root`
and `setpriv` through a shell would spread the steps and their errors over several processes.
What bubblewrap does, step by step:

 1. unshare the mount, PID, network, IPC, UTS and cgroup namespaces, and (unless we are root)
    a user namespace where our uid is mapped to root;
 2. fork: the child is PID 1 of the new PID namespace and dies with us; we pass on its status;
 3. the child builds the new root under a private tmpfs: the old root bound recursively and every
    mount in it remounted read-only; fresh tmpfs on /dev (a few device nodes bound in), /dev/shm
    and /tmp (size-capped), /run and the hidden directories (the interpreter bound back, then
    read-only too); a fresh /proc; then it switches to that root and lets go of the old one;
 4. keeps only the capabilities the worker needs (none in a user namespace) and execs COMMAND.

SETUP_JSON: {"size_bytes": int (each of /tmp and /dev/shm), "hidden": [dir, ...],
"leading": [dir, ...] (made 0755 on the hidden tmpfs, leading to what is bound back),
"bound": [dir, ...] (bound back read-only), "keep_capabilities": [number, ...] (as root)}.
"""

import ctypes
import errno
import fcntl
import json
import os
import platform
import re
import signal
import socket
import struct
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)

# <sched.h>, <sys/mount.h>, <linux/prctl.h>, <linux/capability.h>
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 1, 24, 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
# statvfs reports the flags a remount must repeat: in a user namespace the kernel refuses to drop
# any of them (they are locked), and elsewhere dropping them would loosen the mount.
KEPT_FLAGS = {
    os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV, os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME, os.ST_NODIRATIME: MS_NODIRATIME, os.ST_RELATIME: MS_RELATIME,
}
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
BASE, NEW, OLD = "/tmp", "/newroot", "/oldroot"  # BASE: where our private tmpfs starts out
SIOCSIFFLAGS, IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x8914, 0x1, 0x8, 0x40


class SetupError(Exception):
    pass


def main() -> None:
    setup, command = json.loads(sys.argv[1]), sys.argv[2:]
    try:
        in_user_namespace = os.geteuid() != 0
        enter_namespaces(in_user_namespace)
    except SetupError as error:
        fail(error)
    # Opened before the fork: the child's pivot_root moves our root too (one mount namespace).
    devnull = os.open(os.devnull, os.O_RDWR)
    child = os.fork()
    if child == 0:
        try:
            LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            build_root(setup)
            bring_up_loopback()
            keep_only([] if in_user_namespace else setup["keep_capabilities"])
            os.execv(command[0], command)
        except (SetupError, OSError) as error:
            fail(error)
    # The worker talks to the host over fds 0 and 1; holding them open here would hide its end.
    for fd in (0, 1):
        os.dup2(devnull, fd)
    status = os.waitpid(child, 0)[1]
    os._exit(os.waitstatus_to_exitcode(status) % 256 if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def fail(error: Exception) -> None:
    print(f"namespaces: {error}", file=sys.stderr, flush=True)
    os._exit(1)


def enter_namespaces(in_user_namespace: bool) -> None:
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP
    call("unshare", LIBC.unshare(flags | (CLONE_NEWUSER if in_user_namespace else 0)))
    if in_user_namespace:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            try:
                with open(f"/proc/self/{name}", "w") as file:
                    file.write(text)
            except OSError as error:
                raise SetupError(f"writing /proc/self/{name}: {error.strerror}") from error


def build_root(setup: dict) -> None:
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount propagates back to the host
    mount("tmpfs", BASE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    os.mkdir(BASE + NEW, 0o755)
    os.mkdir(BASE + OLD, 0o755)
    pivot_root(BASE, BASE + OLD)
    os.chdir("/")
    mount(OLD, NEW, None, MS_BIND | MS_REC)
    covered = ["/dev", "/proc", "/tmp", "/run", *setup["hidden"]]  # fresh mounts go on these
    make_read_only_recursively(NEW, skip=[NEW + d for d in covered])
    size = setup["size_bytes"]
    mount("tmpfs", NEW + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755")
    for name in DEVICES:
        open(f"{NEW}/dev/{name}", "w").close()
        mount(f"{OLD}/dev/{name}", f"{NEW}/dev/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{NEW}/dev/{name}")
    os.mkdir(NEW + "/dev/shm")
    mount("tmpfs", NEW + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
    mount("tmpfs", NEW + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0755,size={size}")
    for directory in ["/run", *setup["hidden"]]:
        mount("tmpfs", NEW + directory, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    for directory in setup["leading"]:
        os.mkdir(NEW + directory, 0o755)
    for path in setup["bound"]:
        os.makedirs(NEW + path, 0o755, exist_ok=True)
        mount(OLD + path, NEW + path, None, MS_BIND | MS_REC)
        make_read_only_recursively(NEW + path)
    for directory in ["/dev", "/run", *setup["hidden"]]:
        remount_read_only(NEW + directory)
    mount("proc", NEW + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    call("umount " + OLD, LIBC.umount2(OLD.encode(), MNT_DETACH))
    # Stack NEW over the base tmpfs, then drop the tmpfs: nothing of the old root stays reachable.
    os.chdir(NEW)
    pivot_root(".", ".")
    call("umount the base", LIBC.umount2(b".", MNT_DETACH))
    os.chdir("/")


def make_read_only_recursively(top: str, skip: list[str] = ()) -> None:
    """Remount `top` and every mount below it read-only (what bwrap does for --ro-bind)."""
    for target in mount_points():
        if (target == top or target.startswith(top + "/")) and not under(target, skip):
            remount_read_only(target)


def remount_read_only(target: str) -> None:
    flags = os.statvfs(target).f_flag
    kept = sum(ms for st, ms in KEPT_FLAGS.items() if flags & st)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def mount_points() -> list[str]:
    with open(OLD + "/proc/self/mountinfo") as mountinfo:
        # Field 5 is the mount point, with space, tab, newline and backslash written as \ooo.
        return [unescape(line.split()[4]) for line in mountinfo]


def unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda code: chr(int(code[1], 8)), path)


def under(path: str, directories: list[str]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in directories)


def pivot_root(new_root: str, put_old: str) -> None:
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise SetupError(f"pivot_root: unknown system call number on {platform.machine()}")
    call(f"pivot_root {new_root}", LIBC.syscall(number, new_root.encode(), put_old.encode()))


def bring_up_loopback() -> None:
    """As bubblewrap does: programs may serve and reach their own 127.0.0.1, nothing else."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING))


def keep_only(capabilities: list[int]) -> None:
    """Shrink the bounding set to `capabilities` and clear the inheritable and ambient sets, so
    that COMMAND (exec'd as root of its namespace) starts with exactly these and nothing more."""
    with open("/proc/sys/kernel/cap_last_cap") as last:
        for number in range(int(last.read()) + 1):
            if number not in capabilities:
                call(f"drop capability {number}", LIBC.prctl(PR_CAPBSET_DROP, number, 0, 0, 0))
    LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two of {effective, permitted, inheritable}
    call("capget", LIBC.capget(header, data))
    data[2] = data[5] = 0
    call("capset", LIBC.capset(header, data))


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    call(f"mount {target}", LIBC.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)))


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode(errors="surrogateescape")


def call(what: str, result: int) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(number)} ({errno.errorcode.get(number, number)})")


if __name__ == "__main__":
    main()
