"""Token shards -> training batches, the same samples in the same order on any number of processes.

    data = PackedData(data_dir, vocab_size=model.vocab_size, loss_on=cfg.data.loss_on)  # all checks here
    order = data.sample_order(seq_len=2048, seed=cfg.seed)
    for step in range(start_step, steps):
        idx = order.batch_indices(step, global_batch, rank, world_size)  # this rank's slice
        for micro in np.array_split(idx, accumulation_steps):
            input_ids, labels = order.get_batch(micro)                 # int64 [B, T] each
    for input_ids, labels in data.val_batches(seq_len, batch_size, rank, world_size): ...

A sample is a window of seq_len + 1 tokens of the split's token stream (its shards end to end,
documents joined by <|endoftext|>, as nanoGPT and phi-1 pack them): window w covers tokens
[w * T, w * T + T + 1), so there are N = (tokens - 1) // T windows and a document may continue
from one window into the next. `labels` are the inputs shifted by one, -100 (ignored by
`torch.nn.functional.cross_entropy`) where the loss mask says the token is not a target.

Order: global sample g belongs to epoch e = g // N at position p = g % N and reads window
perm_e[p], with perm_e a permutation of range(N) drawn from (seed, e). Step s of a run with global
batch B consumes samples [s * B, (s + 1) * B); rank r of W takes the r-th contiguous B / W of them.
The global batch of a step is the same whatever W is, so a resume at step s on another world size
continues the very same sequence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textbooks.errors import UserError
from textbooks.model.loss import IGNORE_INDEX
from textbooks.train.shards import MANIFEST, open_shard, raise_id_beyond_vocabulary, tokens_name


class PackedSplit:
    """One split (train or val): its shards memory-mapped and read as one stream."""

    def __init__(self, directory: Path, shards: list[dict[str, Any]], itemsize: int, vocab_limit: int) -> None:
        self.directory, self.vocab_limit = directory, vocab_limit
        self.shard_paths = [directory / tokens_name(shard["index"]) for shard in shards]
        self.tokens: list[np.memmap] = []
        self.masks: list[np.memmap] = []
        for shard in shards:
            tokens, mask = open_shard(directory, shard, itemsize, vocab_limit)
            self.tokens.append(tokens)
            self.masks.append(mask)
        # offsets[i] is where shard i starts in the stream; offsets[-1] is the stream's length.
        self.offsets = np.concatenate([[0], np.cumsum([len(t) for t in self.tokens], dtype=np.int64)])

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and loss mask of stream positions [start, stop), across shard ends."""
        shard = int(np.searchsorted(self.offsets, start, side="right")) - 1
        tokens, masks = [], []
        while start < stop:
            base = int(self.offsets[shard])
            end = min(stop, int(self.offsets[shard + 1]))
            tokens.append(self.tokens[shard][start - base : end - base])
            masks.append(self.masks[shard][start - base : end - base])
            # Opening trusted the max_id recorded at packing; every id read is checked here (cheap).
            if tokens[-1].max() >= self.vocab_limit:
                raise_id_beyond_vocabulary(self.shard_paths[shard], self.tokens[shard], self.vocab_limit)
            start, shard = end, shard + 1
        if len(tokens) == 1:  # the common case: a view of one shard, no copy
            return tokens[0], masks[0]
        return np.concatenate(tokens), np.concatenate(masks)


class PackedData:
    """A token pack written by `textbooks tokenize`, checked and memory-mapped.

    `vocab_size` is the model's vocabulary (embedding rows): an id at or beyond it, or beyond the
    tokenizer's, is a UserError here, before any step runs. `loss_on`, when given, is what the
    run's config expects of a pack holding exercises; the mask on disk decides, so a pack
    tokenized with the other setting is a UserError rather than a silently different finetune.
    """

    def __init__(self, directory: str | Path, vocab_size: int | None = None, loss_on: str | None = None) -> None:
        self.directory = Path(directory)
        manifest_path = self.directory / MANIFEST
        if not manifest_path.is_file():
            raise UserError(f"{self.directory}: not a token pack (no {MANIFEST}); expected the --out of `textbooks tokenize`")
        try:
            self.manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise UserError(f"{manifest_path} line {err.lineno}: not valid JSON ({err.msg})") from None
        has_exercises = any(entry["kind"] == "exercise" for entry in self.manifest["inputs"])
        if loss_on is not None and has_exercises and loss_on != self.manifest["loss_on"]:
            raise UserError(
                f"{manifest_path}: exercises tokenized with --loss-on {self.manifest['loss_on']}, but the config asks for "
                f"data.loss_on={loss_on}; re-run `textbooks tokenize ... --loss-on {loss_on}`"
            )
        self.vocab_size = int(self.manifest["vocab_size"])
        self.eos_id = int(self.manifest["eos_id"])
        limit = min(self.vocab_size, vocab_size) if vocab_size is not None else self.vocab_size
        itemsize = int(self.manifest["itemsize"])
        splits = self.manifest["splits"]
        self.train = PackedSplit(self.directory / "train", splits["train"]["shards"], itemsize, limit)
        self.val = PackedSplit(self.directory / "val", splits["val"]["shards"], itemsize, limit)
        if self.train.num_tokens == 0:
            raise UserError(f"{self.directory}: empty mixture, the train split has no tokens")
        train_shards = splits["train"]["shards"]
        if all("targets" in shard for shard in train_shards) and not any(shard["targets"] for shard in train_shards):
            raise UserError(f"{manifest_path}: the train split has no target token (its loss mask is all zero); "
                            "expected documents with trainable tokens (solutions, under --loss-on solution)")

    def sample_order(self, seq_len: int, seed: int) -> SampleOrder:
        return SampleOrder(self.train, seq_len, seed)

    def val_batches(self, seq_len: int, batch_size: int, rank: int = 0, world_size: int = 1, max_batches: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The val split's windows in order; rank r takes windows r, r + W, ... (sum losses over ranks).

        Yields nothing when the val split is shorter than one window (seq_len + 1 tokens).
        """
        windows = np.arange(rank, (self.val.num_tokens - 1) // seq_len, world_size)
        if max_batches is not None:
            windows = windows[: max_batches * batch_size]
        for start in range(0, len(windows), batch_size):
            yield read_windows(self.val, windows[start : start + batch_size], seq_len)


class SampleOrder:
    """Global sample index -> training window, a function of (seed, index) only."""

    def __init__(self, split: PackedSplit, seq_len: int, seed: int) -> None:
        if seq_len < 1:
            raise UserError(f"seq_len {seq_len}: expected a positive number of tokens")
        self.split, self.seq_len, self.seed = split, seq_len, seed
        self.num_samples = (split.num_tokens - 1) // seq_len
        if self.num_samples == 0:
            raise UserError(
                f"{split.directory}: {split.num_tokens} training tokens, fewer than one sample of seq_len + 1 = {seq_len + 1}"
            )
        self._permutations: dict[int, np.ndarray] = {}

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._permutations:
            if len(self._permutations) >= 2:  # a batch rarely spans more than two epochs; keep two
                self._permutations.pop(min(self._permutations))
            self._permutations[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.num_samples)
        return self._permutations[epoch]

    def windows(self, indices: np.ndarray) -> np.ndarray:
        """Window numbers of global sample indices."""
        indices = np.asarray(indices, dtype=np.int64)
        epochs, positions = np.divmod(indices, self.num_samples)
        out = np.empty_like(indices)
        for epoch in np.unique(epochs):
            chosen = epochs == epoch
            out[chosen] = self._permutation(int(epoch))[positions[chosen]]
        return out

    def batch_indices(self, step: int, global_batch: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
        """Global sample indices of rank `rank`'s share of step `step`'s global batch."""
        if global_batch % world_size:
            raise UserError(f"global batch {global_batch} is not divisible by the world size {world_size}")
        per_rank = global_batch // world_size
        first = step * global_batch + rank * per_rank
        return np.arange(first, first + per_rank, dtype=np.int64)

    def get_batch(self, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, labels), int64 [len(indices), seq_len] each, for global sample indices."""
        return read_windows(self.split, self.windows(indices), self.seq_len)

    def batch(self, step: int, global_batch: int, rank: int = 0, world_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        return self.get_batch(self.batch_indices(step, global_batch, rank, world_size))


def read_windows(split: PackedSplit, windows: np.ndarray, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of seq_len + 1 tokens -> inputs and next-token labels (-100 where not a target)."""
    tokens = np.empty((len(windows), seq_len + 1), dtype=np.int64)
    targets = np.empty((len(windows), seq_len + 1), dtype=bool)
    for row, window in enumerate(windows):
        start = int(window) * seq_len
        tokens[row], targets[row] = split.read(start, start + seq_len + 1)  # numpy casts on assignment
    labels = np.where(targets[:, 1:], tokens[:, 1:], IGNORE_INDEX)
    return torch.from_numpy(tokens[:, :-1].copy()), torch.from_numpy(labels)
