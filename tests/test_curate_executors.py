"""Curation stages on datatrove's Slurm and Ray executors give the same dataset as the local pool."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import run_cli
from textbooks.curate.executor import ExecutorConfig
from textbooks.curate.job import CurateConfig, run_clean
from textbooks.data.datasets import Dataset
from textbooks.data.sources import import_sources

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture
def raw(tmp_path) -> Dataset:
    return import_sources([STDLIB / "json", STDLIB / "concurrent"], tmp_path / "raw", rows_per_shard=6)


def records(dataset: Dataset) -> list[dict]:
    return list(dataset.iter_records())


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.slow
def test_slurm_submits_an_array_job_whose_tasks_write_the_dataset_the_next_run_publishes(raw, tmp_path):
    bin_dir, captured = tmp_path / "bin", tmp_path / "submitted"
    bin_dir.mkdir(), captured.mkdir()
    # Stand-ins for the Slurm tools: sbatch keeps the job script it is given and prints a job id.
    _script(bin_dir / "sbatch", f'n=$(ls {captured} | wc -l); for a; do f="$a"; done; cp "$f" {captured}/job-$n.sh; '
                                'echo "Submitted batch job $((n + 100))"\n')
    _script(bin_dir / "scontrol", "echo localhost\n")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    args = ["curate", "clean", "--input", str(raw.path), "--out", str(tmp_path / "clean"), "--executor", "slurm",
            "executor.partition=cpu", "executor.time=00:30:00", "executor.workers=4"]

    submitted = run_cli(*args, env=env)
    assert submitted.returncode == 0 and "Slurm jobs submitted" in submitted.stdout, submitted.stderr
    scripts = [p.read_text() for p in sorted(captured.iterdir())]
    job = next(s for s in scripts if "launch_pickled_pipeline" in s)
    tasks = len(raw.shards)
    for line in ("#SBATCH --partition=cpu", "#SBATCH --time=00:30:00", "#SBATCH --mem-per-cpu=2G", f"#SBATCH --array=0-{tasks - 1}%4",
                 "#SBATCH --job-name=textbooks-clean-shards", f"source {Path(sys.prefix) / 'bin' / 'activate'}"):
        assert line in job, job
    assert not (tmp_path / "clean").exists()

    unfinished = run_cli(*args, env=env)
    assert unfinished.returncode == 2 and f"{tasks} of {tasks} tasks unfinished" in unfinished.stderr

    # Run the array's tasks the way Slurm would (without srun), then the same command publishes.
    pickled = re.search(r"launch_pickled_pipeline (\S+)", job).group(1)
    for task in range(tasks):
        subprocess.run([str(Path(sys.executable).parent / "launch_pickled_pipeline"), pickled], check=True, capture_output=True,
                       env={**os.environ, **env, "SLURM_ARRAY_TASK_ID": str(task), "SLURM_NODELIST": "node1"})
    published = run_cli(*args, env=env)
    assert published.returncode == 0, published.stderr
    local = run_clean(raw, tmp_path / "clean-local", CurateConfig())
    assert records(Dataset.open(tmp_path / "clean")) == records(local)
    assert Dataset.open(tmp_path / "clean").manifest["curate-clean"] == local.manifest["curate-clean"]


@pytest.mark.slow
def test_ray_runs_a_stage_like_the_local_pool(raw, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (the optional `ray` extra)")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_clean(raw, tmp_path / "clean-ray", CurateConfig(executor=ExecutorConfig(kind="ray", workers=2)))
    finally:
        ray.shutdown()
    local = run_clean(raw, tmp_path / "clean-local", CurateConfig())
    assert records(on_ray) == records(local) and on_ray.manifest["curate-clean"] == local.manifest["curate-clean"]
