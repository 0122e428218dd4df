"""Our checkpoint format and `load_model`: exact round trips, atomic writes, run directories,
Hugging Face folders, presets, and user errors for checkpoints that do not fit their config."""

from __future__ import annotations

import json

import pytest
import torch

from textbooks.errors import UserError
from textbooks.model.checkpoint import save_checkpoint
from textbooks.model.hf import export_hf
from textbooks.model.load import load_model, read_model_config
from textbooks.model.phi import Phi, PhiConfig

NANO = PhiConfig.from_preset("nano")


def nano(seed: int) -> Phi:
    torch.manual_seed(seed)
    return Phi(NANO).eval()


def assert_same_weights(a: Phi, b: Phi) -> None:
    assert a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(a.state_dict()[name], b.state_dict()[name]) for name in a.state_dict())


def test_a_saved_model_loads_back_bit_for_bit_with_its_config(tmp_path):
    model = nano(0)
    save_checkpoint(model, None, tmp_path / "ckpt")
    loaded = load_model(tmp_path / "ckpt")
    assert loaded.config == NANO and not loaded.training
    assert_same_weights(model, loaded)
    assert all(p.requires_grad for p in loaded.parameters())
    meta = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert (meta["format"], meta["format_version"], meta["dtype"]) == ("textbooks-phi", 1, "float32")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no staging directory left behind


def test_a_state_dict_with_its_config_saves_like_the_model(tmp_path):
    model = nano(0)
    save_checkpoint(model.state_dict(), NANO, tmp_path)
    assert_same_weights(model, load_model(tmp_path))


def test_load_model_casts_to_the_requested_dtype(tmp_path):
    save_checkpoint(nano(0), None, tmp_path)
    model = load_model(tmp_path, dtype="bf16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_saving_again_replaces_the_checkpoint(tmp_path):
    save_checkpoint(nano(0), None, tmp_path / "ckpt")
    save_checkpoint(nano(1), None, tmp_path / "ckpt")
    assert_same_weights(load_model(tmp_path / "ckpt"), nano(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_saving_over_a_directory_that_is_not_a_model_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="exists and is not a model directory"):
        save_checkpoint(nano(0), None, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_a_state_dict_that_does_not_fit_the_config_is_refused_before_writing(tmp_path):
    wide = Phi(PhiConfig.from_preset("nano", d_mlp=128)).state_dict()
    with pytest.raises(UserError, match=r"tensor model.layers.0.mlp.fc1.weight has shape \(128, 64\); expected \(256, 64\)"):
        save_checkpoint(wide, NANO, tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()


def test_a_checkpoint_whose_config_does_not_match_its_tensors_is_a_user_error(tmp_path):
    save_checkpoint(nano(0), None, tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["config"]["d_model"] = 128
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match=r"model.safetensors: tensor model.embed_tokens.weight has shape \(51200, 64\); expected \(51200, 128\)"):
        load_model(tmp_path)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.update(format_version=99), "format_version is 99"),
    (lambda m: m["config"].update(n_layers=3), "field config: PhiConfig: unknown field(s) n_layers"),
    (lambda m: m["config"].update(rotary_dim=7), "field config: PhiConfig.rotary_dim"),
])
def test_a_bad_checkpoint_config_is_a_user_error_naming_the_field(tmp_path, change, message):
    save_checkpoint(nano(0), None, tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    change(meta)
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(UserError) as raised:
        load_model(tmp_path)
    assert f"{tmp_path / 'config.json'}: " in str(raised.value) and message in str(raised.value)


def test_a_run_directory_loads_its_best_else_latest_consolidated_checkpoint(tmp_path):
    run = tmp_path / "run"
    save_checkpoint(nano(20), None, run / "checkpoints" / "step-0000020" / "model")
    save_checkpoint(nano(100), None, run / "checkpoints" / "step-0000100" / "model")
    (run / "checkpoints" / "step-0000200").mkdir()  # a save in progress: no model yet
    assert_same_weights(load_model(run), nano(100))
    assert_same_weights(load_model(run / "checkpoints" / "step-0000020"), nano(20))
    (run / "checkpoints" / "latest").write_text("step-0000020\n")  # the trainer's pointer wins
    assert_same_weights(load_model(run), nano(20))
    (run / "checkpoints" / "best").write_text("step-0000100\n")  # and its best-metric pointer wins over latest
    assert_same_weights(load_model(run), nano(100))


def test_a_run_directory_without_a_consolidated_checkpoint_is_a_user_error(tmp_path):
    (tmp_path / "checkpoints" / "step-0000010").mkdir(parents=True)
    with pytest.raises(UserError, match="no consolidated checkpoint"):
        load_model(tmp_path)


def test_load_model_reads_hugging_face_folders(tmp_path):
    model = nano(0)
    export_hf(model, tmp_path / "hf")
    assert_same_weights(load_model(tmp_path / "hf"), model)
    assert read_model_config(tmp_path / "hf") == PhiConfig(**{**NANO.to_dict(), "name": "hf"})


def test_a_preset_gives_the_same_random_model_every_time_without_touching_the_global_seed():
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    first = load_model("preset:nano")
    assert torch.equal(torch.rand(1), before)
    assert_same_weights(first, load_model("preset:nano"))
    assert read_model_config("preset:phi-1") == PhiConfig.from_preset("phi-1")


@pytest.mark.parametrize(("source", "message"), [
    ("preset:nope", "unknown preset 'nope'"),
    ("{tmp}/missing", "missing: no such directory"),
    ("{tmp}", "directory has no config.json"),
])
def test_sources_that_are_not_models_are_user_errors(tmp_path, source, message):
    with pytest.raises(UserError, match=message):
        load_model(source.format(tmp=tmp_path))
