"""A pipeline SIGKILLed at seeded points and resumed ends with the bytes of one run straight through.

The shipped `ci` pipeline with structured exercises (as `phi-1.yaml` runs) against a stand-in
teacher on loopback that is deterministic (the same body always gets the same text; a different
response_format form gets a different text, as from a real model whose grammar differs) and that
fails first attempts the way a loaded fleet does (500, 429, a hang past the client's timeout). The
straight run meets those faults; the killed run, sent to the same server, mostly does not, so
whatever a fault could change (the form a request is sent in) shows up as a different dataset.
Compared: every dataset and token-pack file, the exported model and the scores.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import cached_answers, run_cli
from synth_fake_teacher import FakeTeacher
from textbooks.teacher.structured import PROBE_TEXT

pytestmark = pytest.mark.slow
SEED = 24
# Byte-compared outputs; manifests, stage records and logs hold times and paths, so they are not.
COMPARED_SUFFIXES = (".parquet", ".bin", ".idx", ".npy", ".safetensors")


class LoadedTeacher(FakeTeacher):
    """Fails the first attempt of most items (chosen by a hash of the item), and the first
    structured-output probe: the overloaded moment at the start of a run."""

    def fault_for(self, item: str, attempt: int) -> str | None:
        if attempt > 0:
            return None
        if item == PROBE_TEXT:
            return "500"
        return {0: "500", 1: "429:0", 2: "slow:3"}.get(int(hashlib.sha256(item.encode()).hexdigest(), 16) % 4)

    def answer(self, request: dict, chat: bool) -> dict:
        form = (request.get("response_format") or {}).get("type")
        return super().answer({**request, "seed": [request.get("seed"), form]} if form else request, chat)


def overrides(teacher: LoadedTeacher) -> list[str]:
    return [f"teacher.endpoints=[{teacher.url}]", "teacher.model=fake", "teacher.timeout_s=2",
            "stages.exercises.config.structured=true",
            "stages.pretrain.config.checkpoint.every=1",  # so a kill mid-training resumes from a checkpoint
            "stages.humaneval.config.settings.limit=4"]


def stage_dir(run_dir: Path, name: str) -> Path | None:
    found = sorted((run_dir / "stages").glob(f"{name}-" + "?" * 12)) if (run_dir / "stages").is_dir() else []
    return found[0] if found else None


def running(run_dir: Path, name: str) -> bool:
    out = stage_dir(run_dir, name)
    return out is not None and not (out / "stage.json").exists()


def kill_when(args: list[str], ready: Callable[[], bool]) -> bool:
    """Run `textbooks ARGS` in its own process group and SIGKILL the group (the runner and its
    training or eval children) once `ready()`; False if it finished first."""
    process = subprocess.Popen([sys.executable, "-m", "textbooks", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while process.poll() is None and not ready():
            time.sleep(0.01)
        killed = process.poll() is None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return killed


def outputs(run_dir: Path) -> dict[str, str]:
    """sha256 of every compared file under stages/, by its path with the stage key left out."""
    digests = {}
    for path in sorted((run_dir / "stages").rglob("*")):
        relative = path.relative_to(run_dir / "stages")
        if path.suffix in COMPARED_SUFFIXES and "checkpoints" not in relative.parts:
            digests[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def scores(run_dir: Path) -> tuple[dict, list[tuple]]:
    """pass@1 and each sample's completion and verdict (not its timings)."""
    summary = json.loads((run_dir / "humaneval" / "summary.json").read_text())
    rows = [json.loads(line) for line in (run_dir / "humaneval" / "results.jsonl").read_text().splitlines()]
    return summary["scores"], sorted((r["task_id"], r["sample"], r["completion"], r["status"]) for r in rows)


def test_a_pipeline_killed_at_seeded_points_and_resumed_ends_with_the_bytes_of_a_straight_run(tmp_path):
    rng = random.Random(SEED)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    with LoadedTeacher() as teacher:
        args = ["run", "ci", *overrides(teacher)]
        first = run_cli(*args, "--run-dir", str(straight), timeout=300)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert any(h.fault for h in teacher.hits), "the straight run met no fault"

        exercises_cache = killed / "cache" / "exercises.teacher-cache.sqlite"
        answers, step = rng.randint(1, 10), rng.randint(1, 3)
        kill_points = {
            f"exercises after {answers} answers": lambda: cached_answers(exercises_cache) >= answers,
            f"pretrain after step {step}": lambda: running(killed, "pretrain")
            and (stage_dir(killed, "pretrain") / "checkpoints" / f"step-{step:07d}").is_dir(),
            "humaneval while it runs": lambda: running(killed, "humaneval"),
        }
        for point, ready in kill_points.items():
            assert kill_when([*args, "--run-dir", str(killed)], ready), f"the run ended before the kill point: {point}"
        last = run_cli(*args, "--run-dir", str(killed), timeout=300)
        assert last.returncode == 0, last.stdout[-3000:] + last.stderr[-3000:]
        assert "cached" in last.stdout  # it resumed rather than started over

    expected = outputs(straight)
    assert any(name.endswith("model.safetensors") for name in expected)
    assert any(name.startswith("exercises-clean") and name.endswith(".parquet") for name in expected)
    assert outputs(killed) == expected
    assert scores(killed) == scores(straight)
