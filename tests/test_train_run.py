"""A real (nano) training run on the tokenized standard library, and what it leaves behind."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from textbooks.errors import UserError
from textbooks.model.load import load_model
from textbooks.train import state
from textbooks.train.metrics import read_metrics
from textbooks.train.trainer import train_from_cli
from train_support import losses, nano_overrides

GOLDEN = Path(__file__).parent / "data" / "train_golden_nano.json"
STEPS = 20


@pytest.fixture(scope="module")
def nano_run(stdlib_tokens, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "nano"
    overrides = nano_overrides(STEPS, **{"checkpoint.every": 10, "eval.every": 10, "checkpoint.keep_last": 1,
                                          "log.plot": True})
    train_from_cli("tiny-pretrain", stdlib_tokens, run_dir, overrides=overrides)
    return run_dir


def stream_sha256(pack: Path) -> str:
    """The training token stream's identity: the golden curve holds only for the same data."""
    digest = hashlib.sha256()
    for path in sorted((pack / "train").glob("tokens-*.bin")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_loss_goes_down_on_the_standard_library(nano_run):
    curve = losses(nano_run)
    assert sorted(curve) == list(range(1, STEPS + 1))
    assert np.mean([curve[s] for s in range(STEPS - 4, STEPS + 1)]) < np.mean([curve[s] for s in range(1, 6)]) - 1.0
    val = {r["step"]: r["val_loss"] for r in read_metrics(nano_run / "metrics.jsonl") if "val_loss" in r}
    assert sorted(val) == [10, 20] and val[20] < val[10]


@pytest.mark.slow
def test_loss_curve_matches_the_stored_golden_curve(nano_run, stdlib_tokens):
    golden = json.loads(GOLDEN.read_text())
    # The corpus is checked in; a different stream means the tokenizer or the packer changed.
    assert stream_sha256(stdlib_tokens) == golden["train_stream_sha256"]
    curve = losses(nano_run)
    # Same data, same seed; only the CPU's float rounding may differ from the recording machine.
    np.testing.assert_allclose([curve[s] for s in range(1, STEPS + 1)], golden["loss"], atol=2e-3)


@pytest.mark.slow
def test_run_directory_holds_config_metrics_events_plot_and_rotated_checkpoints(nano_run):
    assert (nano_run / "config.yaml").is_file() and (nano_run / "loss.png").stat().st_size > 0
    assert list((nano_run / "tb").glob("events.out.tfevents.*"))
    root = nano_run / "checkpoints"
    assert (root / "latest").read_text().strip() == "step-0000020"
    best = state.best(nano_run)
    kept = sorted(p.name for p in root.glob("step-*"))
    assert kept == sorted({"step-0000020", best.path.name})  # keep_last=1, plus the best
    meta = json.loads((root / "step-0000020" / "meta.json").read_text())
    assert meta["step"] == 20 and meta["tokens"] == 20 * 4 * 64 and "val_loss" in meta["metrics"]


@pytest.mark.slow
def test_consolidated_checkpoint_loads_and_exports_to_transformers(nano_run, tmp_path):
    from transformers import AutoModelForCausalLM

    from textbooks.model.hf import export_hf

    ours = load_model(nano_run)  # the run directory: its latest consolidated model
    out = export_hf(load_model(nano_run), tmp_path / "hf")
    theirs = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = torch.randint(0, 50_000, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(theirs(ids).logits, ours(ids)[0], atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_init_from_a_checkpoint_of_another_architecture_fails_before_any_step(nano_run, stdlib_tokens, tmp_path):
    run_dir = tmp_path / "finetune"
    with pytest.raises(UserError, match=r"does not fit the configured model 'tiny'.*d_model=64"):
        train_from_cli("tiny-finetune", stdlib_tokens, run_dir, init=nano_run, overrides=["log.progress_bar=false"])
    assert not (run_dir / "metrics.jsonl").exists()


@pytest.mark.slow
def test_resuming_a_run_with_another_model_is_a_user_error(nano_run, stdlib_tokens, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(nano_run, copy)
    with pytest.raises(UserError, match=r"config.yaml: resuming this run with model.preset='tiny'"):
        train_from_cli("tiny-pretrain", stdlib_tokens, copy, overrides=nano_overrides(STEPS + 5, **{"model.preset": "tiny"}))
    assert max(losses(copy)) == STEPS


@pytest.mark.slow
def test_a_save_killed_half_way_leaves_the_previous_checkpoint_to_resume_from(nano_run, stdlib_tokens, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(nano_run, copy)
    partial = copy / "checkpoints" / "step-0000025.tmp"
    (partial / "state").mkdir(parents=True)
    (partial / "state" / "__0_0.distcp").write_bytes(b"\0" * 100)  # a crash before meta.json and the rename
    assert state.latest(copy).step == STEPS
    overrides = nano_overrides(STEPS + 5, **{"checkpoint.every": 5, "eval.every": 10, "checkpoint.keep_last": 1})
    summary = train_from_cli("tiny-pretrain", stdlib_tokens, copy, overrides=overrides)
    assert summary["step"] == STEPS + 5 and state.latest(copy).step == STEPS + 5
    assert sorted(losses(copy)) == list(range(1, STEPS + 6)) and not partial.exists()


def test_pass_at_1_selection_refuses_before_any_step_without_an_isolating_sandbox(stdlib_tokens, tmp_path, monkeypatch):
    from textbooks.eval.selection import pass_at_1_scorer
    from textbooks.sandbox import DISABLE_VARIABLE, IsolationUnavailable

    monkeypatch.setenv(DISABLE_VARIABLE, "bwrap,namespaces")
    run_dir = tmp_path / "unisolated"
    with pytest.raises(IsolationUnavailable, match="--unsafe-no-isolation"):
        train_from_cli("tiny-pretrain", stdlib_tokens, run_dir, overrides=nano_overrides(2, **{"checkpoint.best_by": "pass@1"}),
                       score_checkpoint=pass_at_1_scorer("humaneval"))
    assert not (run_dir / "metrics.jsonl").exists() or losses(run_dir) == {}  # no step was taken


def test_pass_at_1_selection_without_an_evaluation_function_stops_before_any_step(stdlib_tokens, tmp_path):
    run_dir = tmp_path / "no-scorer"
    with pytest.raises(UserError, match="best_by=pass@1: expected an evaluation function"):
        train_from_cli("tiny-pretrain", stdlib_tokens, run_dir, overrides=nano_overrides(2, **{"checkpoint.best_by": "pass@1"}))
    assert not run_dir.exists()
