"""Lock files that say who holds them: one process at a time in a run directory or on a stage output.

    with hold(run_dir / ".lock", f"run directory {run_dir}"):          # a second run stops at once
        ...
    with hold(out.with_name(f".{out.name}.lock"), f"stage {name}", wait=True, on_wait=echo):
        ...                                                             # a second run waits its turn

The lock is a file created exclusively (O_CREAT | O_EXCL, atomic on local filesystems and NFSv3+,
so it works across the Slurm nodes that share a run directory, where `flock` may not) holding
the holder's host, pid, start time and a token. While held, a thread touches its mtime every
`heartbeat_s`: that is the heartbeat. A lock is stale, and is taken over, when its holder is a
dead pid on this host, or when its heartbeat is older than `stale_after_s` (a holder on another
host that died, or a pid reused after a crash). The mtime on a shared filesystem is the file
server's clock, so nodes with skewed clocks still agree within the (generous) timeout.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from textbooks.errors import UserError

HEARTBEAT_S = 15.0
STALE_AFTER_S = 120.0  # eight missed heartbeats
POLL_S = 1.0


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    started: float  # seconds since the epoch
    token: str
    heartbeat_age_s: float

    def __str__(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        return f"pid {self.pid} on {self.host} since {since}"

    def is_stale(self, stale_after_s: float) -> bool:
        if self.heartbeat_age_s > stale_after_s:
            return True
        return self.host == socket.gethostname() and not _pid_alive(self.pid)


def read_holder(path: Path) -> Holder | None:
    """Who holds the lock at `path`; None when there is no lock. A lock whose content is not (yet)
    readable counts as held by an unknown process until its heartbeat goes stale."""
    try:
        age = time.time() - path.stat().st_mtime
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(str(data["host"]), int(data["pid"]), float(data["started"]), str(data["token"]), age)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return Holder("an unknown host", 0, time.time() - age, "", age)


class Lock:
    """A lock file this process holds; `release` removes it (if it is still ours)."""

    def __init__(self, path: Path, token: str, heartbeat_s: float):
        self.path, self.token = path, token
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, args=(heartbeat_s,), daemon=True, name=f"heartbeat {path.name}")
        self._heartbeat.start()

    def _beat(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def release(self) -> None:
        self._stop.set()
        self._heartbeat.join()
        holder = read_holder(self.path)
        if holder is not None and holder.token == self.token:
            self.path.unlink(missing_ok=True)


def try_acquire(path: Path, stale_after_s: float = STALE_AFTER_S, heartbeat_s: float = HEARTBEAT_S) -> Lock | Holder:
    """The lock, or the live holder that has it. A stale lock is taken over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_holder(path)
            if holder is None:
                continue  # released between our open and our read
            if not holder.is_stale(stale_after_s):
                return holder
            _break(path, holder)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), "token": token}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        return Lock(path, token, heartbeat_s)


def _break(path: Path, stale: Holder) -> None:
    """Remove a stale lock, unless what we moved aside turns out to be a fresh one (another process
    broke the stale lock and took it in between): that one is put back."""
    aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    moved = read_holder(aside)
    if moved is not None and moved.token != stale.token:
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
    aside.unlink(missing_ok=True)


@contextmanager
def hold(path: str | Path, what: str, *, wait: bool = False, on_wait: Callable[[str], None] | None = None,
         stale_after_s: float = STALE_AFTER_S, heartbeat_s: float = HEARTBEAT_S, poll_s: float = POLL_S) -> Iterator[Lock]:
    """Hold the lock at `path` for the block. Held by a live process: with `wait`, wait for it
    (`on_wait` is told once, in one line); without, a UserError naming the holder."""
    path = Path(path)
    told = False
    while isinstance(got := try_acquire(path, stale_after_s, heartbeat_s), Holder):
        if not wait:
            raise UserError(f"{what} is in use by {got} (lock file {path}); wait for that run to end, "
                            "or delete the lock file if that process is gone")
        if not told and on_wait is not None:
            on_wait(f"waiting for {what}: in use by {got}")
            told = True
        time.sleep(poll_s)
    try:
        yield got
    finally:
        got.release()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
