"""A memory and process-count ceiling for one sandbox worker, from a cgroup where we may make one.

Resource limits are per process (RLIMIT_AS) or per uid (RLIMIT_NPROC), so a fork bomb whose
children each take a full address space could still exhaust the machine; a cgroup caps the whole
worker tree. Only root can usually create one; without it the sandbox runs with rlimits alone.
Handles cgroup v1 (separate `memory` and `pids` hierarchies) and v2 (one unified hierarchy). The
new cgroup nests inside our own, so limits already set on us (a CI job's, a test's) still hold.
"""

import itertools
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_serial = itertools.count()


@dataclass(frozen=True)
class Ceiling:
    directories: tuple[Path, ...]  # one per v1 hierarchy (memory, pids), or the one v2 cgroup
    description: str

    def wrap(self, argv: list[str]) -> list[str]:
        """Prefix `argv` so it joins the cgroup before it starts anything (no race with forks)."""
        join = " && ".join(f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))}" for d in self.directories)
        return ["/bin/sh", "-c", f'{join} && exec "$@"', "sandbox-ceiling", *argv]

    def add(self, pid: int) -> None:
        """Move a running process (all its threads) in; its later children are born inside."""
        for directory in self.directories:
            (directory / "cgroup.procs").write_text(str(pid))

    def remove(self, wait_s: float = 2.0) -> None:
        """Remove the cgroup once its processes are gone (killed ones take a moment to exit)."""
        deadline = time.monotonic() + wait_s
        while any(_members(d) for d in self.directories) and time.monotonic() < deadline:
            time.sleep(0.01)
        for directory in self.directories:
            try:
                directory.rmdir()
            except OSError:
                pass  # already gone, or still busy: a leftover cgroup costs little, so we move on


def create_ceiling(memory_bytes: int, max_pids: int) -> Ceiling | None:
    """A fresh cgroup with the two limits, or None where we cannot make one."""
    name = f"textbooks-sandbox-{os.getpid()}-{next(_serial)}"
    try:
        layout, description = _layout(name, memory_bytes, max_pids)
    except OSError:
        return None
    made = []
    try:
        for directory, settings in layout.items():
            _remove_stale_siblings(directory)
            directory.mkdir()
            made.append(directory)
            for setting, value in settings.items():
                (directory / setting).write_text(str(value))
    except OSError:
        Ceiling(tuple(made), description).remove()
        return None
    return Ceiling(tuple(made), description)


def _layout(name: str, memory_bytes: int, max_pids: int) -> tuple[dict[Path, dict[str, int]], str]:
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        layout = {_ours("") / name: {"memory.max": memory_bytes, "pids.max": max_pids}}
        description = "cgroup v2 (memory, pids)"
    else:
        layout = {
            _ours("memory") / name: {"memory.limit_in_bytes": memory_bytes},
            _ours("pids") / name: {"pids.max": max_pids},
        }
        description = "cgroup v1 (memory, pids)"
    return layout, description


def _ours(controller: str) -> Path:
    """Our own cgroup's directory in the hierarchy of `controller` ("" for the v2 hierarchy)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return (CGROUP_ROOT / controller / path.lstrip("/")).resolve()
    raise OSError(f"no {controller or 'v2'} cgroup in /proc/self/cgroup")


def _remove_stale_siblings(directory: Path) -> None:
    """Remove the empty cgroups left by sandboxes whose process was killed before it could."""
    for sibling in directory.parent.glob("textbooks-sandbox-*-*"):
        owner = sibling.name.split("-")[2]
        if not owner.isdigit():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            try:
                sibling.rmdir()
            except OSError:
                pass  # not empty (yet): the next sandbox tries again
        except PermissionError:
            pass  # alive, someone else's


def _members(directory: Path) -> bool:
    try:
        return bool((directory / "cgroup.procs").read_text().strip())
    except OSError:
        return False
