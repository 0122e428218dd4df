"""`load_model`, the one way every command gets a model, and `read_model_config`, its config only.

`load_model(source)` takes any of:
- a checkpoint directory (textbooks.model.checkpoint's format);
- a training run directory: its best (else latest) consolidated checkpoint, by the convention
  `RUN_DIR/checkpoints/step-XXXXXXX/model/` (the trainer writes that `model/` folder with
  `save_checkpoint`, beside its own resumable state; `checkpoints/latest` names the newest step),
  or one `step-XXXXXXX/` folder of it;
- a Hugging Face Phi folder (`config.json` with `"model_type": "phi"`, safetensors weights), such as a
  download of microsoft/phi-1 or the output of `textbooks export-hf`;
- `preset:NAME`: a randomly initialised model of a preset (seed 0), for tests and demos.
"""

from __future__ import annotations

from pathlib import Path

import torch

from textbooks.errors import UserError
from textbooks.io import read_json
from textbooks.model.checkpoint import CONFIG_FILE, STEP_DIR, load_checkpoint, parse_dtype, read_checkpoint_config
from textbooks.model.hf import import_hf_config, load_hf
from textbooks.model.phi import Phi, PhiConfig

PRESET_PREFIX = "preset:"


def latest_checkpoint(run_dir: Path) -> Path:
    """The model a run stands for: the step `RUN_DIR/checkpoints/best` names (the trainer's pointer
    to the best validation metric: the paper's choice among finetune checkpoints), else the one
    `latest` names, else the largest `step-N`."""
    root = run_dir / "checkpoints"
    for pointer in (root / "best", root / "latest"):
        named = root / pointer.read_text(encoding="utf-8").strip() / "model" if pointer.is_file() else None
        if named is not None and (named / CONFIG_FILE).is_file():
            return named
    steps = [(int(m.group(1)), d / "model") for d in root.iterdir()
             if (m := STEP_DIR.fullmatch(d.name)) and (d / "model" / CONFIG_FILE).is_file()]
    if not steps:
        raise UserError(f"{root}: no consolidated checkpoint; expected "
                        "step-XXXXXXX/model/config.json (the trainer writes one at each save)")
    return max(steps)[1]


def resolve_model_dir(path: str | Path) -> Path:
    """The directory holding the model's config.json, for a model, step or run directory."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        return path
    if (path / "model" / CONFIG_FILE).is_file():
        return path / "model"
    if (path / "checkpoints").is_dir():
        return latest_checkpoint(path)
    what = "directory has no config.json" if path.is_dir() else "no such directory"
    raise UserError(f"{path}: {what}; expected a checkpoint directory, a training run directory, "
                    f"a Hugging Face Phi folder or {PRESET_PREFIX}NAME")


def is_hf_folder(directory: Path) -> bool:
    return "format" not in read_json(directory / CONFIG_FILE)


def read_model_config(source: str | Path) -> PhiConfig:
    """The config of what `load_model(source)` would load, without reading any weights."""
    if str(source).startswith(PRESET_PREFIX):
        return PhiConfig.from_preset(str(source).removeprefix(PRESET_PREFIX))
    directory = resolve_model_dir(source)
    return import_hf_config(directory) if is_hf_folder(directory) else read_checkpoint_config(directory)


def load_model(source: str | Path, *, dtype: str | torch.dtype = torch.float32,
               device: str | torch.device = "cpu") -> Phi:
    """A `Phi` in eval mode from a checkpoint, run directory, HF folder or `preset:NAME` (see above)."""
    if str(source).startswith(PRESET_PREFIX):
        config = PhiConfig.from_preset(str(source).removeprefix(PRESET_PREFIX))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = Phi(config)
        return model.to(device=device, dtype=parse_dtype(dtype)).eval()
    directory = resolve_model_dir(source)
    if is_hf_folder(directory):
        return load_hf(directory, dtype=dtype, device=device)
    return load_checkpoint(directory, dtype=dtype, device=device)
