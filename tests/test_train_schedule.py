"""The learning-rate schedule matches its formula at chosen steps."""

from __future__ import annotations

import math

import pytest

from textbooks.config import load_config
from textbooks.errors import UserError
from textbooks.train.config import TrainConfig, preset_path
from textbooks.train.schedule import lr_at

PAPER = dict(peak=1e-3, warmup_steps=750, total_steps=36_000)  # phi-1-base pretraining


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (1, 1e-3 / 750),  # the first update already moves
        (375, 0.5e-3),  # half way through the warmup
        (750, 1e-3),  # the peak
        (750 + (36_000 - 750) // 5, 0.8e-3),  # a fifth of the decay: 7,050 steps after the peak
        (24_000, 1e-3 * (36_000 - 24_000) / (36_000 - 750)),  # phi-1-base stops here, lr still 3.4e-4
        (36_000, 0.0),  # the schedule's end
        (40_000, 0.0),  # past it, the schedule holds its floor
    ],
)
def test_paper_schedule_warms_up_linearly_then_decays_linearly_over_36k_steps(step, expected):
    assert lr_at(step, **PAPER) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_finetune_schedule_warms_up_50_steps_and_decays_to_zero_at_6000():
    finetune = dict(peak=1e-4, warmup_steps=50, total_steps=6_000)
    assert lr_at(25, **finetune) == pytest.approx(0.5e-4)
    assert lr_at(50, **finetune) == pytest.approx(1e-4)
    assert lr_at(3_025, **finetune) == pytest.approx(0.5e-4)
    assert lr_at(6_000, **finetune) == 0.0


@pytest.mark.parametrize("progress", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_cosine_schedule_follows_half_a_cosine_down_to_min_lr(progress):
    warmup, total, peak, floor = 100, 1_100, 3e-4, 3e-5
    step = warmup + round(progress * (total - warmup))
    expected = floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    assert lr_at(step, peak=peak, warmup_steps=warmup, total_steps=total, kind="cosine", min_lr=floor) == pytest.approx(expected)


def test_constant_schedule_holds_the_peak_after_warmup():
    assert [lr_at(s, peak=1.0, warmup_steps=4, total_steps=10, kind="constant") for s in (2, 4, 9, 20)] == [0.5, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("preset", ["phi-1-pretrain", "phi-1-finetune", "phi-1-small-pretrain", "phi-1-small-finetune",
                                    "tiny-pretrain", "tiny-finetune"])
def test_every_packaged_preset_loads(preset):
    cfg = load_config(TrainConfig, preset_path(preset))
    assert cfg.max_steps > 0 and cfg.schedule_steps >= cfg.max_steps


def test_paper_presets_carry_the_paper_hyperparameters():
    base = load_config(TrainConfig, preset_path("phi-1-pretrain"))
    assert (base.data.seq_len, base.batch.global_batch, base.optim.lr, base.schedule.warmup_steps) == (2048, 1024, 1e-3, 750)
    assert (base.schedule.decay_steps, base.max_steps, base.optim.weight_decay) == (36_000, 24_000, 0.1)
    assert (base.model.attn_pdrop, base.model.resid_pdrop) == (0.1, 0.1)
    tune = load_config(TrainConfig, preset_path("phi-1-finetune"))
    assert (tune.batch.global_batch, tune.optim.lr, tune.schedule.warmup_steps, tune.max_steps) == (256, 1e-4, 50, 6_000)
    assert (tune.optim.weight_decay, tune.checkpoint.every) == (0.01, 1_000)


def test_global_batch_that_does_not_split_over_ranks_is_a_user_error():
    cfg = load_config(TrainConfig, None, ["batch.global_batch=12", "batch.micro_batch=4"])
    assert cfg.grad_accum_steps(1) == 3
    with pytest.raises(UserError, match="batch.global_batch: 12 is not a multiple"):
        cfg.grad_accum_steps(2)
