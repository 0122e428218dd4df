"""Hugging Face interop: our `Phi` to and from a transformers `PhiForCausalLM` folder.

Both models name their tensors alike, so only the config is translated: field by field
(`HF_FIELDS`), plus rotary_dim = int(head_dim * partial_rotary_factor), as transformers derives it.
Grouped-query attention, query/key LayerNorms, tied embeddings and scaled RoPE are not phi-1 and
are refused.

transformers 4.x (and microsoft/phi-1 on the Hub) keeps `partial_rotary_factor` and `rope_theta`
at the top of config.json; 5.x moves them into `rope_parameters`. We read both and write both.
Weights are safetensors only (a pickle can run code on load): one `model.safetensors` or shards
listed in `model.safetensors.index.json`, in any float dtype.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from textbooks.errors import UserError
from textbooks.io import read_json, staged_directory
from textbooks.model.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    build_model,
    check_state_dict,
    dtype_name,
    is_model_dir,
    parse_dtype,
)
from textbooks.model.phi import Phi, PhiConfig
from textbooks.tokenizer import EOS_ID, save_hf_tokenizer

INDEX_FILE = "model.safetensors.index.json"
GENERATION_CONFIG_FILE = "generation_config.json"
TANH_GELU = ("gelu_new", "gelu_pytorch_tanh")  # the same function; transformers names it both ways
DEFAULT_PARTIAL_ROTARY_FACTOR = 0.5  # transformers' default when config.json names none
# Older transformers versions could save RoPE's inverse frequencies; they follow from the config.
ROTARY_BUFFER = "rotary_emb.inv_freq"
# Our PhiConfig field -> transformers' config.json field, where the two map one to one.
HF_FIELDS = {
    "vocab_size": "vocab_size",
    "n_layer": "num_hidden_layers",
    "n_head": "num_attention_heads",
    "d_model": "hidden_size",
    "d_mlp": "intermediate_size",
    "max_seq_len": "max_position_embeddings",
    "layer_norm_eps": "layer_norm_eps",
    "embd_pdrop": "embd_pdrop",
    "attn_pdrop": "attention_dropout",
    "resid_pdrop": "resid_pdrop",
    "init_std": "initializer_range",
}


def hf_config(config: PhiConfig, dtype: torch.dtype) -> dict:
    """config.json for `PhiForCausalLM`, readable by transformers 4.x and 5.x (and so by vLLM)."""
    partial_rotary_factor = config.rotary_dim / config.head_dim
    if int(config.head_dim * partial_rotary_factor) != config.rotary_dim:
        raise UserError(f"rotary_dim {config.rotary_dim}: transformers cannot express it as a fraction of "
                        f"head_dim {config.head_dim}; expected a rotary_dim that survives int(head_dim * factor)")
    return {
        "architectures": ["PhiForCausalLM"],
        "model_type": "phi",
        **{hf_name: getattr(config, field) for field, hf_name in HF_FIELDS.items()},
        "num_key_value_heads": config.n_head,
        "hidden_act": "gelu_new",
        "qk_layernorm": False,
        "tie_word_embeddings": False,
        "use_cache": True,
        "bos_token_id": EOS_ID,
        "eos_token_id": EOS_ID,
        # 4.x reads these two at the top level, 5.x inside rope_parameters.
        "partial_rotary_factor": partial_rotary_factor,
        "rope_theta": config.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_theta,
                            "partial_rotary_factor": partial_rotary_factor},
        # 4.x reads torch_dtype, 5.x dtype.
        "torch_dtype": dtype_name(dtype),
        "dtype": dtype_name(dtype),
    }


def generation_config() -> dict:
    # The pad token lives here only: as config.json's pad_token_id it would become the embedding's
    # padding_idx, whose row transformers never trains -- and it is <|endoftext|>.
    return {"bos_token_id": EOS_ID, "eos_token_id": EOS_ID, "pad_token_id": EOS_ID}


def export_hf(model: Phi, out_dir: str | Path, *, dtype: str | torch.dtype | None = None, card: str | None = None) -> Path:
    """Write a folder that `AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained`
    load: config.json, generation_config.json, model.safetensors and the tokenizer files, and the
    model card as README.md when one is given (`textbooks.pipeline.cards`).

    The weights keep the model's dtype unless `dtype` is given (`textbooks.model.load.load_model`
    gets a `Phi` from a run or checkpoint). The folder appears complete or not at all.
    """
    dtype = parse_dtype(dtype) if dtype is not None else model.lm_head.weight.dtype
    config_json = hf_config(model.config, dtype)
    tensors = {name: t.detach().to(device="cpu", dtype=dtype).contiguous() for name, t in model.state_dict().items()}
    with staged_directory(out_dir, replaceable=is_model_dir, what="model directory") as staging:
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        (staging / CONFIG_FILE).write_text(json.dumps(config_json, indent=2) + "\n")
        (staging / GENERATION_CONFIG_FILE).write_text(json.dumps(generation_config(), indent=2) + "\n")
        save_hf_tokenizer(staging)
        if card is not None:
            (staging / "README.md").write_text(card, encoding="utf-8")
    return Path(out_dir)


def _reject(path: Path, field: str, value, expected: str) -> UserError:
    return UserError(f"{path}: field {field} is {json.dumps(value)}; expected {expected} (phi-1's architecture)")


def import_hf_config(folder: str | Path) -> PhiConfig:
    """Our config for a transformers Phi folder; UserError for anything our model cannot represent."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{path}: file not found; expected a transformers Phi folder (config.json and "
                        "safetensors weights, as save_pretrained writes them)")
    hf = read_json(path)
    if hf.get("model_type") != "phi":
        raise UserError(f"{path}: field model_type is {json.dumps(hf.get('model_type'))}; expected \"phi\" "
                        "(a transformers PhiForCausalLM folder such as microsoft/phi-1)")
    if hf.get("qk_layernorm"):
        raise _reject(path, "qk_layernorm", hf["qk_layernorm"], "false")
    if hf.get("hidden_act", "gelu_new") not in TANH_GELU:
        raise _reject(path, "hidden_act", hf["hidden_act"], " or ".join(TANH_GELU))
    if hf.get("tie_word_embeddings"):
        raise _reject(path, "tie_word_embeddings", hf["tie_word_embeddings"], "false")
    heads = hf.get("num_attention_heads", PhiConfig.n_head)
    if hf.get("num_key_value_heads") not in (None, heads):
        raise _reject(path, "num_key_value_heads", hf["num_key_value_heads"], f"null or num_attention_heads ({heads})")
    # 5.x: rope_parameters; 4.x: top-level fields plus an optional rope_scaling for other RoPE types.
    rope_field = "rope_parameters" if hf.get("rope_parameters") else "rope_scaling"
    rope = hf.get(rope_field) or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type != "default":
        raise _reject(path, f"{rope_field}.rope_type", rope_type, '"default" (plain RoPE)')
    factor = rope.get("partial_rotary_factor", hf.get("partial_rotary_factor", DEFAULT_PARTIAL_ROTARY_FACTOR))
    # A missing field takes transformers' default, which is phi-1's value, as is ours.
    fields = {field: hf.get(hf_name, getattr(PhiConfig, field)) for field, hf_name in HF_FIELDS.items()}
    for field in ("embd_pdrop", "attn_pdrop", "resid_pdrop"):
        fields[field] = fields[field] or 0.0  # transformers allows null for "no dropout"
    try:
        config = PhiConfig(
            name=Path(folder).resolve().name,
            rotary_dim=int(fields["d_model"] // fields["n_head"] * factor),
            rope_theta=rope.get("rope_theta", hf.get("rope_theta", PhiConfig.rope_theta)),
            **fields,
        )
    except (UserError, TypeError, ValueError, ZeroDivisionError) as err:
        message = str(err)
        for field, hf_name in HF_FIELDS.items():
            message = message.replace(f"PhiConfig.{field}:", f"field {hf_name}:")
        raise UserError(f"{path}: {message}") from None
    if hf.get("head_dim") not in (None, config.head_dim):
        raise _reject(path, "head_dim", hf["head_dim"], f"null or hidden_size / num_attention_heads ({config.head_dim})")
    return config


def weight_files(folder: Path) -> tuple[list[Path], Path]:
    """The safetensors files of a folder, and the file that lists them (for messages)."""
    index = folder / INDEX_FILE
    if index.is_file():
        weight_map = read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise UserError(f"{index}: field weight_map is missing or empty; expected tensor name -> shard file")
        files = [folder / name for name in sorted(set(weight_map.values()))]
        for file in files:
            if not file.is_file():
                raise UserError(f"{index}: lists shard {file.name}, which is missing from {folder}")
        return files, index
    single = folder / WEIGHTS_FILE
    if single.is_file():
        return [single], single
    raise UserError(f"{folder}: no {WEIGHTS_FILE} or {INDEX_FILE}; expected safetensors weights "
                    "(pickled pytorch_model.bin is not read: re-save it with save_pretrained)")


def import_hf(folder: str | Path, *, dtype: str | torch.dtype = torch.float32) -> tuple[PhiConfig, dict[str, torch.Tensor]]:
    """Our config and the state dict (cast to `dtype`) of a transformers Phi folder.

    Names and shapes are checked before any weight is read.
    """
    folder = Path(folder)
    config = import_hf_config(folder)
    files, listing = weight_files(folder)
    dtype = parse_dtype(dtype)
    with ExitStack() as stack:
        handles = [stack.enter_context(safe_open(str(file), framework="pt")) for file in files]
        names = [(h, name) for h in handles for name in h.keys() if not name.endswith(ROTARY_BUFFER)]
        check_state_dict(config, {name: h.get_slice(name).get_shape() for h, name in names}, str(listing))
        state_dict = {name: h.get_tensor(name).to(dtype) for h, name in names}
    return config, state_dict


def load_hf(folder: str | Path, *, dtype: str | torch.dtype = torch.float32, device: str | torch.device = "cpu") -> Phi:
    config, state_dict = import_hf(folder, dtype=dtype)
    return build_model(config, state_dict, source=str(folder), dtype=dtype, device=device)
