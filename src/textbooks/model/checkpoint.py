"""Our model checkpoint format, and `load_model`, the one way every command gets a model.

A checkpoint is a directory:

    model.safetensors   the state dict, names exactly as transformers' PhiForCausalLM
    config.json         {"format": "textbooks-phi", "format_version": 1, "dtype": ..., "config": PhiConfig}

`load_model(source)` takes any of:
- a checkpoint directory as above;
- a training run directory: its best (else latest) consolidated checkpoint, by the convention
  `RUN_DIR/checkpoints/step-XXXXXXX/model/` (the trainer writes that `model/` folder with
  `save_checkpoint`, beside its own resumable state; `checkpoints/latest` names the newest step),
  or one `step-XXXXXXX/` folder of it;
- a Hugging Face Phi folder (`config.json` with `"model_type": "phi"`, safetensors weights), such as a
  download of microsoft/phi-1 or the output of `textbooks export-hf`;
- `preset:NAME`: a randomly initialised model of a preset (seed 0), for tests and demos.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from textbooks.errors import UserError
from textbooks.model.phi import Phi, PhiConfig

FORMAT = "textbooks-phi"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PRESET_PREFIX = "preset:"
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


@contextmanager
def staged_directory(directory: Path) -> Iterator[Path]:
    """Fill a temporary sibling of `directory`, then rename it into place: readers never see a
    half-written model. An existing model directory is replaced; any other non-empty one is refused
    (`--out .` must not delete a project)."""
    if directory.exists() and any(directory.iterdir()) and not is_model_dir(directory):
        raise UserError(f"{directory}: exists and is not a model directory; expected a new or empty "
                        "directory, or a model directory to replace")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a model folder is shared like any other output
    try:
        yield staging
        # A directory cannot be renamed over a non-empty one: move the old one aside first.
        if directory.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
            os.replace(directory, retired / directory.name)
            os.replace(staging, directory)
            shutil.rmtree(retired)
        else:
            os.replace(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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

    with staged_directory(directory) as staging:
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "dtype": dtype_name(next(iter(tensors.values())).dtype), "config": config.to_dict()}
        (staging / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return directory


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    return data


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


def is_model_dir(directory: Path) -> bool:
    """Whether `directory` holds our checkpoint or a transformers model (not just any config.json)."""
    try:
        meta = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and (meta.get("format") == FORMAT or "model_type" in meta)


def read_model_config(source: str | Path) -> PhiConfig:
    """The config of what `load_model(source)` would load, without reading any weights."""
    from textbooks.model.hf import import_hf_config  # hf builds on this module

    if str(source).startswith(PRESET_PREFIX):
        return PhiConfig.from_preset(str(source).removeprefix(PRESET_PREFIX))
    directory = resolve_model_dir(source)
    return import_hf_config(directory) if is_hf_folder(directory) else read_checkpoint_config(directory)


def load_model(source: str | Path, *, dtype: str | torch.dtype = torch.float32,
               device: str | torch.device = "cpu") -> Phi:
    """A `Phi` in eval mode from a checkpoint, run directory, HF folder or `preset:NAME` (see above)."""
    from textbooks.model.hf import load_hf  # hf builds on this module

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
