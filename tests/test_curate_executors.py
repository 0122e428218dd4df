"""Curation stages on datatrove's Slurm and Ray executors give the same dataset as the local pool."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from conftest import run_cli
from textbooks.curate.executor import ExecutorConfig
from textbooks.curate.job import CurateJob, run_clean
from textbooks.data.datasets import Dataset
from textbooks.data.sources import import_sources

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture
def raw(tmp_path) -> Dataset:
    return import_sources([STDLIB / "json", STDLIB / "concurrent"], tmp_path / "raw", rows_per_shard=6)


def records(dataset: Dataset) -> list[dict]:
    return list(dataset.iter_records())


def parquet_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.parquet"))}


SLURM = ["--executor", "slurm", "--set", "executor.partition=debug", "--set", "executor.workers=-1"]


@pytest.mark.slow
def test_curate_on_a_real_slurm_cluster_gives_the_local_dataset_byte_for_byte(slurm_cluster, tmp_path):
    # Every step to dedup: one array job per datatrove stage, each depending on the one before.
    args = ["curate", "--source", str(STDLIB / "json"), "--until", "dedup", "--set", "dedup.num_perm=32"]
    on_slurm = run_cli(*args, "--out", str(tmp_path / "slurm"), *SLURM, env=slurm_cluster, timeout=300)
    assert on_slurm.returncode == 0, on_slurm.stderr
    assert re.search(r"slurm \(dedup\): job \d+: \d+ (PENDING|RUNNING)", on_slurm.stdout), on_slurm.stdout  # states shown
    assert re.search(r"slurm \(dedup\): \d+ jobs completed\n", on_slurm.stdout), on_slurm.stdout
    local = run_cli(*args, "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    for step in ("raw", "clean", "dedup"):
        assert parquet_bytes(tmp_path / "slurm" / step) == parquet_bytes(tmp_path / "local" / step) != {}, step


def _squeue(env: dict[str, str]) -> list[str]:
    listed = subprocess.run(["squeue", "--noheader", "--array", "--format=%i %T"], capture_output=True, text=True,
                            env={**os.environ, **env})
    return listed.stdout.split("\n")


@pytest.mark.slow
def test_a_cancelled_slurm_task_stops_the_command_and_a_rerun_runs_only_that_task(slurm_cluster, raw, tmp_path):
    # One task at a time: the last is still pending when it is cancelled.
    args = ["curate", "clean", "--input", str(raw.path), "--out", str(tmp_path / "clean"), "--executor", "slurm",
            "--workers", "1", "executor.partition=debug"]
    tasks = len(raw.shards)
    command = subprocess.Popen([sys.executable, "-m", "textbooks", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, **slurm_cluster})
    deadline = time.monotonic() + 60
    while not (pending := [line.split()[0] for line in _squeue(slurm_cluster) if line.endswith(f"_{tasks - 1} PENDING")]):
        assert time.monotonic() < deadline and command.poll() is None, "no array job appeared"
        time.sleep(0.2)
    subprocess.run(["scancel", pending[0]], check=True, env={**os.environ, **slurm_cluster})
    out, err = command.communicate(timeout=240)
    assert command.returncode == 2, err
    first = pending[0].split("_")[0]
    assert re.search(rf"clean: Slurm job {first}\S* .*1 of {tasks} tasks unfinished.* \S+/slurm_logs", err), err
    assert not (tmp_path / "clean").exists()

    rerun = run_cli(*args, env=slurm_cluster, timeout=240)
    assert rerun.returncode == 0, rerun.stderr
    resubmitted = {job: states for job, states in re.findall(r"job (\d+): ([^;\n]+)", rerun.stdout) if job != first}
    assert resubmitted and all(sum(map(int, re.findall(r"(\d+) [A-Z]", states))) == 1 for states in resubmitted.values()), \
        rerun.stdout  # one task submitted again, not all of them
    local = run_clean(raw, tmp_path / "clean-local", CurateJob())
    assert records(Dataset.open(tmp_path / "clean")) == records(local)
    assert Dataset.open(tmp_path / "clean").manifest["curate-clean"] == local.manifest["curate-clean"]


@pytest.mark.slow
def test_ray_runs_a_stage_like_the_local_pool(raw, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (the optional `ray` extra)")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_clean(raw, tmp_path / "clean-ray", CurateJob(executor=ExecutorConfig(kind="ray", workers=2)))
    finally:
        ray.shutdown()
    local = run_clean(raw, tmp_path / "clean-local", CurateJob())
    assert records(on_ray) == records(local) and on_ray.manifest["curate-clean"] == local.manifest["curate-clean"]
