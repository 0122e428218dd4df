"""scripts/gpu_check.py runs on CPU (the tiny preset): every check answers with a row, written to the
file as it finishes, the rows that need a GPU say so, and the budget skips what no longer fits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "gpu_check.py"
CHECKS = ["env", "train-eager", "chunked-loss", "generate", "fsdp-step", "phi-1-fits", "train-compiled", "sandbox",
          "train-2proc-resume"]


@pytest.mark.slow
def test_the_gpu_check_runs_on_cpu_within_its_budget_and_says_which_rows_need_a_gpu(tmp_path):
    out = tmp_path / "check.jsonl"
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--budget-s", "25"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["check"] for row in rows] == CHECKS
    assert [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")] == rows
    by_name = {row["check"]: row for row in rows}
    assert by_name["env"]["status"] == "ok" and by_name["env"]["preset"] == "tiny"
    assert by_name["train-eager"]["status"] == "ok" and by_name["train-eager"]["tokens_per_s"] > 0
    assert by_name["train-eager"]["needs_gpu"] == ["mfu"] and by_name["train-eager"]["mfu"] is None
    assert by_name["phi-1-fits"] == {"check": "phi-1-fits", "device": "cpu", "status": "needs-gpu", "needs_gpu": True}
    # 25 s cannot hold compiling, nor two processes compiling and resuming
    assert by_name["train-compiled"]["status"] == "skipped" and "budget" in by_name["train-compiled"]["reason"]
    assert by_name["train-2proc-resume"]["status"] == "skipped"
    assert all(row["status"] in ("ok", "skipped", "needs-gpu", "unavailable") for row in rows), rows


def test_the_chunked_loss_check_compares_with_the_plain_loss_on_cpu():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(SCRIPT.parent))
    row = gpu_check.check_chunked_loss()
    assert row["status"] == "ok" and max(row["relative_errors"].values()) <= row["tolerance"]
    assert row["needs_gpu"] == ["peak memory"] and row["peak_gb_plain"] is None
