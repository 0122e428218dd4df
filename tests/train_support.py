"""Real token packs for the trainer's tests: Python's own standard library, and a few exercises."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from textbooks.data.datasets import import_jsonl
from textbooks.train.tokenize import MixtureInput, pack_datasets

# CPython 3.11.7's json, email, http, logging, urllib and importlib/metadata packages (46 files,
# about 120k tokens; see data/README.md), checked in so the golden loss curve holds on any Python.
STDLIB_CORPUS = Path(__file__).parent / "data" / "stdlib_corpus.jsonl.gz"

# Two single-thread processes fit the 2 CI cores; more threads would only fight each other.
QUIET_ENV = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def stdlib_pack(root: Path) -> Path:
    """Tokenized standard library sources (code, loss on every token), 10% held out."""
    dataset = import_jsonl(STDLIB_CORPUS, root / "stdlib-code", kind="code")
    out = root / "stdlib-pack"
    pack_datasets([MixtureInput(dataset.path)], out, val_fraction=0.1, seed=0)
    return out


def exercise_pack(root: Path, loss_on: str = "solution") -> Path:
    """Forty tiny exercises (prompt + solution) tokenized with `--loss-on loss_on`."""
    src = root / "exercises.jsonl"
    with src.open("w", encoding="utf-8") as out:
        for i in range(40):
            prompt = f'def add_{i}(x: int) -> int:\n    """Return x plus {i}."""\n'
            out.write(json.dumps({"prompt": prompt, "solution": f"    return x + {i}\n"}) + "\n")
    dataset = import_jsonl(src, root / "exercises", kind="exercise")
    out = root / f"exercise-pack-{loss_on}"
    pack_datasets([MixtureInput(dataset.path)], out, val_fraction=0.1, seed=0, loss_on=loss_on)
    return out


def nano_overrides(steps: int, **extra) -> list[str]:
    """A nano model on 4 x 64-token sequences, dropout 0, no bar or plot: seconds per run."""
    base = {
        "model.preset": "nano", "data.seq_len": 64, "batch.global_batch": 4, "batch.micro_batch": 2,
        "max_steps": steps, "optim.lr": 3e-3, "schedule.warmup_steps": 2, "log.progress_bar": False,
        "log.plot": False, "eval.batches": 2,
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def losses(run_dir: Path) -> dict[int, float]:
    """Training loss by step from a run's metrics.jsonl."""
    lines = (Path(run_dir) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if "loss" in r}


def subprocess_env() -> dict[str, str]:
    return {**os.environ, **QUIET_ENV}


# Two ranks, one sequence each per micro-batch, a checkpoint every 4 of 16 steps: the runs that
# lose a node or are preempted, and the uninterrupted run they are compared with.
TWO_RANK_STEPS = 16
TWO_RANK_OVERRIDES = [*nano_overrides(TWO_RANK_STEPS, **{"checkpoint.every": 4, "eval.every": 4}),
                      "batch.micro_batch=1", "parallel=ddp"]


def torchrun_command(pack: Path, run_dir: Path, nproc: int, *overrides: str) -> list[str]:
    torchrun = Path(sys.executable).with_name("torchrun")
    return [str(torchrun), "--standalone", f"--nproc-per-node={nproc}", "-m", "textbooks", "train", "--config",
            "tiny-pretrain", "--data", str(pack), "--out", str(run_dir), *overrides]
