"""Our model checkpoint format: save, read and check a checkpoint directory.

A checkpoint is a directory:

    model.safetensors   the state dict, names exactly as transformers' PhiForCausalLM
    config.json         {"format": "textbooks-phi", "format_version": 1, "dtype": ..., "config": PhiConfig}

Resolving any `--model` (a run, an HF folder, a preset) is textbooks.model.load's job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from textbooks.errors import UserError
from textbooks.io import read_json, staged_directory
from textbooks.model.phi import Phi, PhiConfig

FORMAT = "textbooks-phi"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STEP_DIR = re.compile(r"step-(\d+)")

DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16,
}


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise UserError(f"dtype: got {dtype!r}; expected one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _first_few(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (" ..." if len(names) > shown else "")


def check_state_dict(config: PhiConfig, shapes: Mapping[str, torch.Size], source: str) -> None:
    """Raise a UserError unless `shapes` has exactly the tensors of `Phi(config)`, shaped alike."""
    with torch.device("meta"):
        expected = {name: t.shape for name, t in Phi(config).state_dict().items()}
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing:
        raise UserError(f"{source}: missing tensor(s) {_first_few(missing)} ({len(missing)} of {len(expected)}); "
                        "expected every tensor of a phi model")
    if unexpected:
        raise UserError(f"{source}: unexpected tensor(s) {_first_few(unexpected)}; "
                        "expected only the tensors of a phi model (PhiForCausalLM names)")
    for name, shape in expected.items():
        if tuple(shapes[name]) != tuple(shape):
            raise UserError(f"{source}: tensor {name} has shape {tuple(shapes[name])}; expected {tuple(shape)} "
                            f"for the config (n_layer={config.n_layer}, d_model={config.d_model}, "
                            f"d_mlp={config.d_mlp}, vocab_size={config.vocab_size})")


def build_model(config: PhiConfig, state_dict: Mapping[str, torch.Tensor], *, source: str,
                dtype: str | torch.dtype = torch.float32, device: str | torch.device = "cpu") -> Phi:
    """A `Phi` holding these weights, built on the meta device first so that no random
    initialisation is computed and thrown away (seconds and gigabytes for phi-1)."""
    check_state_dict(config, {name: t.shape for name, t in state_dict.items()}, source)
    dtype = parse_dtype(dtype)
    with torch.device("meta"):
        model = Phi(config)
    model.load_state_dict({name: t.to(device=device, dtype=dtype) for name, t in state_dict.items()},
                          strict=True, assign=True)
    return model.eval()


def save_checkpoint(weights: Phi | Mapping[str, torch.Tensor], config: PhiConfig | None, directory: str | Path) -> Path:
    """Write a checkpoint directory atomically: into a temporary sibling, then renamed into place.

    `weights` is a `Phi` (then `config` may be None) or a full, unsharded state dict (FSDP users:
    gather it first, e.g. `get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))`).
    An existing checkpoint at `directory` is replaced.
    """
    if isinstance(weights, Phi):
        config = config or weights.config
        weights = weights.state_dict()
    if config is None:
        raise TypeError("save_checkpoint: a state dict needs its PhiConfig")
    directory = Path(directory)
    check_state_dict(config, {name: t.shape for name, t in weights.items()}, f"save_checkpoint({directory})")
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in weights.items()}

    with staged_directory(directory, replaceable=is_model_dir, what="model directory") as staging:
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "dtype": dtype_name(next(iter(tensors.values())).dtype), "config": config.to_dict()}
        (staging / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return directory


def read_checkpoint_config(directory: Path) -> PhiConfig:
    path = directory / CONFIG_FILE
    meta = read_json(path)
    if meta.get("format") != FORMAT:
        raise UserError(f"{path}: format is {meta.get('format')!r}; expected {FORMAT!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path}: format_version is {meta.get('format_version')!r}; this version of textbooks "
                        f"reads {FORMAT_VERSION}")
    if not isinstance(meta.get("config"), dict):
        raise UserError(f"{path}: field config is missing; expected the PhiConfig as a JSON object")
    try:
        return PhiConfig.from_dict(meta["config"])
    except (UserError, TypeError) as err:
        raise UserError(f"{path}: field config: {err}") from None


def load_checkpoint(directory: str | Path, *, dtype: str | torch.dtype = torch.float32,
                    device: str | torch.device = "cpu") -> Phi:
    directory = Path(directory)
    config = read_checkpoint_config(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise UserError(f"{weights}: file not found; a checkpoint holds {WEIGHTS_FILE} beside {CONFIG_FILE}")
    return build_model(config, load_file(str(weights)), source=str(weights), dtype=dtype, device=device)


def is_model_dir(directory: Path) -> bool:
    """Whether `directory` holds our checkpoint or a transformers model (not just any config.json)."""
    try:
        meta = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and (meta.get("format") == FORMAT or "model_type" in meta)
