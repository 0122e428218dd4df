"""Dedup at corpus scale (datatrove) against the in-memory NearDedup, on the standard library's sources."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.utils.hashing import HashConfig

from dedup_judges import datatrove_verdicts, near_dedup_verdicts
from textbooks.curate.dedup_datatrove import DedupConfig, dedup_dataset
from textbooks.curate.dedup_steps import FirstSeenCluster, NearDedupSignature, VerifyCandidatePairs, signature_file
from textbooks.curate.executor import ExecutorConfig
from textbooks.data.datasets import Dataset
from textbooks.data.dedup import MinHasher, shingles
from textbooks.data.sources import import_sources

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PACKAGES = ("json", "email", "logging", "http", "concurrent")


def near_copy(text: str, rng: random.Random) -> str:
    """A copy with about 3% of its lines edited: a near duplicate well above Jaccard 0.7."""
    lines = text.splitlines()
    for i in rng.sample(range(len(lines)), k=max(1, len(lines) // 33)):
        lines[i] = lines[i] + "  # edited"
    return "\n".join(lines) + "\n"


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The stdlib slice as JSONL plus planted copies: 8 near and 2 exact (whitespace and case only)."""
    root = tmp_path_factory.mktemp("planted")
    originals = list(import_sources([STDLIB / p for p in PACKAGES], root / "stdlib", rows_per_shard=25).iter_records())
    rng = random.Random(0)
    substantial = [r for r in originals if r["text"].count("\n") > 60]
    chosen = rng.sample(substantial, 10)
    near, exact = chosen[:8], chosen[8:]
    copies = [{"id": f"near-{r['id']}", "text": near_copy(r["text"], rng), "of": r["id"]} for r in near]
    copies += [{"id": f"exact-{r['id']}", "text": r["text"].replace("\n", "  \n").upper(), "of": r["id"]} for r in exact]
    import json

    source = root / "corpus.jsonl"
    source.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in [*originals, *copies]))
    return import_sources([source], root / "raw", rows_per_shard=25), copies, root


@pytest.mark.slow
def test_both_paths_remove_exactly_the_planted_copies_and_keep_clear_non_duplicates(planted):
    dataset, copies, root = planted
    ours = datatrove_verdicts(dataset, root / "dedup", 0.7).removed
    theirs = near_dedup_verdicts(dataset, 0.7).removed
    assert ours == theirs == {c["id"] for c in copies}  # the first seen is kept, its copies removed
    manifest = Dataset.open(root / "dedup").manifest["curate-dedup"]
    assert manifest["exact_duplicates"] == 2 and manifest["near_duplicates"] == 8
    # Files whose true Jaccard with every other file is below 0.5 are kept by both.
    texts = {r["id"]: shingles(r["text"], 5) for r in dataset.iter_records(columns=["id", "text"])}
    ids = sorted(texts)
    clear = {a for a in ids if all(jaccard(texts[a], texts[b]) < 0.5 for b in ids if b != a)}
    assert len(clear) >= 30 and not clear & ours


def test_both_paths_judge_every_pair_of_real_code_alike(tmp_path):
    # Codec tables and e-mail modules: many real near duplicates, and LSH collisions below 0.7.
    dataset = import_sources([STDLIB / "encodings", STDLIB / "email", STDLIB / "json"], tmp_path / "raw", rows_per_shard=40)
    ours = datatrove_verdicts(dataset, tmp_path / "dedup", 0.7)
    theirs = near_dedup_verdicts(dataset, 0.7)
    assert len(theirs.removed) >= 20 and theirs.rejected_pairs >= 10  # enough of both to measure on
    # The same candidate pairs, the same ones below the threshold, the same files removed.
    assert (ours.candidate_pairs, ours.rejected_pairs) == (theirs.candidate_pairs, theirs.rejected_pairs)
    assert ours.removed == theirs.removed
    # And each removed file attributed to the same kept file (ties to the earliest): the files in a
    # duplicate pair agree exactly, beyond the 95% asked for.
    assert ours.members == theirs.members


def test_the_signature_stage_writes_datasketchs_signature_of_our_shingles(tmp_path):
    texts = [path.read_text() for path in sorted((STDLIB / "json").glob("*.py"))] + [""]
    config = MinhashConfig(num_buckets=14, hashes_per_bucket=9, hash_config=HashConfig(precision=32))
    step = NearDedupSignature(str(tmp_path / "buckets"), tmp_path / "signatures", config, MinHasher(128, 5, 1))
    step.run(iter(Document(text=t, id=str(i)) for i, t in enumerate(texts)), rank=3)
    expected = []
    for text in texts:  # datasketch directly, not through MinHasher
        minhash = MinHash(num_perm=128, seed=1, scheme="affine32")
        minhash.update_batch(list(shingles(text, 5)))
        expected.append(minhash.hashvalues)
    assert np.array_equal(np.load(signature_file(tmp_path / "signatures", 3)), np.stack(expected))
    band_5 = np.fromfile(tmp_path / "buckets" / "bucket_005" / "00003.minhash.sig", dtype="<u4").reshape(-1, 10)
    assert sorted(map(tuple, band_5.tolist())) == sorted((*sig[45:54].tolist(), i) for i, sig in enumerate(expected))


def test_a_collision_below_the_threshold_is_rejected_and_a_chain_keeps_its_ends(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**32, 128, dtype=np.uint32)
    b, c = a.copy(), a.copy()  # all three share bands 0 and 1 (values 0-17)
    b[18:68] += 1  # 78 of 128 values equal to a's: 0.61
    c[108:128] += 1  # 108 equal to a's: 0.84; b and c: 58, 0.45
    (tmp_path / "sigs").mkdir()
    np.save(signature_file(tmp_path / "sigs", 0), np.stack([a, b, c]))
    (tmp_path / "buckets").mkdir()  # datatrove's bucket stage writes each band's run as a chain
    (tmp_path / "buckets" / "00000_00.dups").write_bytes(np.array([[0, 0, 0, 1], [0, 1, 0, 2]], "<u4").tobytes())
    (tmp_path / "buckets" / "00001_00.dups").write_bytes(np.array([[0, 0, 0, 1], [0, 1, 0, 2]], "<u4").tobytes())
    config = MinhashConfig(num_buckets=14, hashes_per_bucket=9, hash_config=HashConfig(precision=32))
    verify = VerifyCandidatePairs(tmp_path / "buckets", tmp_path / "sigs", tmp_path / "verified", config, 0.7)
    verify.run(None, rank=0, world_size=1)
    kept = np.fromfile(tmp_path / "verified" / "00000_00.dups", dtype="<u4").reshape(-1, 5).tolist()
    assert kept == [[0, 0, 0, 2, 108]]  # a~c only, and only in the first band it collides in
    assert (tmp_path / "verified" / "00001_00.dups").stat().st_size == 0
    assert verify.stats["candidates"].total == 3 and verify.stats["rejected"].total == 2
    # A chain 0~1, 1~2 (0 and 2 not near): NearDedup keeps 0, removes 1, keeps 2; so does the cluster stage.
    (tmp_path / "verified" / "00000_00.dups").write_bytes(np.array([[0, 0, 0, 1, 100], [0, 1, 0, 2, 100]], "<u4").tobytes())
    (tmp_path / "verified" / "00001_00.dups").unlink()
    FirstSeenCluster(str(tmp_path / "verified"), str(tmp_path / "remove"), config=config, save_cluster_size=True).run()
    assert np.fromfile(tmp_path / "remove" / "000000.remove", dtype="<u4").tolist() == [1]
    assert np.fromfile(tmp_path / "remove" / "000000.sizes", dtype="<u4").tolist() == [0, 2, 1, 2]


def test_a_finished_dedup_is_not_run_again_and_a_bad_threshold_is_a_user_error(tmp_path):
    from textbooks.errors import UserError

    with pytest.raises(UserError, match="dedup.threshold: 1.5"):
        DedupConfig(threshold=1.5)
    dataset = import_sources([STDLIB / "json"], tmp_path / "raw")
    first, done = dedup_dataset(dataset, tmp_path / "dedup", DedupConfig(), ExecutorConfig(workers=1))
    assert not done and first.num_rows == dataset.num_rows
    again, done = dedup_dataset(dataset, tmp_path / "dedup", DedupConfig(), ExecutorConfig(workers=1))
    assert done and again.fingerprint == first.fingerprint
    assert not list(tmp_path.glob(".*datatrove*"))  # logs and signatures removed once published
