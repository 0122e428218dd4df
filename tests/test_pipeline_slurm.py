"""A pipeline on a real (one-node) Slurm cluster: its curate stage waits for the jobs it submits
(a killed `textbooks run` attaches to them) and writes the local executor's bytes; its train stage
runs as a batch job (`launcher: {sbatch: ...}`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import run_cli

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def jobs_after(mark: int, env: dict[str, str]) -> list[tuple[int, str, str]]:
    """(id, name, state) of the cluster's jobs numbered above `mark` (array tasks once per job)."""
    listed = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%F|%j|%T"], capture_output=True, text=True,
                            env={**os.environ, **env}, check=True)
    rows = {(int(job), name, state) for job, name, state in (line.split("|") for line in listed.stdout.split())}
    return sorted(row for row in rows if row[0] > mark)


@pytest.mark.slow
def test_a_killed_pipeline_attaches_to_its_slurm_jobs_curates_the_local_bytes_and_trains_in_a_batch_job(slurm_cluster, tmp_path):
    mark = max([job for job, _, _ in jobs_after(0, slurm_cluster)], default=0)
    pipeline = {"run_dir": str(tmp_path / "run"),
                "launcher": {"sbatch": "--ntasks=1 --cpus-per-task=1"},
                "stages": {
                    "code": {"kind": "curate", "config": {
                        "sources": [str(STDLIB / "json")], "until": "dedup", "dedup": {"num_perm": 32},
                        "executor": {"kind": "slurm", "partition": "debug", "workers": -1},
                        "teacher": {"endpoints": ["http://127.0.0.1:9/v1"], "model": "unused-until-dedup"}}},
                    "pack": {"kind": "tokenize", "inputs": {"datasets": ["code"]}, "config": {"workers": 1}},
                    "model": {"kind": "train", "base": "tiny-pretrain", "inputs": {"data": "pack"}, "config": {
                        "max_steps": 2, "model": {"preset": "nano"}, "data": {"seq_len": 32},
                        "batch": {"global_batch": 2, "micro_batch": 2}, "eval": {"every": 0}, "checkpoint": {"every": 0},
                        "log": {"tensorboard": False, "progress_bar": False, "plot": False}}}}}
    path = tmp_path / "pipe.yaml"
    path.write_text(yaml.safe_dump(pipeline))

    first = subprocess.Popen([sys.executable, "-m", "textbooks", "run", str(path)], env={**os.environ, **slurm_cluster},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not any(name.endswith("-dedup-exact-signatures") for _, name, _ in jobs_after(mark, slurm_cluster)):
            assert time.monotonic() < deadline and first.poll() is None, "the dedup step's jobs never appeared"
            time.sleep(0.2)
        time.sleep(1)  # the ids are recorded right after the submission
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()

    again = run_cli("run", str(path), env=slurm_cluster, timeout=280)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    logged = (tmp_path / "run" / "logs" / "code.log").read_text()  # the quiet console: engines' lines go to the stage's log
    assert "dedup: attaching to Slurm jobs" in logged, logged
    jobs = jobs_after(mark, slurm_cluster)
    submitted = Counter(name for _, name, _ in jobs)
    assert submitted and all(count == 1 for count in submitted.values()), jobs  # none submitted twice
    assert all(state == "COMPLETED" for _, _, state in jobs), jobs
    assert "textbooks-model" in submitted  # the train stage ran as a batch job (srun inside), waited for
    trained = (tmp_path / "run" / "logs" / "model.log").read_text()
    assert "model: submitted Slurm job" in trained, trained
    assert (tmp_path / "run" / "model" / "metrics.jsonl").is_file()

    # The same steps on the local executor (`textbooks curate`, as the stage runs it): the same bytes.
    local = run_cli("curate", "--source", str(STDLIB / "json"), "--until", "dedup", "--set", "dedup.num_perm=32",
                    "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    for step in ("raw", "clean", "dedup"):
        on_slurm = {p.name: p.read_bytes() for p in (tmp_path / "run" / "code" / step).glob("*.parquet")}
        assert on_slurm == {p.name: p.read_bytes() for p in (tmp_path / "local" / step).glob("*.parquet")} != {}, step
