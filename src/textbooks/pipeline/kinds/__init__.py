"""Every stage kind the pipeline can run, in one ordered registry.

The order is a data pipeline's: sources, curation, synthesis, decontamination, tokenizing,
training, export, evaluation. Adding a kind is one class in the module of its family and one
entry here; nothing registers itself on import.
"""

from __future__ import annotations

from textbooks.pipeline.kinds.base import Stage
from textbooks.pipeline.kinds.curate import CurateStage
from textbooks.pipeline.kinds.decontam import DecontamStage
from textbooks.pipeline.kinds.evaluate import EvalStage, HeldoutLossStage
from textbooks.pipeline.kinds.export import ExportStage
from textbooks.pipeline.kinds.source import ImportStage
from textbooks.pipeline.kinds.synth import SynthExercisesStage, SynthTextbooksStage
from textbooks.pipeline.kinds.train import TokenizeStage, TrainStage

STAGES: dict[str, Stage] = {stage.kind: stage for stage in (
    ImportStage(), CurateStage(), SynthTextbooksStage(), SynthExercisesStage(), DecontamStage(), TokenizeStage(),
    TrainStage(), ExportStage(), EvalStage(), HeldoutLossStage())}
