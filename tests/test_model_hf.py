"""Hugging Face interop: folders written by transformers load into our model and ours into
transformers, with equal logits and equal greedy generations, in every layout phi folders come in."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from textbooks.errors import UserError
from textbooks.model.generate import generate
from textbooks.model.hf import export_hf, import_hf, load_hf
from textbooks.model.phi import Phi, PhiConfig
from textbooks.tokenizer import EOS_ID, VOCAB_SIZE, load_tokenizer

# Not phi-1's defaults, so that a field lost in translation shows: rotary on a quarter of each
# head, a different RoPE base and LayerNorm epsilon.
CONFIG = PhiConfig.from_preset("nano", rotary_dim=8, rope_theta=5000.0, layer_norm_eps=1e-6)
PROMPTS = ["def fibonacci(n):\n    ", "import os\n", 'class Stack:\n    """A stack."""\n\n    def push(self, item):\n']
NEW_TOKENS = 24


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values in EVERY tensor (fresh models have zero biases and unit LayerNorms, which would
    hide a swapped bias), and no chance for ids past the tokenizer's vocabulary, which our
    `generate` never picks and transformers' would."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            scale = 1.0 if "layernorm.weight" in name else 0.0  # LayerNorm gains near 1, all else near 0
            param.copy_(scale + 0.1 * torch.randn(param.shape, generator=generator))
        model.lm_head.bias[VOCAB_SIZE:] = -30.0  # far below any real logit (about +-3 here)
    return model.eval()


def hf_random_model(seed: int = 0) -> transformers.PhiForCausalLM:
    hf_config = transformers.PhiConfig(
        vocab_size=CONFIG.vocab_size, hidden_size=CONFIG.d_model, intermediate_size=CONFIG.d_mlp,
        num_hidden_layers=CONFIG.n_layer, num_attention_heads=CONFIG.n_head,
        max_position_embeddings=CONFIG.max_seq_len, layer_norm_eps=CONFIG.layer_norm_eps,
        partial_rotary_factor=CONFIG.rotary_dim / CONFIG.head_dim, rope_theta=CONFIG.rope_theta,
        bos_token_id=EOS_ID, eos_token_id=EOS_ID,
    )
    return randomize(transformers.PhiForCausalLM(hf_config), seed)


def our_random_model(seed: int = 1) -> Phi:
    return randomize(Phi(CONFIG), seed)


def input_ids() -> torch.Tensor:
    return torch.randint(0, VOCAB_SIZE, (3, 40), generator=torch.Generator().manual_seed(7))


def assert_same_logits(ours: Phi, theirs: transformers.PhiForCausalLM) -> None:
    ids = input_ids()
    with torch.no_grad():
        our_logits, _ = ours(ids)
        their_logits = theirs(ids).logits
    assert (our_logits - their_logits).abs().max().item() < 1e-5


def hf_greedy(model: transformers.PhiForCausalLM, prompts: list[str]) -> list[str]:
    """transformers' own batched greedy decoding, left padded, cut at EOS like ours."""
    tokenizer = load_tokenizer()
    encoded = [e.ids for e in tokenizer.encode_batch(prompts)]
    width = max(map(len, encoded))
    ids = torch.tensor([[EOS_ID] * (width - len(e)) + e for e in encoded])
    mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded])
    out = model.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=NEW_TOKENS,
                         pad_token_id=EOS_ID, eos_token_id=EOS_ID)
    texts = []
    for row in out[:, width:].tolist():
        row = row[: row.index(EOS_ID)] if EOS_ID in row else row
        texts.append(tokenizer.decode(row, skip_special_tokens=False))
    return texts


def our_greedy(model: Phi, prompts: list[str]) -> list[str]:
    return generate(model, load_tokenizer(), prompts, max_new_tokens=NEW_TOKENS)


def test_a_transformers_folder_loads_with_equal_logits_and_generations(tmp_path):
    theirs = hf_random_model()
    theirs.save_pretrained(tmp_path)
    ours = load_hf(tmp_path)
    assert ours.config == PhiConfig(**{**CONFIG.to_dict(), "name": tmp_path.name})
    assert_same_logits(ours, theirs)
    assert our_greedy(ours, PROMPTS) == hf_greedy(theirs, PROMPTS)


def test_an_exported_folder_loads_in_transformers_with_equal_logits_and_generations(tmp_path):
    ours = our_random_model()
    export_hf(ours, tmp_path / "hf")
    theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    assert type(theirs) is transformers.PhiForCausalLM
    assert theirs.config.rope_parameters["partial_rotary_factor"] == 0.25
    assert_same_logits(ours, theirs)
    assert our_greedy(ours, PROMPTS) == hf_greedy(theirs, PROMPTS)


def test_the_exported_config_names_phi_and_our_special_tokens(tmp_path):
    export_hf(our_random_model(), tmp_path, dtype="bfloat16")
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architectures"] == ["PhiForCausalLM"]
    assert (config["model_type"], config["hidden_act"], config["tie_word_embeddings"]) == ("phi", "gelu_new", False)
    assert config["partial_rotary_factor"] == config["rope_parameters"]["partial_rotary_factor"] == 0.25
    assert (config["bos_token_id"], config["eos_token_id"], config["torch_dtype"]) == (EOS_ID, EOS_ID, "bfloat16")
    assert {t.dtype for t in load_file(tmp_path / "model.safetensors").values()} == {torch.bfloat16}
    assert json.loads((tmp_path / "generation_config.json").read_text())["eos_token_id"] == EOS_ID


def test_auto_tokenizer_loads_the_exported_tokenizer_and_encodes_identically(tmp_path):
    export_hf(our_random_model(), tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    text = 'def f(x):\n\t\tif x:\n        return "a  b"<|endoftext|>\n'
    assert theirs(text)["input_ids"] == load_tokenizer().encode(text).ids
    assert theirs.decode(theirs(text)["input_ids"]) == text
    assert theirs.eos_token_id == EOS_ID


def test_sharded_safetensors_load(tmp_path):
    theirs = hf_random_model()
    theirs.save_pretrained(tmp_path, max_shard_size="1MB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 2
    assert_same_logits(load_hf(tmp_path), theirs)


@pytest.mark.parametrize("stored", [torch.float16, torch.bfloat16])
def test_half_precision_folders_load_cast_to_the_requested_dtype(tmp_path, stored):
    theirs = hf_random_model().to(stored)
    theirs.save_pretrained(tmp_path)
    config, state_dict = import_hf(tmp_path)
    assert {t.dtype for t in state_dict.values()} == {torch.float32}
    for name, tensor in theirs.state_dict().items():
        assert torch.equal(state_dict[name], tensor.float())
    assert load_hf(tmp_path, dtype="bfloat16").lm_head.weight.dtype == torch.bfloat16


def phi1_hub_style_config(config: PhiConfig) -> dict:
    """config.json laid out as microsoft/phi-1's on the Hub (transformers 4.37), for `config`."""
    return {
        "_name_or_path": "microsoft/phi-1", "architectures": ["PhiForCausalLM"], "attention_dropout": 0.0,
        "bos_token_id": None, "embd_pdrop": 0.0, "eos_token_id": None, "hidden_act": "gelu_new",
        "hidden_size": config.d_model, "initializer_range": 0.02, "intermediate_size": config.d_mlp,
        "layer_norm_eps": config.layer_norm_eps, "max_position_embeddings": config.max_seq_len,
        "model_type": "phi", "num_attention_heads": config.n_head, "num_hidden_layers": config.n_layer,
        "num_key_value_heads": None, "partial_rotary_factor": config.rotary_dim / config.head_dim,
        "qk_layernorm": False, "resid_pdrop": 0.0, "rope_scaling": None, "rope_theta": config.rope_theta,
        "tie_word_embeddings": False, "torch_dtype": "float32", "transformers_version": "4.37.0",
        "use_cache": True, "vocab_size": config.vocab_size,
    }


@pytest.fixture
def exported(tmp_path):
    """An exported folder of a random model, and the model."""
    ours = our_random_model()
    export_hf(ours, tmp_path / "hf")
    return tmp_path / "hf", ours


def rewrite_config(folder, change) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_rotary_settings_are_read_from_the_top_level_as_transformers_4_writes_them(exported):
    folder, ours = exported
    (folder / "config.json").write_text(json.dumps(phi1_hub_style_config(CONFIG)))
    loaded = load_hf(folder)
    assert (loaded.config.rotary_dim, loaded.config.rope_theta) == (8, 5000.0)
    assert_same_logits(loaded, transformers.AutoModelForCausalLM.from_pretrained(folder).eval())
    assert torch.equal(loaded.lm_head.weight, ours.lm_head.weight)


def test_rotary_settings_inside_rope_parameters_win_as_in_transformers_5(exported):
    folder, _ = exported

    def only_rope_parameters(config):
        config["partial_rotary_factor"], config["rope_theta"] = 1.0, 10000.0  # stale values 5.x ignores
        config["rope_parameters"] = {"rope_type": "default", "rope_theta": 5000.0, "partial_rotary_factor": 0.25}

    rewrite_config(folder, only_rope_parameters)
    assert (load_hf(folder).config.rotary_dim, load_hf(folder).config.rope_theta) == (8, 5000.0)
    assert transformers.AutoModelForCausalLM.from_pretrained(folder).model.layers[0].self_attn.rotary_ndims == 8


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c.update(model_type="llama"), "config.json: field model_type is \"llama\""),
    (lambda c: c.update(qk_layernorm=True), "config.json: field qk_layernorm is true"),
    (lambda c: c.update(num_key_value_heads=1), "config.json: field num_key_value_heads is 1"),
    (lambda c: c.update(hidden_act="relu"), "config.json: field hidden_act is \"relu\""),
    (lambda c: c.update(tie_word_embeddings=True), "config.json: field tie_word_embeddings is true"),
    (lambda c: c["rope_parameters"].update(rope_type="linear", factor=2.0), "field rope_parameters.rope_type is \"linear\""),
    (lambda c: c.update(num_attention_heads=3, num_key_value_heads=3), "config.json: field num_attention_heads: 3 heads"),
    (lambda c: c.update(intermediate_size=512), "tensor model.layers.0.mlp.fc1.weight has shape (256, 64); expected (512, 64)"),
])
def test_a_folder_our_model_cannot_represent_is_a_user_error_naming_file_and_field(exported, change, message):
    folder, _ = exported
    rewrite_config(folder, change)
    with pytest.raises(UserError) as raised:
        load_hf(folder)
    assert message in str(raised.value)
    assert str(folder) in str(raised.value)


def test_saved_rotary_frequencies_are_ignored_as_transformers_ignores_them(exported):
    folder, ours = exported
    tensors = load_file(folder / "model.safetensors")
    save_file({**tensors, "model.rotary_emb.inv_freq": torch.ones(4)}, folder / "model.safetensors")
    assert_same_logits(load_hf(folder), transformers.AutoModelForCausalLM.from_pretrained(folder).eval())


def test_missing_and_unexpected_tensors_are_user_errors(exported):
    folder, _ = exported
    tensors = load_file(folder / "model.safetensors")
    extra = {**tensors, "model.layers.0.self_attn.q_layernorm.weight": torch.ones(32)}
    save_file(extra, folder / "model.safetensors")
    with pytest.raises(UserError, match=r"model.safetensors: unexpected tensor\(s\) model.layers.0.self_attn.q_layernorm.weight"):
        import_hf(folder)
    del tensors["lm_head.bias"]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(UserError, match=r"model.safetensors: missing tensor\(s\) lm_head.bias"):
        import_hf(folder)


def test_folders_without_a_config_or_safetensors_are_user_errors(exported, tmp_path):
    folder, _ = exported
    with pytest.raises(UserError, match=r"empty/config.json: file not found"):
        load_hf(shutil.copytree(folder, tmp_path / "empty", ignore=lambda *_: ["config.json"]))
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(UserError, match=r"no model.safetensors or model.safetensors.index.json"):
        load_hf(folder)
