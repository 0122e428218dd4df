"""Held-out loss: how well a model predicts each benchmark's canonical solution given its prompt.

    summary = heldout_loss(HeldoutConfig(model="runs/demo/finetune", out="runs/loss"))

A signal that moves where pass@1 does not: a model of a few million parameters solves no HumanEval
task, yet the data it was trained on changes how many nats it needs per solution token. The prompt
is the one the eval shows (`textbooks.benchmarks`), encoded on its own and followed by the
reference solution encoded on its own, as a generation after that prompt would be; only the
solution's tokens count. A sequence longer than the model's context keeps its last tokens (the
prompt is cut from the left) and is counted as truncated.

    OUT/losses.jsonl   one line per task: benchmark, task_id, loss (mean nats per solution token),
                       tokens (solution tokens scored), truncated
    OUT/summary.json   per benchmark: mean loss over all solution tokens, the mean of per-task
                       losses, tasks, tokens, truncated; and the model scored
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from textbooks.config import output, pacing
from textbooks.errors import UserError
from textbooks.io import atomic_write_json, atomic_write_text

SUMMARY, LOSSES = "summary.json", "losses.jsonl"
HEAD_CHUNK = 2048  # positions through the head at a time: bounds the logits to 2048 x vocab floats
LOSS_BENCHMARKS = ("humaneval", "mbpp", "mbpp-sanitized", "novel")  # those with a reference solution per task


@dataclass
class HeldoutConfig:
    """`textbooks heldout-loss` (and the pipeline's `heldout-loss` section)."""

    model: str | None = output(None)  # checkpoint, run directory, Hugging Face folder or preset:NAME
    out: Path | None = pacing(None)
    benchmarks: list[str] = output(default_factory=lambda: ["humaneval", "mbpp"])
    data_dir: Path | None = pacing(None)  # benchmark data files (else $TEXTBOOKS_BENCHMARK_DIR, then download)
    batch_size: int = pacing(8)  # sequences per forward pass
    device: str = output("cpu")
    dtype: str = output("float32")
    limit: int | None = output(None)  # only the first N tasks of each benchmark (quick runs)
    progress: bool = pacing(True)

    def __post_init__(self) -> None:
        unknown = [b for b in self.benchmarks if b not in LOSS_BENCHMARKS]
        if not self.benchmarks or unknown:
            raise UserError(f"benchmarks: {unknown[0] if unknown else 'empty'}; expected some of "
                            f"{', '.join(LOSS_BENCHMARKS)} (benchmarks with one reference solution per task)")
        if self.batch_size < 1 or (self.limit is not None and self.limit < 1):
            raise UserError(f"batch_size {self.batch_size}, limit {self.limit}; expected 1 or more")


@dataclass(frozen=True)
class Scored:
    benchmark: str
    task_id: Any
    prompt_ids: list[int]
    solution_ids: list[int]


def heldout_loss(cfg: HeldoutConfig) -> dict[str, Any]:
    """Score every task of every benchmark; write OUT/losses.jsonl and OUT/summary.json; return the summary."""
    import torch

    from textbooks.benchmarks import load_benchmark
    from textbooks.model.load import load_model
    from textbooks.tokenizer import load_tokenizer

    if cfg.model is None or cfg.out is None:
        raise UserError("heldout-loss: --model and --out are required")
    model = load_model(cfg.model, dtype=cfg.dtype, device=cfg.device)
    tokenizer = load_tokenizer()
    items: list[Scored] = []
    for name in cfg.benchmarks:
        tasks = list(load_benchmark(name, cfg.data_dir).tasks.values())[: cfg.limit]
        prompts = tokenizer.encode_batch([t.prompt for t in tasks])
        solutions = tokenizer.encode_batch([t.reference for t in tasks])
        items += [Scored(name, t.task_id, p.ids, s.ids) for t, p, s in zip(tasks, prompts, solutions) if s.ids]
    context = model.config.max_seq_len
    lines: list[dict[str, Any]] = []
    # Longest first: the batches that need the most memory come while it is still free.
    order = sorted(items, key=lambda i: -(len(i.prompt_ids) + len(i.solution_ids)))
    with torch.inference_mode():
        for start in tqdm(range(0, len(order), cfg.batch_size), desc="held-out loss", unit="batch",
                          disable=not cfg.progress):
            batch = order[start : start + cfg.batch_size]
            lines += _score_batch(model, batch, context, cfg.device)
    position = {(item.benchmark, item.task_id): i for i, item in enumerate(items)}
    lines.sort(key=lambda line: position[line["benchmark"], line["task_id"]])  # benchmark file order
    summary = {"model": str(cfg.model), "context": context, "benchmarks": {
        name: _summarize([line for line in lines if line["benchmark"] == name]) for name in cfg.benchmarks}}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / LOSSES, "".join(json.dumps(line) + "\n" for line in lines))
    atomic_write_json(out / SUMMARY, summary)
    return summary


def _score_batch(model, batch: list[Scored], context: int, device: str) -> list[dict[str, Any]]:
    """Per-task summed cross-entropy over the solution tokens, one forward pass for the batch."""
    import torch
    import torch.nn.functional as F

    from textbooks.model.loss import IGNORE_INDEX

    rows, targets, truncated = [], [], []
    for item in batch:
        ids = item.prompt_ids + item.solution_ids
        labels = [IGNORE_INDEX] * len(item.prompt_ids) + item.solution_ids
        # Position t predicts token t+1; the window keeps the last `context` inputs.
        inputs, shifted = ids[:-1][-context:], labels[1:][-context:]
        truncated.append(len(ids) - 1 > context)
        rows.append(inputs)
        targets.append(shifted)
    width = max(map(len, rows))
    # Right padding needs no attention mask: a causal model never looks at the positions after a token.
    input_ids = torch.tensor([r + [0] * (width - len(r)) for r in rows], device=device)
    target_ids = torch.tensor([t + [IGNORE_INDEX] * (width - len(t)) for t in targets], device=device)
    # The head runs on the solution positions only: with a 51K vocabulary it is most of the work.
    scored = target_ids != IGNORE_INDEX
    hidden = model.hidden_states(input_ids)[scored]
    row_of = scored.nonzero()[:, 0]
    sums = torch.zeros(len(batch), dtype=torch.float64, device=device)
    for start in range(0, hidden.shape[0], HEAD_CHUNK):
        logits = model.lm_head(hidden[start : start + HEAD_CHUNK]).float()
        losses = F.cross_entropy(logits, target_ids[scored][start : start + HEAD_CHUNK], reduction="none")
        sums.index_add_(0, row_of[start : start + HEAD_CHUNK], losses.double())
    counted = scored.sum(dim=1)
    return [{"benchmark": item.benchmark, "task_id": item.task_id, "loss": float(total) / int(n) if n else math.nan,
             "sum": float(total), "tokens": int(n), "truncated": cut}
            for item, total, n, cut in zip(batch, sums.tolist(), counted.tolist(), truncated)]


def _summarize(lines: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [line for line in lines if line["tokens"]]
    tokens = sum(line["tokens"] for line in scored)
    return {"loss": sum(line["sum"] for line in scored) / tokens if tokens else None,
            "task_mean_loss": sum(line["loss"] for line in scored) / len(scored) if scored else None,
            "tasks": len(scored), "tokens": tokens, "truncated": sum(line["truncated"] for line in lines)}


def read_losses(out: str | Path) -> list[dict[str, Any]]:
    """OUT/losses.jsonl of a finished run."""
    from textbooks.io import read_jsonl

    return [line for _, line in read_jsonl(Path(out) / LOSSES)]
