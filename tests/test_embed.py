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


@pytest.fixture(scope="module")
def nano_phi(tmp_path_factory):
    """A small random Phi, as our checkpoint and as a transformers folder (no code model is offline)."""
    import torch

    from textbooks.model.checkpoint import save_checkpoint
    from textbooks.model.hf import export_hf
    from textbooks.model.phi import Phi, PhiConfig
    from textbooks.tokenizer import save_hf_tokenizer

    torch.manual_seed(0)
    model = Phi(PhiConfig.from_preset("nano")).eval()
    root = tmp_path_factory.mktemp("nano")
    save_checkpoint(model, model.config, root / "ours")
    export_hf(model, root / "hf")
    save_hf_tokenizer(root / "hf")
    return root


def test_causal_embedder_mean_pools_unit_rows_whatever_the_batch_and_padding(nano_phi):
    embedder = get_embedder(f"causal:{nano_phi / 'ours'}")
    vectors = embedder.embed(TEXTS)
    check_unit_rows(vectors, 3, 64)
    # One text alone (no padding) and in a batch sorted by length (padded) embed the same.
    np.testing.assert_allclose(embedder.embed(TEXTS[2:]), vectors[2:], atol=1e-5)
    assert embedder.embed([""]).tolist() == [[0.0] * 64]


def test_our_checkpoint_and_its_transformers_export_embed_alike(nano_phi):
    ours = get_embedder(f"causal:{nano_phi / 'ours'}").embed(TEXTS)
    theirs = get_embedder(f"causal:{nano_phi / 'hf'}").embed(TEXTS)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_cached_embedder_answers_from_disk_without_loading_the_model(tmp_path, monkeypatch):
    from textbooks.data import embed

    path = tmp_path / "vectors.sqlite"
    first = embed.cached_embedder("hashing", path).embed(TEXTS)
    loads = []
    monkeypatch.setattr(embed, "get_embedder", lambda name: loads.append(name))
    again = embed.cached_embedder("hashing", path).embed(list(reversed(TEXTS)))
    np.testing.assert_array_equal(again, first[::-1])
    assert loads == []  # every text was cached: no model loaded
    with pytest.raises(UserError, match="cannot open as an embedding cache"):
        (tmp_path / "junk.sqlite").write_text("not a database" * 100)
        embed.cached_embedder("hashing", tmp_path / "junk.sqlite").embed(TEXTS)


def test_unknown_causal_model_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="nowhere"):
        get_embedder(f"causal:{tmp_path / 'nowhere'}")


def _open_cache(path: str) -> None:
    from textbooks.data.embed import CachedEmbedder

    CachedEmbedder("hashing", path).close()


def test_worker_processes_can_open_one_new_embedding_cache_together(tmp_path):
    # Switching a new file to WAL takes a lock SQLite's busy timeout does not wait for: shard
    # workers opening the same cache at once once failed with "database is locked".
    import multiprocessing

    for round_ in range(5):
        path = str(tmp_path / f"cache-{round_}.sqlite")
        workers = [multiprocessing.Process(target=_open_cache, args=(path,)) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [w.exitcode for w in workers] == [0] * 6
