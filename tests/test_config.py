from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from textbooks.config import load_config, to_dict
from textbooks.errors import UserError


@dataclass(frozen=True)
class Optim:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.95)


@dataclass(frozen=True)
class Run:
    name: str
    steps: int = 10
    precision: Literal["fp32", "bf16"] = "fp32"
    compile: bool = False
    init: str | None = None
    optim: Optim = field(default_factory=Optim)
    tags: list[str] = field(default_factory=list)


def test_yaml_then_overrides_in_order(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("name: tiny\nsteps: 100\noptim:\n  lr: 3.0e-4\n")
    cfg = load_config(Run, path, ["optim.lr=1e-3", "steps=5", "compile=true", "tags=[a, b]", "init=null"])
    assert cfg == Run(name="tiny", steps=5, compile=True, optim=Optim(lr=1e-3), tags=["a", "b"])


def test_numeric_strings_are_read_as_numbers():
    # YAML 1.1 reads 1e-3 as a string; a float field still gets a float.
    assert load_config(Run, None, ["name=x", "optim.lr=1e-3"]).optim.lr == pytest.approx(1e-3)


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lrr=1", "unknown key 'lrr'"),
        ("steps=many", "steps: expected int"),
        ("steps=1.5", "steps: expected an integer"),
        ("precision=fp8", "expected one of 'fp32', 'bf16'"),
        ("compile=yes please", "expected true or false"),
        ("noequals", "expected key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(UserError, match=message):
        load_config(Run, None, ["name=x", override])


def test_missing_required_key_and_bad_yaml(tmp_path):
    with pytest.raises(UserError, match="missing required key 'name'"):
        load_config(Run)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(UserError, match=r"bad.yaml line \d+: not valid YAML"):
        load_config(Run, bad)


def test_to_dict_gives_plain_yaml_ready_data():
    a = load_config(Run, None, ["name=x"])
    assert to_dict(a)["optim"] == {"lr": 1e-3, "betas": [0.9, 0.95]}
