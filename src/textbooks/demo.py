"""`textbooks demo`: the whole pipeline at toy scale, on the embedded defaults, in minutes.

The demo is the sequence of `textbooks` commands a user would type, each printed before it runs
and each run as its own process, exactly as from a shell. Every stage resumes: datasets with the
same fingerprint are not rebuilt, teacher answers come from the cache, a training run continues
where it stopped and the eval keeps its finished results. So `make demo` after a crash (or twice)
finishes the work instead of redoing it.

  1. synth textbooks and exercises: the embedded teacher (SmolLM2-135M-Instruct on llama.cpp);
     the exercises are decontaminated (HumanEval and MBPP copies removed: exercises.decontam/pruned)
  2. curate a slice of the Python standard library: clean, dedup, the embedded teacher rates 100
     files (cut to 384 tokens, labels at the median split: a 135M teacher is weak), MiniLM
     embeddings, a random forest keeps the files it rates educational
  3. tokenize: code + textbooks for pretraining, exercises for finetuning
  4. train: pretrain the `tiny` preset, then finetune it on the exercises
  5. export-hf, and HumanEval in the sandbox on the exported folder
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import typer

from textbooks.errors import UserError

# Standard-library packages that read like textbook code: about 150 files, 2.6 MB of Python, for
# the classifier to choose from.
STDLIB_PACKAGES = ("json", "collections", "concurrent", "email", "logging", "http", "urllib", "asyncio", "unittest", "xml")


@dataclass(frozen=True)
class DemoSize:
    textbooks: int = 8  # sections of up to 512 tokens: ~1 minute of the embedded teacher
    # A 135M teacher gets most exercises rejected (the report shows why); at temperature 0.3
    # about one in five passes, so 48 requests (~3 minutes) leave enough for a short finetune.
    exercises: int = 48
    exercise_temperature: float = 0.3
    pretrain_steps: int = 100  # tiny-pretrain: 2,048 tokens per step
    finetune_steps: int = 40
    humaneval_tasks: int = 20
    max_new_tokens: int = 128
    # The teacher's answers dominate the curate step: 2,232 s for 100 files (22 s each) measured at
    # load average 15-20 on 2 cores with one decoding thread; idle, about a tenth (estimated).
    annotated_files: int = 100
    annotated_file_tokens: int = 384


def demo_commands(out: Path, size: DemoSize = DemoSize()) -> list[list[str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    data, packs, runs = out / "data", out / "packs", out / "runs"
    return [
        ["synth", "textbooks", "--num", str(size.textbooks), "--max-tokens-per-doc", "512", "--out", str(data / "textbooks")],
        ["synth", "exercises", "--num", str(size.exercises), "--no-structured", "--temperature", str(size.exercise_temperature),
         "--decontaminate", "--out", str(data / "exercises")],
        ["synth", "report", str(data / "exercises")],
        ["curate", *(arg for name in STDLIB_PACKAGES for arg in ("--source", str(stdlib / name))), "--out", str(data / "curated"),
         "--sample", str(size.annotated_files), "--max-file-tokens", str(size.annotated_file_tokens),
         "--threshold", "auto", "--embedder", "minilm"],
        ["tokenize", "--input", f"{data / 'curated' / 'filtered'}:1", "--input", f"{data / 'textbooks'}:2", "--out", str(packs / "pretrain")],
        ["tokenize", "--input", str(data / "exercises.decontam" / "pruned"), "--loss-on", "all", "--val-fraction", "0.1", "--out", str(packs / "finetune")],
        ["train", "--config", "tiny-pretrain", "--data", str(packs / "pretrain"), "--out", str(runs / "pretrain"),
         f"max_steps={size.pretrain_steps}"],
        ["train", "--config", "tiny-finetune", "--data", str(packs / "finetune"), "--out", str(runs / "finetune"),
         "--init", str(runs / "pretrain"), f"max_steps={size.finetune_steps}",
         # a few kilotokens of exercises: windows of 128 tokens give the finetune several samples
         "data.seq_len=128"],
        ["export-hf", "--model", str(runs / "finetune"), "--out", str(out / "hf")],
        ["eval", "humaneval", "--model", str(out / "hf"), "--limit", str(size.humaneval_tasks),
         "--max-new-tokens", str(size.max_new_tokens), "--out", str(out / "eval-humaneval")],
    ]


def run_demo(out: Path, size: DemoSize = DemoSize()) -> None:
    commands = demo_commands(out, size)
    started = time.monotonic()
    for number, args in enumerate(commands, start=1):
        print(f"\n[{number}/{len(commands)}] textbooks {shlex.join(args)}", flush=True)
        step_started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "textbooks", *args])
        if result.returncode != 0:
            raise UserError(f"demo step {number} failed (exit {result.returncode}): textbooks {shlex.join(args)}; "
                            "fix the cause and run the demo again: finished steps are kept")
        print(f"[{number}/{len(commands)}] done in {time.monotonic() - step_started:.0f} s", flush=True)
    print(f"\ndemo finished in {(time.monotonic() - started) / 60:.1f} min; everything is under {out}/")


def demo_command(out: Path = typer.Option(Path("runs/demo"), "--out", help="Where every dataset, run and result goes.")) -> None:
    """The whole pipeline at toy scale on the embedded teacher (resumable; 10-20 minutes on 2 cores)."""
    run_demo(out)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
