"""Token shards -> batches: the same samples in the same order for any world size and on resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from test_tokenize import code_ds, exercise_ds  # noqa: F401 (session fixtures)
from textbooks.errors import UserError
from textbooks.model.loss import IGNORE_INDEX
from textbooks.tokenizer import EOS_ID
from textbooks.train.loader import PackedData
from textbooks.train.shards import HEADER_BYTES
from textbooks.train.tokenize import MixtureInput, pack_datasets

SEQ_LEN = 64


@pytest.fixture(scope="session")
def pack_dir(tmp_path_factory, code_ds, exercise_ds) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("packs") / "mixture"
    pack_datasets([MixtureInput(code_ds.path, 1.0), MixtureInput(exercise_ds.path, 2.0)], out, val_fraction=0.2, loss_on="solution")
    return out


@pytest.fixture
def broken_copy(pack_dir, tmp_path) -> Path:
    """A private copy of the pack for a test to damage."""
    return Path(shutil.copytree(pack_dir, tmp_path / "copy"))


def stream(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """The split's whole token stream and mask, read without the loader."""
    manifest = json.loads((directory.parent / "pack.json").read_text())
    shards = manifest["splits"][directory.name]["shards"]
    tokens = [np.fromfile(directory / f"tokens-{s['index']:05d}.bin", dtype=np.uint16, offset=HEADER_BYTES) for s in shards]
    masks = [np.fromfile(directory / f"mask-{s['index']:05d}.bin", dtype=np.uint8) for s in shards]
    return np.concatenate(tokens).astype(np.int64), np.concatenate(masks)


def test_a_sample_is_a_window_of_the_stream_with_next_token_labels(pack_dir):
    data = PackedData(pack_dir, vocab_size=51200)
    order = data.sample_order(SEQ_LEN, seed=0)
    tokens, mask = stream(pack_dir / "train")
    assert order.num_samples == (len(tokens) - 1) // SEQ_LEN
    indices = order.batch_indices(step=3, global_batch=8)
    inputs, labels = order.get_batch(indices)
    assert inputs.dtype == labels.dtype == torch.int64 and inputs.shape == labels.shape == (8, SEQ_LEN)
    for row, window in enumerate(order.windows(indices)):
        start = window * SEQ_LEN
        assert inputs[row].tolist() == tokens[start : start + SEQ_LEN].tolist()
        targets = tokens[start + 1 : start + SEQ_LEN + 1]
        assert labels[row].tolist() == np.where(mask[start + 1 : start + SEQ_LEN + 1] == 1, targets, IGNORE_INDEX).tolist()


def test_masked_prompt_tokens_are_never_labels_and_eos_is(pack_dir):
    order = PackedData(pack_dir).sample_order(SEQ_LEN, seed=0)
    _, mask = stream(pack_dir / "train")
    assert 0 < (mask == 0).sum() < len(mask)  # the exercises' prompts are masked, the rest not
    _, labels = order.get_batch(np.arange(order.num_samples))
    assert (labels == IGNORE_INDEX).sum() == (mask[1 : order.num_samples * SEQ_LEN + 1] == 0).sum()
    assert (labels == EOS_ID).any()


def test_windows_cross_shard_boundaries(pack_dir):
    data = PackedData(pack_dir)
    tokens, mask = stream(pack_dir / "train")
    boundary = int(data.train.offsets[1])
    got_tokens, got_mask = data.train.read(boundary - 5, boundary + 5)
    assert got_tokens.tolist() == tokens[boundary - 5 : boundary + 5].tolist()
    assert got_mask.tolist() == mask[boundary - 5 : boundary + 5].tolist()


def test_every_window_once_per_epoch_in_a_seeded_order(pack_dir):
    order = PackedData(pack_dir).sample_order(SEQ_LEN, seed=0)
    n = order.num_samples
    epoch0, epoch1 = order.windows(np.arange(n)), order.windows(np.arange(n, 2 * n))
    assert sorted(epoch0) == sorted(epoch1) == list(range(n))
    assert epoch0.tolist() != epoch1.tolist()
    assert PackedData(pack_dir).sample_order(SEQ_LEN, seed=0).windows(np.arange(n)).tolist() == epoch0.tolist()
    assert PackedData(pack_dir).sample_order(SEQ_LEN, seed=1).windows(np.arange(n)).tolist() != epoch0.tolist()


def test_world_sizes_1_2_4_see_the_same_global_batch_at_every_step(pack_dir):
    order = PackedData(pack_dir).sample_order(SEQ_LEN, seed=5)
    global_batch = 8
    steps = 2 * order.num_samples // global_batch + 1  # past an epoch boundary
    for step in range(steps):
        single_inputs, single_labels = order.batch(step, global_batch)
        for world_size in (2, 4):
            parts = [order.batch(step, global_batch, rank, world_size) for rank in range(world_size)]
            assert torch.equal(torch.cat([p[0] for p in parts]), single_inputs)
            assert torch.equal(torch.cat([p[1] for p in parts]), single_labels)


def test_a_resume_at_step_s_continues_the_uninterrupted_order(pack_dir):
    uninterrupted = PackedData(pack_dir).sample_order(SEQ_LEN, seed=5)
    expected = [uninterrupted.batch(step, 8)[0] for step in range(12)]
    # Resumed at step 7 by a fresh process on two ranks.
    resumed = PackedData(pack_dir).sample_order(SEQ_LEN, seed=5)
    for step in range(7, 12):
        got = torch.cat([resumed.batch(step, 8, rank, 2)[0] for rank in range(2)])
        assert torch.equal(got, expected[step])


def test_val_batches_are_the_val_windows_in_order_split_over_ranks(pack_dir):
    data = PackedData(pack_dir)
    tokens, _ = stream(pack_dir / "val")
    n = (len(tokens) - 1) // SEQ_LEN
    batches = list(data.val_batches(SEQ_LEN, batch_size=4))
    inputs = torch.cat([b[0] for b in batches])
    assert inputs.shape == (n, SEQ_LEN)
    assert inputs.flatten().tolist() == tokens[: n * SEQ_LEN].tolist()
    per_rank = [torch.cat([b[0] for b in data.val_batches(SEQ_LEN, 4, rank, 2)]) for rank in range(2)]
    assert torch.equal(per_rank[0], inputs[0::2]) and torch.equal(per_rank[1], inputs[1::2])
    assert len(list(data.val_batches(SEQ_LEN, 4, max_batches=1))) == 1


def test_a_shard_whose_size_is_not_whole_tokens_is_a_user_error(broken_copy):
    shard = broken_copy / "train" / "tokens-00001.bin"
    with shard.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(UserError, match=r"tokens-00001\.bin: .* not a multiple of 2 bytes"):
        PackedData(broken_copy)


def damage_token(pack: Path, shard: str, position: int, value: int) -> None:
    tokens = np.memmap(pack / "train" / shard, dtype=np.uint16, mode="r+", offset=HEADER_BYTES)
    tokens[position] = value
    tokens.flush()


def every_training_batch(data: PackedData) -> None:
    order = data.sample_order(SEQ_LEN, seed=0)
    for step in range(-(-order.num_samples // 8)):
        order.get_batch(np.arange(step * 8, min((step + 1) * 8, order.num_samples)))


def test_the_pack_records_each_shards_largest_id_and_target_count(pack_dir):
    manifest = json.loads((pack_dir / "pack.json").read_text())
    for split in ("train", "val"):
        for shard in manifest["splits"][split]["shards"]:
            tokens = np.fromfile(pack_dir / split / f"tokens-{shard['index']:05d}.bin", dtype=np.uint16, offset=HEADER_BYTES)
            mask = np.fromfile(pack_dir / split / f"mask-{shard['index']:05d}.bin", dtype=np.uint8)
            assert shard["max_id"] == tokens.max() and shard["targets"] == np.count_nonzero(mask)


def test_opening_trusts_the_recorded_largest_id_and_reading_catches_a_damaged_shard(broken_copy):
    damage_token(broken_copy, "tokens-00002.bin", 10, 60_000)
    data = PackedData(broken_copy)  # no pass over the ids: the damage is not seen yet
    with pytest.raises(UserError, match=r"tokens-00002\.bin: token id 60000 at position 10 is beyond the vocabulary \(size 50295\)"):
        every_training_batch(data)


def test_a_pack_without_recorded_largest_ids_is_scanned_when_opened(broken_copy):
    manifest_path = broken_copy / "pack.json"
    manifest = json.loads(manifest_path.read_text())
    for split in manifest["splits"].values():
        for shard in split["shards"]:
            del shard["max_id"], shard["targets"]
    manifest_path.write_text(json.dumps(manifest))
    every_training_batch(PackedData(broken_copy))
    damage_token(broken_copy, "tokens-00002.bin", 10, 60_000)
    with pytest.raises(UserError, match=r"tokens-00002\.bin: token id 60000 at position 10 is beyond the vocabulary \(size 50295\)"):
        PackedData(broken_copy)


def test_a_recorded_largest_id_beyond_the_vocabulary_is_a_user_error(broken_copy):
    manifest_path = broken_copy / "pack.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["splits"]["train"]["shards"][1]["max_id"] = 50_295
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match=r"tokens-00001\.bin: largest token id 50295 \(recorded in pack.json\) is beyond the vocabulary \(size 50295\)"):
        PackedData(broken_copy)


def test_a_train_split_without_any_target_token_is_a_user_error(broken_copy):
    manifest_path = broken_copy / "pack.json"
    manifest = json.loads(manifest_path.read_text())
    for shard in manifest["splits"]["train"]["shards"]:
        shard["targets"] = 0
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="the train split has no target token"):
        PackedData(broken_copy)


def test_ids_beyond_the_models_vocabulary_are_a_user_error(pack_dir):
    with pytest.raises(UserError, match=r"beyond the vocabulary \(size 1000\)"):
        PackedData(pack_dir, vocab_size=1000)


def test_a_finetune_config_asking_for_another_loss_mask_is_a_user_error(pack_dir):
    with pytest.raises(UserError, match="--loss-on solution, but the config asks for data.loss_on=all"):
        PackedData(pack_dir, loss_on="all")
    PackedData(pack_dir, loss_on="solution")


def test_not_a_pack_and_too_few_tokens_are_user_errors(pack_dir, tmp_path):
    with pytest.raises(UserError, match="not a token pack"):
        PackedData(tmp_path)
    tokens = PackedData(pack_dir).train.num_tokens
    with pytest.raises(UserError, match="fewer than one sample"):
        PackedData(pack_dir).sample_order(tokens, seed=0)
    with pytest.raises(UserError, match="not divisible by the world size"):
        PackedData(pack_dir).sample_order(SEQ_LEN, seed=0).batch_indices(0, 6, 0, 4)
