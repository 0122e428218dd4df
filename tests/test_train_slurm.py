"""scripts/slurm/train.sbatch on a real (one-node) Slurm cluster: two tasks, torchrun in each, gloo."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from test_train_distributed import logged_steps
from textbooks import slurm
from textbooks.errors import UserError
from textbooks.train import state
from train_support import TWO_RANK_OVERRIDES, TWO_RANK_STEPS, losses, subprocess_env


@pytest.mark.slow
def test_a_preempted_training_job_checkpoints_requeues_itself_and_matches_an_uninterrupted_run(
        slurm_cluster, two_rank_run, tmp_path, monkeypatch):
    (pack, straight), preempted = two_rank_run, tmp_path / "preempted"
    steps, overrides = TWO_RANK_STEPS, TWO_RANK_OVERRIDES

    for name, value in slurm_cluster.items():
        monkeypatch.setenv(name, value)
    env = {**subprocess_env(), **slurm_cluster, "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # the job finds torchrun there
    log = str(tmp_path / "train-%j.out")
    # Two tasks on the one node stand for two nodes; no GPUs here.
    submitted = subprocess.run(["sbatch", "--parsable", "--gpus-per-node=0", "--nodes=1", "--ntasks-per-node=2",
                                "--cpus-per-task=1", "--time=10", f"--output={log}",
                                str(REPO / "scripts" / "slurm" / "train.sbatch"), "tiny-pretrain", str(pack), str(preempted),
                                *overrides], env=env, capture_output=True, text=True, check=True)
    job = submitted.stdout.strip()
    deadline = time.monotonic() + 180
    while logged_steps(preempted) < 6:
        assert time.monotonic() < deadline, Path(slurm.log_path(log, job)).read_text()
        time.sleep(0.05)
    # What `--signal=B:USR1@120` delivers before the time limit, sent now.
    subprocess.run(["scancel", "--batch", "--signal=USR1", job], env=env, check=True)
    try:
        slurm.wait({job: log}, "train", poll_s=1)
    except UserError as failed:  # the job's own log says why; the error only names it
        raise AssertionError(f"{failed}\n{Path(slurm.log_path(log, job)).read_text()}") from failed

    output = Path(slurm.log_path(log, job)).read_text()
    assert "SIGUSR1 (time limit or preemption ahead): checkpointing, then requeueing" in output, output
    assert f"job {job} (restart 1)" in output, output
    stopped_at = int(output.split("stopped on SIGUSR1")[0].rsplit("step ", 1)[1].split(":")[0])
    assert 6 <= stopped_at < steps and f"(step {stopped_at})" in output, output  # resumed from that checkpoint
    assert state.latest(preempted).step == steps
    resumed, reference = losses(preempted), losses(straight)
    assert sorted(resumed) == list(range(1, steps + 1))
    assert max(abs(resumed[s] - reference[s]) for s in reference) < 1e-4
