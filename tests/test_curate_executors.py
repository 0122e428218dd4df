"""Curation stages on datatrove's Slurm and Ray executors give the same dataset as the local pool."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from textbooks.curate.job import CurateConfig, run_clean
from textbooks.data.datasets import Dataset
from textbooks.data.sources import import_sources

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture
def raw(tmp_path) -> Dataset:
    return import_sources([STDLIB / "json", STDLIB / "concurrent"], tmp_path / "raw", rows_per_shard=6)


def records(dataset: Dataset) -> list[dict]:
    return list(dataset.iter_records())


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
    local = run_clean(raw, tmp_path / "clean-local", CurateConfig())
    assert records(Dataset.open(tmp_path / "clean")) == records(local)
    assert Dataset.open(tmp_path / "clean").manifest["curate-clean"] == local.manifest["curate-clean"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_cluster(tmp_path) -> Iterator[dict[str, str]]:
    """A Ray cluster of its own (`ray start --head`: own temp dir, own ports), as a user starts one;
    the environment that joins it (RAY_ADDRESS), and the workers' TMPDIR."""
    pytest.importorskip("ray", reason="ray is not installed (the optional `ray` extra)")
    ray_bin = Path(sys.executable).parent / "ray"
    # A short root: Ray's socket paths under it must stay within the 107 characters Unix allows.
    root, workers_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp")), tmp_path / "workers-tmp"
    workers_tmp.mkdir()
    port = _free_port()
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
         f"--temp-dir={root}", f"--ray-client-server-port={_free_port()}", f"--dashboard-agent-listen-port={_free_port()}",
         f"--runtime-env-agent-port={_free_port()}", f"--metrics-export-port={_free_port()}", "--disable-usage-stats"],
        env={**os.environ, "TMPDIR": str(workers_tmp)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)  # its own process group: the teardown ends every process it started, and no other Ray
    env = {"RAY_ADDRESS": f"127.0.0.1:{port}", "WORKERS_TMP": str(workers_tmp)}
    try:
        deadline = time.monotonic() + 120
        while subprocess.run([str(ray_bin), "status", f"--address={env['RAY_ADDRESS']}"], capture_output=True).returncode:
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"`ray start --head` did not start: {head.stderr.read().decode()[-500:] if head.poll() is not None else 'timeout'}")
            time.sleep(1)
        yield env
    finally:
        head.terminate()  # --block: ray start stops the cluster's processes on SIGTERM
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_ray_runs_a_stage_on_a_started_cluster_like_the_local_pool(ray_cluster, raw, tmp_path):
    on_ray = run_cli("curate", "clean", "--input", str(raw.path), "--out", str(tmp_path / "clean-ray"), "--executor", "ray",
                     env={"RAY_ADDRESS": ray_cluster["RAY_ADDRESS"]}, timeout=300)
    assert on_ray.returncode == 0, on_ray.stderr
    assert "Connecting to existing Ray cluster" in on_ray.stderr, on_ray.stderr  # joined, did not start its own
    local = run_clean(raw, tmp_path / "clean-local", CurateConfig())
    ray_dataset = Dataset.open(tmp_path / "clean-ray")
    assert records(ray_dataset) == records(local) and ray_dataset.manifest["curate-clean"] == local.manifest["curate-clean"]
    # datatrove's own default, gettempdir()/ray_logs, is shared by every user and run of the machine.
    assert not (Path(ray_cluster["WORKERS_TMP"]) / "ray_logs").exists()
    assert list(Path(ray_cluster["WORKERS_TMP"]).iterdir()) == []
