"""Checkpoint rotation: the newest k and the best by a metric survive; `latest` and `best` name them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from textbooks.model.load import load_model
from textbooks.model.phi import Phi, PhiConfig
from textbooks.train import state
from textbooks.train.config import TrainConfig
from textbooks.train.parallel import Runtime
from textbooks.train.trainer import build_optimizer

CPU = Runtime(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
NANO = PhiConfig.from_preset("nano")


def save_series(run_dir: Path, metric: str, values: list[float], keep_last: int = 1) -> None:
    torch.manual_seed(0)
    model = Phi(NANO)
    optimizer = build_optimizer(model, TrainConfig(), CPU.device)
    for step, value in enumerate(values, start=1):
        with torch.no_grad():
            model.lm_head.bias.fill_(step)  # tells the saved models apart
        state.save(run_dir, step, model, optimizer, CPU, model_config=NANO, meta={"metrics": {}},
                        keep_last=keep_last, best_by=metric, score=lambda _dir, v=value: {metric: v})


def kept_steps(run_dir: Path) -> list[int]:
    return sorted(int(p.name.removeprefix("step-")) for p in (run_dir / "checkpoints").glob("step-*"))


@pytest.mark.parametrize(("metric", "values", "best_step"), [
    ("val_loss", [3.0, 2.0, 2.5, 2.7], 2),  # lower is better
    ("pass@1", [0.1, 0.3, 0.2, 0.25], 2),  # higher is better
])
def test_keeps_the_newest_and_the_best_checkpoint_by_its_metric(tmp_path, metric, values, best_step):
    save_series(tmp_path, metric, values)
    assert kept_steps(tmp_path) == [best_step, 4]
    assert state.latest(tmp_path).step == 4 and state.best(tmp_path).step == best_step
    assert state.best(tmp_path).meta["metrics"][metric] == values[best_step - 1]
    best_model = load_model(state.best(tmp_path).path / "model")
    assert torch.all(best_model.lm_head.bias == best_step)


def test_latest_falls_back_to_the_newest_complete_step_when_its_pointer_is_lost(tmp_path):
    save_series(tmp_path, "val_loss", [3.0, 2.0, 1.0], keep_last=3)
    (tmp_path / "checkpoints" / "latest").unlink()
    (tmp_path / "checkpoints" / "step-0000004.tmp").mkdir()  # a save that never finished
    assert state.latest(tmp_path).step == 3
