"""The torch that training needs: declared in pyproject.toml, checked at start-up in one line, and
agreeing with the features the code uses (train/torch_version.py)."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import pytest
import torch
import torch.distributed.checkpoint as dcp

from textbooks.errors import UserError
from textbooks.train.config import TrainConfig
from textbooks.train.torch_version import FEATURES, TORCH_MINIMUM, parse_version, require_torch
from textbooks.train.trainer import train

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "textbooks"


def test_pyproject_declares_the_minimum_the_features_need():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = next(d for d in dependencies if re.match(r"torch\b", d))
    assert declared == f"torch>={TORCH_MINIMUM[0]}.{TORCH_MINIMUM[1]}"


def test_every_feature_in_the_table_is_used_where_it_says_and_every_use_is_in_the_table():
    for name, (_, path, text) in FEATURES.items():
        assert text in (SRC / path).read_text(), f"{name}: no longer in {path}; update train/torch_version.py"
    uses = {(path.relative_to(SRC).as_posix(), marker) for path in SRC.rglob("*.py")
            for marker in ("no_dist=", "torch.distributed.fsdp import")
            if marker in path.read_text() and path.name != "torch_version.py"}
    covered = {(path, marker) for path, marker in uses if any(p == path and marker in t for _, p, t in FEATURES.values())}
    assert uses == covered


def test_the_installed_torch_has_every_feature():
    from torch.distributed.fsdp import fully_shard  # noqa: F401 -- importable is the check

    assert "no_dist" in inspect.signature(dcp.save).parameters and "no_dist" in inspect.signature(dcp.load).parameters
    assert parse_version(torch.__version__) >= TORCH_MINIMUM


def test_an_older_torch_stops_training_with_one_line_naming_what_it_lacks(tmp_path, monkeypatch):
    with pytest.raises(UserError, match=r"torch 2\.6\.0\+cu124: training needs torch>=2\.7 \(dcp\.save and dcp\.load with "
                                        r"no_dist=\)") as err:
        require_torch("2.6.0+cu124")
    assert "\n" not in str(err.value)
    require_torch("2.7.1+cu126")
    require_torch("2.10.0a0+git123")
    monkeypatch.setattr(torch, "__version__", "2.5.1")
    with pytest.raises(UserError, match="torch 2.5.1: training needs torch>=2.7 \\(FSDP2's public fully_shard, dcp"):
        train(TrainConfig(), tmp_path / "no-data", tmp_path / "run")  # before it looks at the data
    assert not (tmp_path / "run").exists()
