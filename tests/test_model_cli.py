"""The model commands as a user runs them: `textbooks model info`, `export-hf`, `import-hf`,
in real subprocesses; bad input exits 2 with one line naming what was wrong."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import run_cli
from textbooks.model.checkpoint import save_checkpoint
from textbooks.model.load import load_model
from textbooks.model.phi import Phi, PhiConfig


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_model_info_prints_the_config_and_phi_1s_parameter_count():
    result = run_cli("model", "info", "--preset", "phi-1")
    assert result.returncode == 0, result.stderr
    assert "1,418,270,720" in result.stdout
    assert {"d_model", "n_layer", "rotary_dim"} <= {line.split()[0] for line in result.stdout.splitlines()}


def test_model_info_with_an_unknown_preset_exits_2():
    assert_one_line_error(run_cli("model", "info", "--preset", "phi-9"), "unknown preset 'phi-9'")


@pytest.mark.slow
def test_a_run_exports_to_hugging_face_and_imports_back_unchanged(tmp_path):
    torch.manual_seed(0)
    model = Phi(PhiConfig.from_preset("nano"))
    save_checkpoint(model, None, tmp_path / "run" / "checkpoints" / "step-0000050" / "model")

    exported = run_cli("export-hf", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "hf"))
    assert exported.returncode == 0, exported.stderr
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == ["PhiForCausalLM"]
    assert (tmp_path / "hf" / "tokenizer.json").is_file()

    imported = run_cli("import-hf", "--hf", str(tmp_path / "hf"), "--out", str(tmp_path / "back"))
    assert imported.returncode == 0, imported.stderr
    back = load_model(tmp_path / "back")
    assert all(torch.equal(t, back.state_dict()[name]) for name, t in model.state_dict().items())

    info = run_cli("model", "info", "--model", str(tmp_path / "back"))
    assert "6,704,640" in info.stdout


def test_importing_a_folder_that_is_not_phi_exits_2(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    result = run_cli("import-hf", "--hf", str(tmp_path), "--out", str(tmp_path / "out"))
    assert_one_line_error(result, f"{tmp_path / 'config.json'}: field model_type is \"llama\"")
    assert not (tmp_path / "out").exists()


def test_exporting_a_checkpoint_with_mismatched_shapes_exits_2(tmp_path):
    save_checkpoint(Phi(PhiConfig.from_preset("nano")), None, tmp_path / "ckpt")
    meta = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    meta["config"]["d_mlp"] = 512
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(meta))
    result = run_cli("export-hf", "--model", str(tmp_path / "ckpt"), "--out", str(tmp_path / "hf"))
    assert_one_line_error(result, "tensor model.layers.0.mlp.fc1.weight has shape (256, 64); expected (512, 64)")
    assert not (tmp_path / "hf").exists()
