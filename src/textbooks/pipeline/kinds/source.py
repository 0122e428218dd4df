"""The `import` stage kind: local trees of source files as a `code` dataset (`textbooks dataset import`)."""

from __future__ import annotations

from typing import Any

from textbooks.data.sources import ImportConfig, import_local_trees, listing_sha256
from textbooks.errors import UserError
from textbooks.pipeline.kinds.base import DATASET, Stage, StageContext


class ImportStage(Stage):
    kind = "import"
    produces = DATASET
    config_class = ImportConfig

    def key_extra(self, config: ImportConfig) -> str:
        missing = [str(tree) for tree in config.roots if not tree.is_dir()]
        if not config.roots or missing:
            raise UserError(f"roots: {missing[0] if missing else 'empty'}: directory not found; expected source trees to import")
        return listing_sha256(config.roots, config.pattern)

    def run(self, ctx: StageContext) -> dict[str, Any]:
        cfg = ctx.config
        ds = import_local_trees(cfg.roots, ctx.out, pattern=cfg.pattern, rows_per_shard=cfg.rows_per_shard)
        return {"rows": ds.num_rows, "fingerprint": ds.fingerprint}
