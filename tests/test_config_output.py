"""Every config field says once whether it changes the output (`textbooks.config.output` or
`pacing`), and stage keys, fingerprints and the arms check are derived from that declaration."""

from __future__ import annotations

import dataclasses

import pytest

from textbooks.config import from_dict, output, output_data, pacing, undeclared_fields
from textbooks.curate.job import CurateJob
from textbooks.decontam.config import DecontamConfig
from textbooks.eval.heldout import HeldoutConfig
from textbooks.eval.runner import EvalConfig
from textbooks.experiments.data_quality import DataQualityConfig
from textbooks.experiments.pruning import PruningConfig
from textbooks.pipeline.stages import stage_kinds
from textbooks.synth.job import SynthJob
from textbooks.teacher.server import ServerConfig
from textbooks.train.config import TrainConfig
from textbooks.train.tokenize import TokenizeConfig

COMMAND_CONFIGS = (CurateJob, SynthJob, DecontamConfig, TokenizeConfig, TrainConfig, EvalConfig, HeldoutConfig,
                   ServerConfig, DataQualityConfig, PruningConfig)


def all_config_classes() -> list[type]:
    found = {stage.config_class for stage in stage_kinds().values()} | set(COMMAND_CONFIGS)
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
