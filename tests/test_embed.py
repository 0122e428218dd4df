"""Embedders: (n, dim) float32 unit rows; hashing is lexical and deterministic, MiniLM semantic and offline."""

from __future__ import annotations

import numpy as np
import pytest

from textbooks.data.embed import Embedder, HashingEmbedder, MiniLMEmbedder, get_embedder
from textbooks.errors import UserError

TEXTS = [
    "def add(a, b):\n    return a + b\n",
    "def add_numbers(x, y):\n    return x + y\n",
    "The cat sat quietly on the warm windowsill all afternoon.",
]


def check_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_hashing_embedder_is_deterministic_unit_and_lexical():
    embedder = get_embedder("hashing")
    assert isinstance(embedder, Embedder)
    vectors = embedder.embed(TEXTS)
    check_unit_rows(vectors, 3, embedder.dim)
    np.testing.assert_array_equal(vectors, HashingEmbedder().embed(TEXTS))
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2]


def test_empty_inputs():
    embedder = HashingEmbedder(dim=64)
    assert embedder.embed([]).shape == (0, 64)
    assert not embedder.embed([""]).any()  # nothing to normalise: the zero vector


def test_unknown_embedder_is_a_user_error():
    with pytest.raises(UserError, match="expected one of hashing, minilm"):
        get_embedder("word2vec")


@pytest.mark.slow
def test_minilm_loads_offline_from_the_package_and_embeds_by_meaning(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = MiniLMEmbedder()
    texts = ["A kitten is sleeping on the sofa.", "A small cat naps on the couch.", "def parse(path): return open(path).read()"]
    vectors = embedder.embed(texts)
    check_unit_rows(vectors, 3, 384)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3
