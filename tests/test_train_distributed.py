"""The `textbooks train` command as real processes: killed and resumed, and under torchrun."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch

from textbooks.train import state
from textbooks.train.trainer import train_from_cli
from train_support import (
    TWO_RANK_OVERRIDES,
    TWO_RANK_STEPS,
    losses,
    nano_overrides,
    stdlib_pack,
    subprocess_env,
    torchrun_command,
)

STEPS = 10
KILL_AFTER = 5  # past the checkpoint of step 3, before the one of step 9


@pytest.fixture(scope="module")
def stdlib(tmp_path_factory) -> Path:
    return stdlib_pack(tmp_path_factory.mktemp("stdlib"))


def train_command(stdlib: Path, run_dir: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "textbooks", "train", "--config", "tiny-pretrain", "--data", str(stdlib),
            "--out", str(run_dir), *overrides]


def run(command: list[str]) -> None:
    done = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def val_losses(run_dir: Path) -> list[float]:
    return [r["val_loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "val_loss" in r]


def logged_steps(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return 0
    steps = [json.loads(line)["step"] for line in path.read_text().splitlines() if line.endswith("}")]
    return max(steps, default=0)


@pytest.mark.slow
def test_resume_after_sigkill_reproduces_the_uninterrupted_loss_curve_bitwise(stdlib, tmp_path):
    overrides = nano_overrides(STEPS, **{"checkpoint.every": 3, "eval.every": 3})
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    # In this process (saves a start-up), on one thread as the subprocesses below (QUIET_ENV): with
    # another thread count a CPU's GEMM may sum in another order, and the bits differ from step 1.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_from_cli("tiny-pretrain", stdlib, straight, overrides=overrides)
    finally:
        torch.set_num_threads(threads)

    process = subprocess.Popen(train_command(stdlib, killed, *overrides), env=subprocess_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while logged_steps(killed) < KILL_AFTER and process.poll() is None:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    interrupted_at = state.latest(killed).step
    assert 3 <= interrupted_at < STEPS

    run(train_command(stdlib, killed, *overrides))  # the same command again resumes
    assert losses(killed) == losses(straight)  # float equality: the same bits, every step
    assert sorted(losses(killed)) == list(range(1, STEPS + 1))


@pytest.mark.slow
def test_two_torchrun_processes_reach_the_losses_of_one_process_with_the_same_global_batch(stdlib, tmp_path):
    steps = 20
    overrides = nano_overrides(steps, **{"eval.every": 10})
    one, two = tmp_path / "one", tmp_path / "two"
    train_from_cli("tiny-pretrain", stdlib, one, overrides=overrides)  # 4 sequences: 2 micro-batches of 2
    run(torchrun_command(stdlib, two, 2, *overrides, "batch.micro_batch=1", "parallel=fsdp"))  # 2 ranks x 2 x 1
    single, sharded = losses(one), losses(two)
    assert sorted(sharded) == list(range(1, steps + 1))
    assert max(abs(single[s] - sharded[s]) for s in single) < 1e-4
    assert max(abs(a - b) for a, b in zip(val_losses(one), val_losses(two), strict=True)) < 1e-4
    # The FSDP-sharded state resumes in one process: DCP reshards it.
    shutil.copytree(two, tmp_path / "resharded")
    train_from_cli("tiny-pretrain", stdlib, tmp_path / "resharded", overrides=nano_overrides(steps + 2, **{"eval.every": 10}))
    assert sorted(losses(tmp_path / "resharded")) == list(range(1, steps + 3))


def two_node_commands(stdlib: Path, run_dir: Path, port: int, *overrides: str) -> list[list[str]]:
    """Two torchrun agents as two nodes (one process each) meeting by c10d rendezvous on loopback."""
    torchrun = Path(sys.executable).with_name("torchrun")
    return [[str(torchrun), "--nnodes=2", "--nproc-per-node=1", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}",
             "--rdzv-id=two-nodes", "--max-restarts=0", "-m", "textbooks", "train", "--config", "tiny-pretrain", "--data",
             str(stdlib), "--out", str(run_dir), *overrides] for _ in range(2)]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_one_lost_the_other_exits_with_a_clear_message_and_both_restarted_resume(two_rank_run, tmp_path):
    (stdlib, straight), lost = two_rank_run, tmp_path / "lost"  # the uninterrupted run: two ranks on one node
    steps, overrides, kill_after = TWO_RANK_STEPS, TWO_RANK_OVERRIDES, 6  # killed past the first checkpoint

    commands = two_node_commands(stdlib, lost, free_port(), *overrides)
    nodes = [subprocess.Popen(commands[0], env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]
    time.sleep(1)  # the first agent hosts the rendezvous store; the lost node is the other one
    nodes.append(subprocess.Popen(commands[1], env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        while logged_steps(lost) < kill_after and nodes[0].poll() is None:
            time.sleep(0.02)
        # A node lost: its agent and its trainer (torchrun starts workers in sessions of their own).
        agent = psutil.Process(nodes[1].pid)
        for process in [agent, *agent.children(recursive=True)]:
            process.kill()
        started = time.monotonic()
        output, _ = nodes[0].communicate(timeout=90)
        waited = time.monotonic() - started
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
            node.wait(timeout=30)
    assert nodes[0].returncode != 0 and waited < 90
    assert re.search(r"error: rank \d of 2: lost another rank at step \d+ \(a node or process died: .*\); start every node "
                     r"again with the same command: it resumes from \S+/step-\d+", output), output[-3000:]
    interrupted_at = state.latest(lost).step
    assert 4 <= interrupted_at < steps

    logs = [tmp_path / f"node{i}.log" for i in range(2)]
    restarted = []
    for command, log in zip(two_node_commands(stdlib, lost, free_port(), *overrides), logs):
        with log.open("w") as out:
            restarted.append(subprocess.Popen(command, env=subprocess_env(), stdout=out, stderr=subprocess.STDOUT))
    try:
        for node in restarted:
            node.wait(timeout=300)
    except subprocess.TimeoutExpired:  # both nodes' logs say which one hung, and where
        for node in restarted:
            node.kill()
        pytest.fail("\n".join(f"node {i} did not exit in 300 s:\n{log.read_text()[-3000:]}" for i, log in enumerate(logs)))
    outputs = [log.read_text() for log in logs]
    assert [node.returncode for node in restarted] == [0, 0], [output[-3000:] for output in outputs]
    assert any(f"(step {interrupted_at})" in output for output in outputs), outputs  # "resuming from ... (step N)"
    resumed, reference = losses(lost), losses(straight)
    assert sorted(resumed) == list(range(1, steps + 1))
    assert max(abs(resumed[s] - reference[s]) for s in reference) < 1e-4
