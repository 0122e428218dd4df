"""The trainer's speed options: chunked loss (the default), torch.compile, bf16 autocast on CPU, and
what it does with a batch that has nothing to learn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from textbooks.data.datasets import import_jsonl
from textbooks.errors import UserError
from textbooks.train.config import TrainConfig
from textbooks.train.metrics import read_metrics
from textbooks.train.tokenize import MixtureInput, pack_datasets
from textbooks.train.trainer import train_from_cli
from train_support import losses, nano_overrides

STEPS = 4


def nano_run(stdlib_tokens: Path, run_dir: Path, **extra) -> dict[int, float]:
    train_from_cli("tiny-pretrain", stdlib_tokens, run_dir, overrides=nano_overrides(STEPS, **{"eval.batches": 0, **extra}))
    return losses(run_dir)


@pytest.fixture(scope="module")
def default_run(stdlib_tokens, tmp_path_factory) -> Path:
    """The run with every option at its default (chunked loss, eager, fp32), trained once for the
    tests that compare an option against it: training is deterministic on CPU."""
    run_dir = tmp_path_factory.mktemp("default") / "run"
    nano_run(stdlib_tokens, run_dir)
    return run_dir


def curve(run: dict[int, float]) -> list[float]:
    return [run[step] for step in range(1, STEPS + 1)]


@pytest.mark.slow
def test_the_chunked_loss_trains_as_the_unfused_one(stdlib_tokens, default_run, tmp_path):
    chunked = losses(default_run)  # loss_chunk_size: its default, 1024
    odd_chunks = nano_run(stdlib_tokens, tmp_path / "odd", loss_chunk_size=37)  # 37 does not divide 2 x 64 tokens
    unfused = nano_run(stdlib_tokens, tmp_path / "unfused", loss_chunk_size=0)
    assert len(chunked) == STEPS
    np.testing.assert_allclose(curve(chunked), curve(unfused), rtol=0, atol=1e-4)
    np.testing.assert_allclose(curve(odd_chunks), curve(unfused), rtol=0, atol=1e-4)


@pytest.mark.slow
def test_the_first_step_is_timed_apart_from_tokens_per_s(default_run):
    records = read_metrics(default_run / "metrics.jsonl")
    first = [r for r in records if "first_step_s" in r]
    assert [r["step"] for r in first] == [1] and first[0]["first_step_s"] > 0
    speeds = {r["step"] for r in records if "tokens_per_s" in r}
    assert speeds == set(range(2, STEPS + 1))  # log.every=1: every step after the first


@pytest.mark.slow
def test_a_compiled_run_reaches_the_eager_losses(stdlib_tokens, default_run, tmp_path):
    eager = losses(default_run)
    compiled = nano_run(stdlib_tokens, tmp_path / "compiled", compile=True)
    # Inductor fuses and reorders float operations: close, not bitwise.
    np.testing.assert_allclose(curve(compiled), curve(eager), rtol=0, atol=2e-3)
    first = [r["first_step_s"] for r in read_metrics(tmp_path / "compiled" / "metrics.jsonl") if "first_step_s" in r]
    assert len(first) == 1


@pytest.mark.slow
@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="bf16 matmuls on CPU need oneDNN")
def test_bf16_autocast_on_cpu_trains_close_to_fp32(stdlib_tokens, default_run, tmp_path):
    fp32 = losses(default_run)
    bf16 = nano_run(stdlib_tokens, tmp_path / "bf16", precision="bf16")
    assert all(np.isfinite(curve(bf16)))
    # bf16 keeps 8 bits of mantissa: the losses (about 10.8 nats at the start) agree to a few hundredths.
    np.testing.assert_allclose(curve(bf16), curve(fp32), rtol=0, atol=0.05)
    assert curve(bf16) != curve(fp32)  # it did run in bf16


def test_compile_without_a_cpp_compiler_is_a_user_error_before_any_step(stdlib_tokens, tmp_path, monkeypatch):
    from torch._inductor import config as inductor_config

    monkeypatch.setattr(inductor_config.cpp, "cxx", (None, "no-such-c++-compiler"))
    with pytest.raises(UserError, match="compile=true: torch.compile on CPU needs a C\\+\\+ compiler"):
        nano_run(stdlib_tokens, tmp_path / "run", compile=True)
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_a_negative_chunk_size_is_a_user_error():
    with pytest.raises(UserError, match="loss_chunk_size: got -1"):
        TrainConfig(loss_chunk_size=-1)


def long_prompt_pack(root: Path) -> Path:
    """Exercises whose prompt is far longer than the window: most windows hold no solution token."""
    src = root / "exercises.jsonl"
    with src.open("w", encoding="utf-8") as out:
        for i in range(6):
            prompt = f"def f_{i}(x):\n    " + '"""' + " ".join(f"step {j} of {i}" for j in range(80)) + '"""\n'
            out.write(json.dumps({"prompt": prompt, "solution": f"    return x + {i}\n"}) + "\n")
    dataset = import_jsonl(src, root / "exercises", kind="exercise")
    out = root / "pack"
    pack_datasets([MixtureInput(dataset.path)], out, val_fraction=0.0, seed=0, loss_on="solution")
    return out


@pytest.mark.slow
def test_a_batch_without_any_solution_token_skips_its_update_instead_of_nan(tmp_path, capsys):
    pack = long_prompt_pack(tmp_path)
    overrides = nano_overrides(12, **{"data.loss_on": "solution", "data.seq_len": 16, "batch.global_batch": 1,
                                      "batch.micro_batch": 1, "eval.batches": 0})
    summary = train_from_cli("tiny-finetune", pack, tmp_path / "run", overrides=overrides)
    skipped = capsys.readouterr().out.count("has no target token")
    logged = losses(tmp_path / "run")
    assert skipped > 0 and len(logged) > 0 and skipped + len(logged) == 12
    assert all(np.isfinite(list(logged.values()))) and summary["step"] == 12
