"""Training checkpoints: sharded full state with torch.distributed.checkpoint, plus a consolidated model.

    RUN_DIR/checkpoints/
      step-0001000/
        state/        DCP: model and optimizer, sharded as trained; loads at any world size
        model/        consolidated weights in our model format (model.safetensors + config.json),
                      for `textbooks export-hf`, evaluation and `--init` of a finetune
        meta.json     step, tokens, metrics, the model config: written last, marks the step complete
      latest          names the newest complete step directory (replaced atomically)
      best            names the step directory with the best metric

A checkpoint is written into `step-XXXXXXX.tmp/` and renamed into place, then `latest` is replaced:
a crash at any point leaves the previous checkpoint as `latest` and whole.

The rest of the training state needs no tensors: the learning rate is a function of the step
(schedule.py), the data order a function of the step (the loader), and the dropout RNG is
reseeded from (seed, step, rank) before every step. What a resume at step s reproduces:
- at any world size: the same global batches in the same order, and the same learning rates;
- on CPU at the same world size: the uninterrupted run bit for bit (deterministic algorithms, the
  same dropout draws on every rank);
- at another world size: not the same dropout masks (drawn per rank, and a rank now holds other
  sequences) and not the same rounding (gradients summed in another order): the same training,
  not the same bits; without dropout, only rounding differs;
- on GPU: rounding differs even at the same world size, since CUDA's attention backward and other
  kernels accumulate with atomics in no fixed order.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)
from torch.distributed.checkpoint.stateful import Stateful

from textbooks.errors import UserError
from textbooks.io import atomic_write_text
from textbooks.model.phi import PhiConfig
from textbooks.train.parallel import Runtime, barrier

CHECKPOINTS = "checkpoints"
LATEST = "latest"
BEST = "best"
META = "meta.json"
# The fields that decide the shapes and meaning of the weights; dropout and the name may differ.
ARCHITECTURE_FIELDS = ("vocab_size", "n_layer", "n_head", "d_model", "d_mlp", "rotary_dim", "rope_theta",
                       "layer_norm_eps")
LOWER_IS_BETTER = {"val_loss": True, "pass@1": False}


def step_name(step: int) -> str:
    return f"step-{step:07d}"


class ModelAndOptimizer(Stateful):
    """DCP's view of the model and optimizer: plain-named state dicts whatever the wrapping."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.model, self.optimizer = model, optimizer

    def state_dict(self) -> dict:
        model_state, optim_state = get_state_dict(self.model, self.optimizer)
        return {"model": model_state, "optim": optim_state}

    def load_state_dict(self, state: dict) -> None:
        set_state_dict(self.model, self.optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])


@dataclass(frozen=True)
class Saved:
    step: int
    path: Path
    meta: dict


def check_architecture(found: dict, expected: PhiConfig, where: str) -> None:
    """A clear error, before any step runs, when weights come from a model of another shape."""
    diffs = [f"{f}={found.get(f)!r} (config: {getattr(expected, f)!r})"
             for f in ARCHITECTURE_FIELDS if found.get(f) != getattr(expected, f)]
    if diffs:
        raise UserError(f"{where}: checkpoint of model {found.get('name', '?')!r} does not fit the configured "
                        f"model {expected.name!r}: {', '.join(diffs)}; expected a checkpoint of the same "
                        "architecture (set model.preset to match, or start a new run directory)")


def save(run_dir: Path, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, runtime: Runtime, *,
         model_config: PhiConfig, meta: dict, keep_last: int, best_by: str,
         score: Callable[[Path], dict] | None = None) -> Saved:
    """Write step `step` (a collective: every rank calls it), then rotate old checkpoints.

    `score(model_dir)`, run on rank 0 before the checkpoint is published, adds metrics (pass@1)
    to `meta["metrics"]`; the other ranks wait for it.
    """
    from textbooks.model.checkpoint import save_checkpoint

    root = Path(run_dir) / CHECKPOINTS
    final = root / step_name(step)
    tmp = root / f"{step_name(step)}.tmp"
    if runtime.is_main:
        for partial in root.glob("step-*.tmp"):  # saves killed half-way
            shutil.rmtree(partial)
        tmp.mkdir(parents=True)
    barrier(runtime)
    with _quiet_single_process():
        dcp.save({"train": ModelAndOptimizer(model, optimizer)}, checkpoint_id=str(tmp / "state"),
                 no_dist=not runtime.distributed)
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    meta = {"step": step, **meta, "model_config": model_config.to_dict(), "world_size": runtime.world_size}
    if runtime.is_main:
        save_checkpoint(full, model_config, tmp / "model")
        if score is not None:
            meta["metrics"] = {**meta.get("metrics", {}), **score(tmp / "model")}
        atomic_write_text(tmp / META, json.dumps(meta, indent=2))
        shutil.rmtree(final, ignore_errors=True)  # the same step saved by a run that died after it
        os.replace(tmp, final)
        atomic_write_text(root / LATEST, final.name + "\n")
        _update_best(root, final, meta, best_by)
        _prune(root, keep_last)
    barrier(runtime)
    return Saved(step, final, meta)


def latest(run_dir: Path) -> Saved | None:
    """The newest complete checkpoint of a run, or None for a fresh run directory."""
    root = Path(run_dir) / CHECKPOINTS
    named = _read_pointer(root / LATEST)
    if named is not None:
        return named
    # `latest` lost (a crash between the rename and its replacement): the newest complete step.
    complete = _complete_steps(root)
    return _saved(complete[-1]) if complete else None


def best(run_dir: Path) -> Saved | None:
    return _read_pointer(Path(run_dir) / CHECKPOINTS / BEST)


def load(saved: Saved, model: nn.Module, optimizer: torch.optim.Optimizer, runtime: Runtime,
         model_config: PhiConfig) -> None:
    """Restore model and optimizer from `saved` into the (already parallelized) model; a collective."""
    check_architecture(saved.meta.get("model_config", {}), model_config, str(saved.path))
    state = {"train": ModelAndOptimizer(model, optimizer)}
    with _quiet_single_process():
        dcp.load(state, checkpoint_id=str(saved.path / "state"), no_dist=not runtime.distributed)


@contextlib.contextmanager
def _quiet_single_process():
    """DCP warns at every save and load in one process, which is a use it supports."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")
        yield


def _read_pointer(pointer: Path) -> Saved | None:
    if not pointer.is_file():
        return None
    path = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    return _saved(path) if (path / META).is_file() else None


def _saved(path: Path) -> Saved:
    meta = json.loads((path / META).read_text(encoding="utf-8"))
    return Saved(meta["step"], path, meta)


def _complete_steps(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if p.suffix != ".tmp" and (p / META).is_file())


def _update_best(root: Path, final: Path, meta: dict, best_by: str) -> None:
    value = meta.get("metrics", {}).get(best_by)
    if value is None:
        return
    current = _read_pointer(root / BEST)
    if current is not None and current.path != final:
        old = current.meta.get("metrics", {}).get(best_by)
        if old is not None and (value >= old if LOWER_IS_BETTER[best_by] else value <= old):
            return
    atomic_write_text(root / BEST, final.name + "\n")


def _prune(root: Path, keep_last: int) -> None:
    """Keep the newest `keep_last` complete checkpoints and the best one; remove the rest."""
    best_saved = _read_pointer(root / BEST)
    keep = set(_complete_steps(root)[-keep_last:])
    if best_saved is not None:
        keep.add(best_saved.path)
    for path in _complete_steps(root):
        if path not in keep:
            shutil.rmtree(path)
