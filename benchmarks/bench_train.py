"""Training throughput and peak memory: our trainer vs a plain PyTorch loop vs transformers' PhiForCausalLM.

    python benchmarks/bench_train.py                       # CPU, tiny preset, batch 8 x 256
    python benchmarks/bench_train.py --seq-len 2048 --steps 2 --repeats 1 --extra precision=bf16
    python benchmarks/bench_train.py --device cuda --preset phi-1-small --seq-len 2048 --batch 8

All three train the same architecture on the same batches (the tokenized standard library) with
AdamW and gradient clipping; the plain loops read their batches from the same loader. The trainer
runs as `textbooks train` does (chunked LM head and loss, its defaults; `--extra key=value` adds
overrides such as compile=true or precision=bf16); the plain loop on our Phi uses the unfused head
and loss, like transformers. Each loop runs in a subprocess of its own, so its peak memory is its
own (peak RSS on CPU, torch.cuda.max_memory_allocated on GPU); the loops take turns, the order
flipping every repeat. Each times `--steps` steps after `--warmup` untimed ones (which include any
compilation); the table shows medians. On GPU the trainer runs bf16 (autocast in one process) and
the plain loops do the same; MFU is over the device's bf16 dense peak (textbooks.train.metrics).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from textbooks.model.phi import Phi, PhiConfig, flops_per_token
from textbooks.train.loader import PackedData
from textbooks.train.metrics import device_peak_flops, read_metrics
from textbooks.train.trainer import train_from_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from train_support import stdlib_pack  # noqa: E402  (the same real data as the tests)

LOOPS = {"trainer": "textbooks trainer", "ours": "plain PyTorch loop (our Phi)",
         "transformers": "plain loop, transformers PhiForCausalLM"}


def trainer_tokens_per_s(pack: Path, args, run_dir: Path) -> float:
    overrides = [f"model.preset={args.preset}", f"data.seq_len={args.seq_len}", f"batch.global_batch={args.batch}",
                 f"batch.micro_batch={args.batch}", f"max_steps={args.warmup + args.steps}", "log.progress_bar=false",
                 "log.plot=false", "log.tensorboard=false", "eval.batches=0", "schedule.warmup_steps=1",
                 "precision=auto", *args.extra]
    train_from_cli("tiny-pretrain", pack, run_dir, overrides=overrides)
    records = [r for r in read_metrics(run_dir / "metrics.jsonl") if "loss" in r and r["step"] > args.warmup]
    # Each line's tokens/s covers the one step before it; the final step's save is not inside it.
    seconds = sum(args.batch * args.seq_len / r["tokens_per_s"] for r in records)
    return len(records) * args.batch * args.seq_len / seconds


def plain_loop_tokens_per_s(model: torch.nn.Module, loss_of, pack: Path, args, device: torch.device) -> float:
    """The textbook loop: batch, forward, backward, clip, step. No schedule, logging or checkpoints."""
    order = PackedData(pack).sample_order(args.seq_len, seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1,
                                  fused=device.type == "cuda")
    autocast = torch.autocast(device.type, dtype=torch.bfloat16,
                              enabled=device.type == "cuda" or "precision=bf16" in args.extra)
    model.train()
    start = 0.0
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            _sync(device)
            start = time.perf_counter()
        input_ids, labels = order.batch(step, args.batch)
        with autocast:
            loss = loss_of(model, input_ids.to(device), labels.to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    loss.item()
    _sync(device)
    return args.steps * args.batch * args.seq_len / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ours_plain(config: PhiConfig, device: torch.device):
    torch.manual_seed(0)
    with torch.device(device):
        model = Phi(config)
    return model, lambda m, x, y: m(x, targets=y)[1]


def transformers_plain(config: PhiConfig, device: torch.device):
    from transformers import PhiConfig as HFPhiConfig
    from transformers import PhiForCausalLM

    from textbooks.model.hf import hf_config

    torch.manual_seed(0)
    model = PhiForCausalLM(HFPhiConfig(**hf_config(config, torch.float32), attn_implementation="sdpa")).to(device)
    # transformers shifts labels itself; ours are already next-token aligned, so use its logits.
    return model, lambda m, x, y: torch.nn.functional.cross_entropy(m(input_ids=x).logits.float().flatten(0, 1),
                                                                     y.flatten(), ignore_index=-100)


def measure_loop(args) -> dict:
    """In a subprocess of its own: one loop's tokens/s and this process's peak memory."""
    device = torch.device(args.device)
    pack = Path(args.pack)
    if args.loop == "trainer":
        with tempfile.TemporaryDirectory() as run_dir:
            tokens_per_s = trainer_tokens_per_s(pack, args, Path(run_dir) / "run")
    else:
        build = ours_plain if args.loop == "ours" else transformers_plain
        tokens_per_s = plain_loop_tokens_per_s(*build(PhiConfig.from_preset(args.preset), device), pack, args, device)
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"tokens_per_s": tokens_per_s, "peak_bytes": peak}


def run_loop(loop: str, pack: Path, args) -> dict:
    command = [sys.executable, __file__, "--loop", loop, "--pack", str(pack), "--preset", args.preset,
               "--seq-len", str(args.seq_len), "--batch", str(args.batch), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--device", args.device, *(f"--extra={e}" for e in args.extra)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--extra", action="append", default=[], help="trainer override key=value (repeatable)")
    parser.add_argument("--loops", default=",".join(LOOPS))
    parser.add_argument("--loop", choices=list(LOOPS), help=argparse.SUPPRESS)  # one measurement, in a subprocess
    parser.add_argument("--pack", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop:
        print(json.dumps(measure_loop(args)))
        return
    device = torch.device(args.device)
    config = PhiConfig.from_preset(args.preset)

    loops = args.loops.split(",")
    results: dict[str, list[dict]] = {loop: [] for loop in loops}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        pack = stdlib_pack(Path(tmp))
        for repeat in range(args.repeats):  # taking turns, so that load on the machine hits all alike
            for loop in loops if repeat % 2 == 0 else reversed(loops):
                results[loop].append(run_loop(loop, pack, args))
                print(f"  {loop}: {results[loop][-1]}", file=sys.stderr, flush=True)

    peak = device_peak_flops(device)
    flops = flops_per_token(config, args.seq_len)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{args.preset}, batch {args.batch} x {args.seq_len}, {args.steps} timed steps x {args.repeats} repeats, "
          f"{name}, trainer overrides {args.extra or 'none'}, load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"| {'loop':42} | tokens/s (median) | x transformers | peak memory GiB | x transformers | "
          f"{'MFU' if peak else 'runs (tokens/s)'} |")
    print(f"|{'-' * 44}|-------------------|---------------|-----------------|----------------|-----|")
    base = results.get("transformers")
    for loop, runs in results.items():
        speed = statistics.median(r["tokens_per_s"] for r in runs)
        memory = statistics.median(r["peak_bytes"] for r in runs)
        speed_ratio = f"{speed / statistics.median(r['tokens_per_s'] for r in base):.2f}x" if base else "-"
        memory_ratio = f"{memory / statistics.median(r['peak_bytes'] for r in base):.2f}x" if base else "-"
        extra = f"{speed * flops / peak:.1%}" if peak else ", ".join(f"{r['tokens_per_s']:.0f}" for r in runs)
        print(f"| {LOOPS[loop]:42} | {speed:17.0f} | {speed_ratio:>13} | {memory / 2**30:15.2f} | {memory_ratio:>14} | {extra} |")


if __name__ == "__main__":
    main()
