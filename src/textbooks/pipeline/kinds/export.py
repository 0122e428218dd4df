"""The `export-hf` stage kind: a trained model as a transformers folder (`textbooks export-hf`)."""

from __future__ import annotations

from typing import Any

from textbooks.model.hf import ExportConfig
from textbooks.pipeline.kinds.base import MODEL, Role, Stage, StageContext


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
