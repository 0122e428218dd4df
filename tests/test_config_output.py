"""Every config field says once whether it changes the output (`textbooks.config.output` or
`pacing`), and stage keys, fingerprints and the arms check are derived from that declaration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from textbooks.config import from_dict, output, output_data, pacing, undeclared_fields
from textbooks.curate.job import CurateConfig
from textbooks.decontam.config import DecontamConfig
from textbooks.eval.heldout import HeldoutConfig
from textbooks.eval.runner import EvalConfig
from textbooks.experiments.data_quality import DataQualityConfig
from textbooks.experiments.pruning import PruningConfig
from textbooks.pipeline.kinds import STAGES
from textbooks.synth.job import SynthConfig
from textbooks.teacher.server import ServerConfig
from textbooks.train.config import TrainConfig
from textbooks.train.tokenize import TokenizeConfig

COMMAND_CONFIGS = (CurateConfig, SynthConfig, DecontamConfig, TokenizeConfig, TrainConfig, EvalConfig, HeldoutConfig,
                   ServerConfig, DataQualityConfig, PruningConfig)


def all_config_classes() -> list[type]:
    found = {stage.config_class for stage in STAGES.values()} | set(COMMAND_CONFIGS)
    return sorted(found, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", all_config_classes(), ids=lambda cls: cls.__name__)
def test_every_config_field_says_whether_it_changes_the_output(cls):
    missing = undeclared_fields(cls)
    assert not missing, (f"{cls.__name__}: {', '.join(missing)} must say whether they change the output "
                         "(textbooks.config.output(...) or pacing(...))")


@dataclasses.dataclass
class Section:
    workers: int = pacing(4)
    threshold: float = output(0.5)


@dataclasses.dataclass
class Job:
    seed: int = output(0)
    cache: str = pacing("x.sqlite")
    section: Section = output(default_factory=Section)


@dataclasses.dataclass
class Forgetful:
    fast: int = pacing(1)
    forgotten: int = 2


@dataclasses.dataclass
class HoldsForgetful:
    seed: int = output(0)
    inner: Forgetful | None = output(None)


def test_an_undeclared_field_is_found_even_in_a_nested_section():
    assert undeclared_fields(HoldsForgetful) == ["inner.forgotten"]


def test_output_data_leaves_out_pacing_fields_at_every_depth():
    assert output_data(Job()) == {"seed": 0, "section": {"threshold": 0.5}}
    assert output_data(from_dict(Job, {"cache": "y", "section": {"workers": 9}})) == output_data(Job())
    assert output_data(from_dict(Job, {"section": {"threshold": 0.7}})) != output_data(Job())


def shipped_keys(*overrides: str) -> dict[str, str]:
    from textbooks.pipeline.plan import make_plan
    from textbooks.pipeline.spec import load_spec

    plan = make_plan(load_spec("demo", list(overrides)), Path("/nonexistent/run"))
    return {name: planned.key for name, planned in plan.stages.items()}


@pytest.fixture
def no_listing(monkeypatch):
    # The curate stage's key also hashes its source tree's listing: not what these tests are about.
    for stage in STAGES.values():
        monkeypatch.setattr(type(stage), "key_extra", lambda self, config: "listing")


@pytest.mark.parametrize("pacing_change", [
    "stages.textbooks.config.teacher.max_in_flight=3",  # a teacher field
    "stages.textbooks.config.batch_size=2",
    "stages.pretrain-pack.config.workers=1",
    "stages.pretrain.config.log.every=7",  # a nested section that is pacing as a whole
    "stages.code.config.executor.workers=5",
    "stages.humaneval.config.settings.workers=1",
    "stages.exercises-clean.config.chunk_size=10",
])
def test_a_pacing_setting_keeps_every_stage_key(no_listing, pacing_change):
    assert shipped_keys(pacing_change) == shipped_keys()


@pytest.mark.parametrize(("change", "stage"), [
    ("stages.textbooks.config.teacher.model=other", "textbooks"),
    ("stages.pretrain.config.optim.lr=0.01", "pretrain"),
    ("stages.humaneval.config.settings.n=3", "humaneval"),
    ("stages.exercises-clean.config.tau=0.8", "exercises-clean"),
])
def test_an_output_setting_changes_its_stage_key(no_listing, change, stage):
    before, after = shipped_keys(), shipped_keys(change)
    assert after[stage] != before[stage]


def test_turning_a_judge_on_changes_the_key_and_its_old_spelling_keys_like_the_new(no_listing):
    before = shipped_keys()
    old = shipped_keys("stages.exercises-clean.config.judge_endpoint=http://h/v1",
                       "stages.exercises-clean.config.judge_model=m")
    new = shipped_keys("stages.exercises-clean.config.judge={endpoints: [http://h/v1], model: m}")
    assert old == new and new["exercises-clean"] != before["exercises-clean"]
    assert new["finetune"] != before["finetune"]  # and what reads it
    embedded = shipped_keys("stages.humaneval.config.judge.endpoint=embedded")
    assert embedded == shipped_keys("stages.humaneval.config.judge={}") and embedded["humaneval"] != before["humaneval"]
    # Only its model and budget change what a judge says, not where it is served.
    assert (shipped_keys("stages.humaneval.config.judge={endpoints: [http://a/v1], model: m, max_in_flight: 2}")
            == shipped_keys("stages.humaneval.config.judge={endpoints: [http://b/v1], model: m}"))
