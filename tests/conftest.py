"""Shared fixtures: the repository's shared assets and the real `textbooks` command."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_ASSETS = REPO.parent / "shared" / "assets"


@pytest.fixture(scope="session")
def shared_assets() -> Path:
    if not SHARED_ASSETS.is_dir():
        pytest.fail(f"{SHARED_ASSETS} missing: tests read the benchmark and tokenizer files from ../shared/assets")
    return SHARED_ASSETS


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed `textbooks` command as a user would, in a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "textbooks", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cached_answers(path: Path) -> int:
    """Answers committed so far to a teacher's SQLite cache (0 before it exists)."""
    if not path.is_file():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not created yet
            return 0


def sigkill_after_answers(args: list[str], cache: Path, answers: int) -> int:
    """Run `textbooks ARGS` and SIGKILL it once its teacher cache holds `answers` answers (or it
    ends first); returns its exit status (-9 when killed)."""
    process = subprocess.Popen([sys.executable, "-m", "textbooks", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        while cached_answers(cache) < answers and process.poll() is None:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return process.returncode


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A one-node Slurm cluster of this session's own (scripts/slurm/local-cluster.sh), stopped at
    the end; its environment ({"SLURM_CONF": ...}). Skips, saying why, where it cannot start."""
    if os.geteuid() != 0:
        pytest.skip("a local Slurm cluster needs root (slurmd starts jobs as their users)")
    missing = [tool for tool in ("munged", "slurmctld", "slurmd", "sbatch") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Slurm is not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge")
    script, where = REPO / "scripts" / "slurm" / "local-cluster.sh", tmp_path_factory.mktemp("slurm")
    started = subprocess.run([str(script), "start", str(where)], capture_output=True, text=True, timeout=120)
    try:
        if started.returncode != 0:
            pytest.skip(f"the local Slurm cluster did not start: {started.stderr.strip()}")
        yield {"SLURM_CONF": str(where / "slurm.conf")}
    finally:
        subprocess.run([str(script), "stop", str(where)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def stdlib_tokens(tmp_path_factory) -> Path:
    """train_support's standard-library token pack, packed once for the modules that train on it
    (read-only: runs memory-map it)."""
    from train_support import stdlib_pack

    return stdlib_pack(tmp_path_factory.mktemp("stdlib"))


@pytest.fixture(scope="session")
def two_rank_run(tmp_path_factory) -> tuple[Path, Path]:
    """(token pack, run directory) of an uninterrupted two-rank torchrun (train_support's
    TWO_RANK_OVERRIDES), trained once for the tests that interrupt the same run."""
    from train_support import TWO_RANK_OVERRIDES, stdlib_pack, subprocess_env, torchrun_command

    root = tmp_path_factory.mktemp("two-ranks")
    pack, run_dir = stdlib_pack(root), root / "straight"
    done = subprocess.run(torchrun_command(pack, run_dir, 2, *TWO_RANK_OVERRIDES), env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return pack, run_dir
