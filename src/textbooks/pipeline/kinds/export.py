"""The `export-hf` stage kind: a trained model as a transformers folder (`textbooks export-hf`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textbooks.config import output
from textbooks.pipeline.kinds.base import MODEL, Role, Stage, StageContext


@dataclass
class ExportConfig:
    """The `export-hf` stage: the weights' dtype in the folder. Here, not in model/hf.py, so that
    starting `textbooks run` does not import torch (about 1 s) for a dataclass."""

    dtype: str = output("float32")


class ExportStage(Stage):
    kind = "export-hf"
    produces = MODEL
    config_class = ExportConfig
    roles = {"model": Role(accepts=(MODEL,))}

    def run(self, ctx: StageContext) -> dict[str, Any]:
        from textbooks.model.hf import export_hf
        from textbooks.model.load import load_model

        model = load_model(ctx.path("model"), dtype=ctx.config.dtype)
        export_hf(model, ctx.out)
        return {"parameters": model.num_parameters(), "dtype": ctx.config.dtype}
