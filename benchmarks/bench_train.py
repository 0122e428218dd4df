"""Training throughput: our trainer vs a plain PyTorch loop vs transformers' PhiForCausalLM.

    python benchmarks/bench_train.py                       # CPU, tiny preset, batch 8 x 256
    python benchmarks/bench_train.py --device cuda --preset phi-1-small --seq-len 2048 --batch 8

All three train the same architecture on the same batches (the tokenized standard library) with
AdamW and gradient clipping; the plain loops read their batches from the same loader, so what the
comparison isolates is the trainer's own overhead (schedule, token counting, checkpoint-free
steps). Each repeat times `--steps` steps after `--warmup` untimed ones; the table shows medians.
On GPU the trainer runs bf16 (autocast in one process) and the plain loop does the same; MFU is
over the device's bf16 dense peak (textbooks.train.metrics).
"""

from __future__ import annotations

import argparse
import statistics
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


def trainer_tokens_per_s(pack: Path, args, run_dir: Path) -> float:
    overrides = [f"model.preset={args.preset}", f"data.seq_len={args.seq_len}", f"batch.global_batch={args.batch}",
                 f"batch.micro_batch={args.batch}", f"max_steps={args.warmup + args.steps}", "log.progress_bar=false",
                 "log.plot=false", "log.tensorboard=false", "eval.batches=0", "schedule.warmup_steps=1",
                 "precision=auto"]
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
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    config = PhiConfig.from_preset(args.preset)

    with tempfile.TemporaryDirectory() as tmp:
        pack = stdlib_pack(Path(tmp))
        results: dict[str, list[float]] = {"textbooks trainer": [], "plain PyTorch loop (our Phi)": [],
                                           "plain loop, transformers PhiForCausalLM": []}
        for repeat in range(args.repeats):  # interleaved, so that load on the machine hits all alike
            results["textbooks trainer"].append(trainer_tokens_per_s(pack, args, Path(tmp) / f"run-{repeat}"))
            results["plain PyTorch loop (our Phi)"].append(plain_loop_tokens_per_s(*ours_plain(config, device), pack, args, device))
            results["plain loop, transformers PhiForCausalLM"].append(
                plain_loop_tokens_per_s(*transformers_plain(config, device), pack, args, device))

    peak = device_peak_flops(device)
    flops = flops_per_token(config, args.seq_len)
    baseline = statistics.median(results["plain PyTorch loop (our Phi)"])
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{args.preset}, batch {args.batch} x {args.seq_len}, {args.steps} timed steps x {args.repeats} repeats, {name}")
    print(f"| {'loop':42} | tokens/s (median) | vs plain loop | {'MFU' if peak else 'runs (tokens/s)'} |")
    print(f"|{'-' * 44}|-------------------|---------------|-----|")
    for label, values in results.items():
        median = statistics.median(values)
        extra = f"{median * flops / peak:.1%}" if peak else ", ".join(f"{v:.0f}" for v in values)
        print(f"| {label:42} | {median:17.0f} | {median / baseline:13.3f} | {extra} |")


if __name__ == "__main__":
    main()
