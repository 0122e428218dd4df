"""The token shard files of a pack, written by `textbooks tokenize` and read by the loader.

    OUT/
      pack.json               manifest (see textbooks.train.tokenize)
      train/tokens-00000.bin  header + flat token ids, documents each followed by <|endoftext|>
      train/mask-00000.bin    uint8 loss mask, one byte per token: 1 = the token is a training target
      train/docs-00000.idx    int64 document boundaries: n_docs + 1 offsets; document i is
                              tokens[off[i]:off[i+1]], its closing <|endoftext|> included
      val/...                 the same for the held-out documents

`tokens-*.bin` starts with a 32-byte little-endian header, then `count` ids of `itemsize` bytes:

    magic     8 bytes  b"TBTOKENS"
    version   uint32   1
    itemsize  uint32   2 (uint16 ids) or 4 (uint32 ids: vocabularies over 65,536 tokens)
    count     uint64   number of ids that follow
    vocab     uint64   vocabulary size of the tokenizer that wrote them (every id is below it)

so `np.memmap(path, dtype, mode="r", offset=32, shape=(count,))` reads the ids in place.

Each shard's entry in pack.json records, besides its `documents` and `tokens`, its largest token
id `max_id` and its number of loss targets `targets` (mask bytes set), counted while writing it:
opening a pack checks them against the model's vocabulary without a pass over the ids (10-30 s
per rank at phi-1 scale), and the loader checks every batch it reads (a max over batch x seq ids).
A pack written before these were recorded is scanned once when opened, as before.

Opening a shard checks its three files' sizes against the header and pack.json (a torn file is
named at once); each entry also records the files' sha256 (`sha256`: tokens, mask, docs), which
`verify_pack` (`textbooks dataset verify PACK`) checks with a full read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from textbooks.errors import UserError
from textbooks.io import read_json, sha256_file

MANIFEST = "pack.json"
SPLITS = ("train", "val")
MAGIC = b"TBTOKENS"
FORMAT_VERSION = 1
HEADER = np.dtype([("magic", "S8"), ("version", "<u4"), ("itemsize", "<u4"), ("count", "<u8"), ("vocab", "<u8")])
HEADER_BYTES = HEADER.itemsize  # 32
DTYPES = {2: np.dtype("<u2"), 4: np.dtype("<u4")}
ROLES = ("tokens", "mask", "docs")  # a shard's three files, in `shard_paths` order
TORN = "torn by a full disk or an interrupted copy? copy the pack again or re-run `textbooks tokenize`"


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits (vocab <= 65,536), else uint32."""
    return DTYPES[2] if vocab_size <= 1 << 16 else DTYPES[4]


def tokens_name(index: int) -> str:
    return f"tokens-{index:05d}.bin"


def mask_name(index: int) -> str:
    return f"mask-{index:05d}.bin"


def docs_name(index: int) -> str:
    return f"docs-{index:05d}.idx"


def pack_header(itemsize: int, count: int, vocab_size: int) -> bytes:
    return np.array([(MAGIC, FORMAT_VERSION, itemsize, count, vocab_size)], dtype=HEADER).tobytes()


def read_header(path: Path) -> dict[str, int]:
    """The header of a tokens-*.bin file, checked against its size; errors name the file."""
    size = path.stat().st_size
    if size < HEADER_BYTES:
        raise UserError(f"{path}: {size} bytes, shorter than the {HEADER_BYTES}-byte token shard header; {TORN}")
    with path.open("rb") as handle:
        header = np.frombuffer(handle.read(HEADER_BYTES), dtype=HEADER)[0]
    if header["magic"] != MAGIC:
        raise UserError(f"{path}: not a token shard (magic {bytes(header['magic'])!r}; expected {MAGIC!r})")
    if header["version"] != FORMAT_VERSION:
        raise UserError(f"{path}: token shard format version {header['version']}; expected {FORMAT_VERSION}")
    itemsize, count, vocab = int(header["itemsize"]), int(header["count"]), int(header["vocab"])
    if itemsize not in DTYPES:
        raise UserError(f"{path}: token item size {itemsize} bytes; expected 2 (uint16) or 4 (uint32)")
    body = size - HEADER_BYTES
    if body % itemsize:
        raise UserError(f"{path}: {body} bytes of tokens is not a multiple of {itemsize} bytes; {TORN}")
    if body // itemsize != count:
        raise UserError(f"{path}: holds {body // itemsize} tokens but its header says {count}; {TORN}")
    return {"itemsize": itemsize, "count": count, "vocab": vocab}


class ShardWriter:
    """Appends documents to one split's shard files (temp names, renamed on close)."""

    def __init__(self, directory: Path, index: int, dtype: np.dtype, vocab_size: int) -> None:
        self.index = index
        self.paths = [directory / name for name in (tokens_name(index), mask_name(index), docs_name(index))]
        self.dtype, self.vocab_size = dtype, vocab_size
        self.files: list[Any] = []
        self.count = 0
        self.documents = 0
        self.max_id = 0
        self.targets = 0

    def append(self, documents: list[np.ndarray], masks: list[np.ndarray]) -> None:
        if not documents:
            return
        if not self.files:
            self.files = [open(self._tmp(p), "wb") for p in self.paths]
            self.files[0].write(pack_header(self.dtype.itemsize, 0, self.vocab_size))
            self.files[2].write(np.zeros(1, dtype="<i8").tobytes())
        tokens_file, mask_file, docs_file = self.files
        tokens, mask = np.concatenate(documents), np.concatenate(masks)
        tokens_file.write(tokens.tobytes())
        mask_file.write(mask.tobytes())
        self.max_id = max(self.max_id, int(tokens.max()))
        self.targets += int(np.count_nonzero(mask))
        ends = self.count + np.cumsum([len(d) for d in documents], dtype=np.int64)
        docs_file.write(ends.astype("<i8").tobytes())
        self.count = int(ends[-1])
        self.documents += len(documents)

    def close(self) -> dict[str, Any] | None:
        """Finish the header, move the files into place; None when the shard got no documents."""
        if not self.files:
            return None
        tokens_file = self.files[0]
        tokens_file.seek(0)
        tokens_file.write(pack_header(self.dtype.itemsize, self.count, self.vocab_size))
        for handle in self.files:
            handle.close()
        for path in self.paths:
            os.replace(self._tmp(path), path)
        return {"index": self.index, "documents": self.documents, "tokens": self.count, "max_id": self.max_id,
                "targets": self.targets, "sha256": {role: sha256_file(path) for role, path in zip(ROLES, self.paths)}}

    @staticmethod
    def _tmp(path: Path) -> Path:
        return path.with_name(f".{path.name}.tmp")


def shard_paths(directory: Path, index: int) -> list[Path]:
    return [directory / name(index) for name in (tokens_name, mask_name, docs_name)]


def verify_pack(directory: Path) -> list[str]:
    """One line per shard file whose sha256 differs from pack.json's (a full read of every file);
    for a pack written before hashes were recorded, the size checks that opening makes."""
    manifest = read_json(directory / MANIFEST)
    problems = []
    for split in SPLITS:
        for shard in manifest["splits"][split]["shards"]:
            paths = shard_paths(directory / split, shard["index"])
            missing = [p for p in paths if not p.is_file()]
            if missing:
                problems.append(f"{missing[0]}: shard file listed in {MANIFEST} is missing")
                continue
            if "sha256" not in shard:
                try:
                    open_shard(directory / split, shard, int(manifest["itemsize"]), int(manifest["vocab_size"]))
                except UserError as err:
                    problems.append(str(err))
                continue
            problems += [f"{path}: sha256 differs from the one in {MANIFEST} (damaged or replaced)"
                         for role, path in zip(ROLES, paths) if sha256_file(path) != shard["sha256"][role]]
    return problems


def open_shard(directory: Path, shard: dict[str, Any], itemsize: int, vocab_limit: int) -> tuple[np.memmap, np.memmap]:
    index, count = shard["index"], shard["tokens"]
    tokens_path, mask_path, docs_path = shard_paths(directory, index)
    for path in (tokens_path, mask_path, docs_path):
        if not path.is_file():
            raise UserError(f"{path}: shard file listed in {MANIFEST} is missing")
    header = read_header(tokens_path)
    if header["itemsize"] != itemsize:
        raise UserError(f"{tokens_path}: {header['itemsize']}-byte token ids, but {MANIFEST} says {itemsize}-byte")
    if header["count"] != count:
        raise UserError(f"{tokens_path}: {header['count']} tokens, but {MANIFEST} says {count}")
    if mask_path.stat().st_size != count:
        raise UserError(f"{mask_path}: {mask_path.stat().st_size} bytes; expected one byte per token ({count}); {TORN}")
    if docs_path.stat().st_size != 8 * (shard["documents"] + 1):
        raise UserError(f"{docs_path}: {docs_path.stat().st_size} bytes; expected {shard['documents'] + 1} int64 offsets; "
                        f"{TORN}")
    tokens = np.memmap(tokens_path, dtype=DTYPES[itemsize], mode="r", offset=HEADER_BYTES, shape=(count,))
    limit = min(vocab_limit, header["vocab"])
    if "max_id" in shard:  # recorded when packing: no pass over the ids
        if shard["max_id"] >= limit:
            raise UserError(f"{tokens_path}: largest token id {shard['max_id']} (recorded in {MANIFEST}) is beyond "
                            f"the vocabulary (size {limit})")
    elif int(tokens.max()) >= limit:  # an older pack: one pass now beats an index error mid-run
        raise_id_beyond_vocabulary(tokens_path, tokens, limit)
    return tokens, np.memmap(mask_path, dtype=np.uint8, mode="r", shape=(count,))


def raise_id_beyond_vocabulary(path: Path, tokens: np.ndarray, limit: int) -> None:
    """The UserError naming the shard file and the first id at or beyond `limit` in it."""
    position = int(np.argmax(tokens >= limit))
    raise UserError(f"{path}: token id {int(tokens[position])} at position {position} is beyond the vocabulary "
                    f"(size {limit})")
