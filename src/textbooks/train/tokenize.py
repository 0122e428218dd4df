"""Datasets -> token shards for training: the `textbooks tokenize` stage.

    OUT/
      pack.json               manifest (below)
      train/tokens-00000.bin  header + flat token ids, documents each followed by <|endoftext|>
      train/mask-00000.bin    uint8 loss mask, one byte per token: 1 = the token is a training target
      train/docs-00000.idx    int64 document boundaries: n_docs + 1 offsets; document i is
                              tokens[off[i]:off[i+1]], its closing <|endoftext|> included
      val/...                 the same for the held-out documents

The shard files' layout is in textbooks.train.shards.

pack.json: `fingerprint` (hash of the settings, the tokenizer and the input fingerprints; an
unchanged re-run is a no-op), `dtype`, `itemsize`, `vocab_size`, `eos_id`, `loss_on`, `seed`,
`val_fraction`; `inputs`, one entry per --input with its path, fingerprint, kind, weight, rows
and the realised `train`/`val` documents and tokens (and `share` of the training tokens); `splits`,
per split its documents, tokens and `shards` ({index, documents, tokens, max_id, targets}, in stream
order; see textbooks.train.shards).

Shard k of each split comes from work unit k: the k-th Parquet shard of the inputs taken in order
(input 0's shards, then input 1's, ...). Units are tokenized in parallel (`workers` processes, the
fast tokenizer's `encode_batch`) and each is marked done in the staging directory `.OUT.partial/`,
so an interrupted run resumes at the first unfinished unit; the finished directory is renamed into
place with its manifest, like a dataset (see textbooks.data.datasets). A split part with no documents
writes no files.

Mixture: an input's weight is how many times its documents are seen per pass over the pack.
2.0 puts every training document in twice, 0.5 a seeded half of them, 1.5 every document once and
a seeded half twice. Copies are shuffled within each record batch so that a document and its copy
rarely share a training window. pack.json records the realised documents and tokens per input and
split. Weights change what is on disk, not the loader: the loader reads the stream uniformly.

Held-out split: a seeded `val_fraction` of each input's documents (at least one, while at least one
is left for training), whole documents only, each once whatever the weight.

Exercises (`prompt`, `solution`) are tokenized as prompt and solution separately, concatenated:
at evaluation the model is given the prompt tokenized on its own and continues it, so training on
the same split keeps the boundary exact (BPE on `text` could merge across it). `loss_on="solution"`
masks the prompt tokens; `loss_on="all"` (phi-1's finetune: exercises joined by <|endoftext|>, a
loss on every token) masks nothing. Code and textbooks are trained on every token either way, and
the closing <|endoftext|> is always a target.

A literal "<|endoftext|>" inside a document (tokenizer code, say) is encoded as plain text, never
as the separator: only the packer places separators.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tokenizers import Tokenizer

from textbooks import __version__
from textbooks.config import output, pacing
from textbooks.data.datasets import Dataset, fingerprint, iter_shard_batches
from textbooks.errors import UserError
from textbooks.io import StagedDirectory, finished_manifest
from textbooks.train.shards import FORMAT_VERSION, MANIFEST, SPLITS, ShardWriter, token_dtype

LossOn = Literal["all", "solution"]
LOSS_ON: tuple[str, ...] = ("all", "solution")
EOS_TOKEN = "<|endoftext|>"
STAGE = "tokenize"

BATCH_ROWS = 1024


@dataclass(frozen=True)
class MixtureInput:
    """One dataset of the mixture and its weight (passes over its documents per mixture epoch)."""

    path: Path
    weight: float = 1.0

    @classmethod
    def parse(cls, spec: str) -> MixtureInput:
        """`DATASET` or `DATASET:WEIGHT` (a path may contain ':'; only a numeric suffix is a weight)."""
        path, sep, weight = spec.rpartition(":")
        if sep:
            try:
                return cls(Path(path), _check_weight(float(weight), spec))
            except ValueError:
                pass
        return cls(Path(spec))


def _check_weight(weight: float, spec: str) -> float:
    if not np.isfinite(weight) or weight < 0:
        raise UserError(f"--input {spec}: weight must be a number >= 0, got {weight}")
    return weight


@dataclass(frozen=True)
class _Unit:
    """One input Parquet shard: its rows' training copies and held-out flags, and where it goes."""

    index: int
    input_index: int
    kind: str
    parquet: str
    copies: np.ndarray  # training copies per row (0 for held-out rows)
    held_out: np.ndarray  # bool per row
    seed: int


@dataclass
class TokenizeConfig:
    """`textbooks tokenize` (and the pipeline's `tokenize` section)."""

    inputs: list[str] = output(default_factory=list)  # DATASET[:WEIGHT] each
    out: Path | None = pacing(None)
    val_fraction: float = output(0.005)  # seeded fraction of each input's documents held out (at least one)
    loss_on: LossOn = output("all")  # exercises: "all" trains on every token (phi-1), "solution" masks the prompt
    seed: int = output(0)  # the held-out choice, fractional weights and copy order
    workers: int = pacing(default_factory=lambda: os.cpu_count() or 1)
    tokenizer: Path | None = output(None)  # a tokenizer.json; None: phi-1's (codegen-350M-mono)


def tokenize(cfg: TokenizeConfig) -> dict[str, Any]:
    """`textbooks tokenize` as a library call; returns pack.json."""
    if not cfg.inputs:
        raise UserError("tokenize: no input; expected --input DATASET[:WEIGHT] (or `inputs:` in the config)")
    if cfg.out is None:
        raise UserError("tokenize: --out is required (or `out:` in the config); expected the pack directory")
    return pack_datasets([MixtureInput.parse(spec) for spec in cfg.inputs], cfg.out, val_fraction=cfg.val_fraction,
                         loss_on=cfg.loss_on, seed=cfg.seed, workers=cfg.workers, tokenizer=cfg.tokenizer)


def pack_datasets(
    inputs: Sequence[MixtureInput],
    out: str | Path,
    *,
    val_fraction: float = 0.005,
    loss_on: LossOn = "all",
    seed: int = 0,
    workers: int = 1,
    tokenizer: Tokenizer | str | Path | None = None,
) -> dict[str, Any]:
    """Tokenize a weighted mixture of datasets into token shards under `out`; returns pack.json.

    `tokenizer` is a `tokenizers.Tokenizer`, a tokenizer.json path, or None for phi-1's
    (textbooks.tokenizer). Re-running with the same inputs and settings is a no-op.
    """
    out = Path(out)
    if loss_on not in LOSS_ON:
        raise UserError(f"--loss-on {loss_on!r}; expected one of {', '.join(LOSS_ON)}")
    if not 0 <= val_fraction < 1:
        raise UserError(f"--val-fraction {val_fraction}; expected a fraction in [0, 1)")
    tok = _resolve_tokenizer(tokenizer)
    tokenizer_json = tok.to_str()
    eos_id = tok.token_to_id(EOS_TOKEN)
    if eos_id is None:
        raise UserError(f"tokenizer has no {EOS_TOKEN} token to join documents with")
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    datasets = [Dataset.open(item.path) for item in inputs]
    for item in inputs:
        _check_weight(item.weight, str(item.path))
    if not any(ds.num_rows and item.weight > 0 for ds, item in zip(datasets, inputs)):
        raise UserError("empty mixture: no input dataset with documents and a weight above 0; expected --input DATASET[:WEIGHT]")

    config = {
        "inputs": [{"kind": ds.kind, "weight": item.weight} for ds, item in zip(datasets, inputs)],
        "val_fraction": val_fraction,
        "loss_on": loss_on,
        "seed": seed,
        "tokenizer_sha256": hashlib.sha256(tokenizer_json.encode()).hexdigest(),
        "format_version": FORMAT_VERSION,
    }
    fp = fingerprint(STAGE, config, [ds.fingerprint for ds in datasets])
    existing = finished_manifest(out, MANIFEST, "token pack")
    if existing is not None and existing.get("fingerprint") == fp:
        return existing

    staged = StagedDirectory(out, fp).open()
    staging = staged.path
    for split in SPLITS:
        (staging / split).mkdir(parents=True, exist_ok=True)

    units = _plan_units(datasets, inputs, val_fraction, seed)
    todo = [u for u in units if not staged.is_done(_unit_name(u.index))]
    settings = (tokenizer_json, eos_id, vocab_size, loss_on, str(staging), workers > 1)
    for stats in _run_units(todo, settings, workers):
        staged.mark_done(_unit_name(stats["unit"]), stats)
    unit_stats = [staged.done_info(_unit_name(u.index)) for u in units]

    manifest = _manifest(
        datasets, inputs, unit_stats, config, fp,
        dtype=token_dtype(vocab_size), vocab_size=vocab_size, eos_id=eos_id,
    )
    if manifest["splits"]["train"]["tokens"] == 0:
        raise UserError("empty mixture: the inputs produced no training tokens")
    staged.publish(MANIFEST, manifest)
    return manifest


def _resolve_tokenizer(tokenizer: Tokenizer | str | Path | None) -> Tokenizer:
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    if tokenizer is None:
        from textbooks.tokenizer import load_tokenizer

        return load_tokenizer()
    path = Path(tokenizer)
    if not path.is_file():
        raise UserError(f"{path}: tokenizer file not found; expected a tokenizer.json")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as err:  # the Rust side raises a bare Exception for malformed files
        raise UserError(f"{path}: not a tokenizers tokenizer.json ({err})") from None


def _unit_name(index: int) -> str:
    return f"unit-{index:05d}"


def _plan_units(datasets: Sequence[Dataset], inputs: Sequence[MixtureInput], val_fraction: float, seed: int) -> list[_Unit]:
    """Decide, before reading any text, which rows are held out and how often each is trained on.

    Row counts come from the manifests, so the choice is exact over a whole dataset and does not
    depend on how units are spread over workers.
    """
    units: list[_Unit] = []
    for input_index, (ds, item) in enumerate(zip(datasets, inputs)):
        rows = ds.num_rows
        rng = np.random.default_rng([seed, input_index])
        held_out = np.zeros(rows, dtype=bool)
        # 0.5% of 1,000 documents = 5; at least one, but never the last training document.
        n_val = min(max(1, round(val_fraction * rows)), rows - 1) if val_fraction > 0 and rows > 1 else 0
        held_out[rng.choice(rows, n_val, replace=False)] = True
        whole, part = divmod(item.weight, 1.0)
        copies = np.where(held_out, 0, int(whole)).astype(np.int32)
        train_rows = np.flatnonzero(~held_out)
        extra = rng.choice(train_rows, round(part * len(train_rows)), replace=False)
        copies[extra] += 1
        start = 0
        for shard in ds.manifest["shards"]:
            stop = start + shard["rows"]
            units.append(
                _Unit(len(units), input_index, ds.kind, str(ds.path / shard["name"]),
                      copies[start:stop], held_out[start:stop], seed)
            )
            start = stop
    return units


def _run_units(units: Sequence[_Unit], settings: tuple, workers: int) -> Iterator[dict[str, Any]]:
    if workers <= 1 or len(units) <= 1:
        _init_worker(*settings)
        yield from map(_pack_unit, units)
        return
    # spawn, not fork: a forked child of a process that already ran the Rust thread pool can hang.
    # An executor, not multiprocessing.Pool: a worker that dies fails the run instead of hanging it.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(units)), mp_context=context, initializer=_init_worker, initargs=settings) as pool:
        for future in as_completed([pool.submit(_pack_unit, unit) for unit in units]):
            yield future.result()


_WORKER: dict[str, Any] = {}


def _init_worker(tokenizer_json: str, eos_id: int, vocab_size: int, loss_on: str, staging: str, in_pool: bool) -> None:
    if in_pool:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"  # the pool is the parallelism: one thread each
    tok = Tokenizer.from_str(tokenizer_json)
    tok.encode_special_tokens = True  # a literal "<|endoftext|>" in a document is text, not a separator
    _WORKER.update(tok=tok, eos_id=eos_id, dtype=token_dtype(vocab_size), vocab_size=vocab_size,
                   loss_on=loss_on, staging=Path(staging))


def _pack_unit(unit: _Unit) -> dict[str, Any]:
    """Tokenize one input shard into train and val shard `unit.index`; returns its counts."""
    staging: Path = _WORKER["staging"]
    writers = {split: ShardWriter(staging / split, unit.index, _WORKER["dtype"], _WORKER["vocab_size"]) for split in SPLITS}
    rng = np.random.default_rng([unit.seed, unit.input_index, unit.index])
    columns = ["prompt", "solution"] if unit.kind == "exercise" else ["text"]
    row = 0
    for batch in iter_shard_batches(unit.parquet, columns, BATCH_ROWS):
        tokens, masks = _encode(unit.kind, batch.to_pydict())
        rows = slice(row, row + batch.num_rows)
        train_order = rng.permutation(np.repeat(np.arange(batch.num_rows), unit.copies[rows]))
        writers["train"].append([tokens[i] for i in train_order], [masks[i] for i in train_order])
        val_rows = np.flatnonzero(unit.held_out[rows])
        writers["val"].append([tokens[i] for i in val_rows], [masks[i] for i in val_rows])
        row += batch.num_rows
    stats: dict[str, Any] = {"unit": unit.index, "input": unit.input_index}
    for split, writer in writers.items():
        stats[split] = writer.close()
    return stats


def _encode(kind: str, columns: dict[str, list[str]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Token ids of each document (closing EOS included) and its loss mask."""
    tok: Tokenizer = _WORKER["tok"]
    dtype, eos = _WORKER["dtype"], np.array([_WORKER["eos_id"]], dtype=_WORKER["dtype"])
    # encode_batch_fast: offsets are never used here, and skipping them saves about a third.
    if kind != "exercise":
        ids = [np.concatenate([np.asarray(e.ids, dtype=dtype), eos]) for e in tok.encode_batch_fast(columns["text"], add_special_tokens=False)]
        return ids, [np.ones(len(x), dtype=np.uint8) for x in ids]
    prompt_weight = 0 if _WORKER["loss_on"] == "solution" else 1
    prompts = tok.encode_batch_fast(columns["prompt"], add_special_tokens=False)
    solutions = tok.encode_batch_fast(columns["solution"], add_special_tokens=False)
    ids, masks = [], []
    for prompt, solution in zip(prompts, solutions):
        ids.append(np.concatenate([np.asarray(prompt.ids, dtype=dtype), np.asarray(solution.ids, dtype=dtype), eos]))
        mask = np.ones(len(ids[-1]), dtype=np.uint8)
        mask[: len(prompt.ids)] = prompt_weight
        masks.append(mask)
    return ids, masks


def _manifest(
    datasets: Sequence[Dataset],
    inputs: Sequence[MixtureInput],
    unit_stats: Sequence[dict[str, Any]],
    config: dict[str, Any],
    fp: str,
    *,
    dtype: np.dtype,
    vocab_size: int,
    eos_id: int,
) -> dict[str, Any]:
    per_input = [
        {"path": str(ds.path), "fingerprint": ds.fingerprint, "kind": ds.kind, "weight": item.weight, "rows": ds.num_rows,
         **{split: {"documents": 0, "tokens": 0} for split in SPLITS}}
        for ds, item in zip(datasets, inputs)
    ]
    splits: dict[str, Any] = {split: {"documents": 0, "tokens": 0, "shards": []} for split in SPLITS}
    for stats in sorted(unit_stats, key=lambda s: s["unit"]):
        for split in SPLITS:
            shard = stats[split]
            if shard is None:
                continue
            splits[split]["shards"].append(shard)
            for totals in (splits[split], per_input[stats["input"]][split]):
                totals["documents"] += shard["documents"]
                totals["tokens"] += shard["tokens"]
    train_tokens = splits["train"]["tokens"]
    for entry in per_input:
        # The realised mixture: each input's share of the training tokens.
        entry["train"]["share"] = entry["train"]["tokens"] / train_tokens if train_tokens else 0.0
    return {
        "stage": STAGE,
        "fingerprint": fp,
        "config": config,
        "dtype": dtype.name,
        "itemsize": dtype.itemsize,
        "vocab_size": vocab_size,
        "eos_id": eos_id,
        "loss_on": config["loss_on"],
        "seed": config["seed"],
        "val_fraction": config["val_fraction"],
        "inputs": per_input,
        "splits": splits,
        "textbooks_version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
