"""Our `Phi` against transformers' `PhiForCausalLM` on the same weights and inputs (CPU).

    python benchmarks/bench_model.py [--preset tiny] [--threads 2] [--repeats 3]
    python benchmarks/bench_model.py --only train --shapes 8x512,8x2048 --modes eager,compiled --dtypes fp32,bf16

  training step       forward + backward + AdamW on batch x seq random tokens: tokens/s and peak
                      memory (peak RSS of the process; on GPU torch.cuda.max_memory_allocated).
                      Three sides: ours as the trainer runs it (LM head and loss chunked,
                      textbooks.model.loss), ours with the unfused head and loss (the logits in
                      full, as transformers), and transformers (sdpa attention, its own loss).
  greedy generation   a batch of left-padded prompts (the longest `--prompt-len` tokens), exactly
                      `--new-tokens` new tokens per row (ours: no EOS stop; transformers: sdpa,
                      use_cache, min_new_tokens = max_new_tokens): new tokens/s

Training: each side runs in a subprocess of its own (peak RSS is a process's high-water mark), one
untimed first step (compilation, allocator warmup: its time is reported apart), then `--steps`
timed steps; the sides take turns and the order flips every repeat, so that load from other
processes falls on all alike. The table shows medians over repeats, wall and CPU time (the CPU
time of the process is the steadier measure on a shared machine: it leaves out waiting for a core).
"compiled": ours compiles each block as the trainer's `compile=true` does; transformers'
model is compiled whole (`model.compile()`). "bf16": autocast to bf16 on both sides, fp32 weights.
Generation is timed in this process, the two taking turns; the greedy outputs are compared too.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import transformers

from textbooks.model.generate import generate_tokens
from textbooks.model.hf import export_hf
from textbooks.model.phi import Phi, PhiConfig
from textbooks.tokenizer import EOS_ID, VOCAB_SIZE

TRAIN_SIDES = ("ours", "ours-unfused", "transformers")
LOSS_CHUNK_SIZE = 1024  # TrainConfig.loss_chunk_size's default


def interleaved_medians(steps: list, repeats: int) -> list[tuple[float, float]]:
    """(median wall seconds, median CPU seconds of this process) of each step.

    The steps take turns, so that load from other processes falls on all of them alike, and the
    order flips every repeat, so that neither always runs on the memory the other just freed. CPU
    time is the steadier measure on a shared machine (it leaves out time spent waiting for a core).
    """
    for step in steps:
        step()  # warmup: allocator, kernels, lazy initialisation
    times = [[] for _ in steps]
    for repeat in range(repeats):
        turns = list(zip(steps, times))
        for step, record in turns if repeat % 2 == 0 else reversed(turns):
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            record.append((time.perf_counter() - wall, time.process_time() - cpu))
    return [(statistics.median(w for w, _ in record), statistics.median(c for _, c in record)) for record in times]


def training_step(side: str, hf_folder: str, preset: str, ids: torch.Tensor, device: torch.device,
                  dtype: str, compiled: bool):
    """One optimizer step of `side` as a closure; both losses are the mean next-token cross-entropy."""
    if side == "transformers":
        model = transformers.AutoModelForCausalLM.from_pretrained(hf_folder, attn_implementation="sdpa").to(device)
    else:
        torch.manual_seed(0)  # the weights exported to hf_folder
        model = Phi(PhiConfig.from_preset(preset)).to(device)
    model.train()
    if compiled and side == "transformers":
        model.compile()
    elif compiled:
        for block in model.model.layers:
            block.compile()  # as textbooks.train.parallel does for compile=true
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    inputs, targets = ids[:, :-1].to(device), ids[:, 1:].contiguous().to(device)
    chunk = LOSS_CHUNK_SIZE if side == "ours" else None
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16")

    def step() -> None:
        with autocast:
            if side == "transformers":  # it shifts its labels itself
                loss = model(inputs, labels=ids[:, :-1].to(device)).loss
            else:
                loss = model(inputs, targets=targets, loss_chunk_size=chunk)[1]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step


def measure_side(args) -> dict:
    """In a subprocess of its own: first step, then --steps timed steps, and the peak memory."""
    device = torch.device(args.device)
    batch, seq = map(int, args.shape.split("x"))
    ids = torch.randint(0, VOCAB_SIZE, (batch, seq + 1), generator=torch.Generator().manual_seed(1))
    step = training_step(args.side, args.hf_folder, args.preset, ids, device, args.dtype, args.mode == "compiled")
    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    walls, cpus = [], []
    for _ in range(args.steps):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"first_step_s": first, "wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
            "peak_bytes": peak, "tokens": batch * seq}


def run_side(args, side: str, shape: str, mode: str, dtype: str, hf_folder: str) -> dict:
    command = [sys.executable, __file__, "--side", side, "--shape", shape, "--mode", mode, "--dtype", dtype,
               "--hf-folder", hf_folder, "--preset", args.preset, "--threads", str(args.threads),
               "--steps", str(args.steps), "--device", args.device]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def training_table(args, hf_folder: str) -> None:
    print(f"training step, preset {args.preset}, {args.device}, {args.threads} threads: per side a subprocess, "
          f"1 untimed first step + {args.steps} timed, median over {args.repeats} repeats (order flipping)\n")
    print("| shape | mode | dtype | side | tokens/s (wall) | x transformers (wall) | x transformers (CPU time) "
          "| peak memory GiB | x transformers | first step s |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for shape in args.shapes.split(","):
        for mode in args.modes.split(","):
            for dtype in args.dtypes.split(","):
                runs: dict[str, list[dict]] = {side: [] for side in args.sides.split(",")}
                for repeat in range(args.repeats):
                    sides = list(runs)
                    for side in sides if repeat % 2 == 0 else reversed(sides):
                        runs[side].append(run_side(args, side, shape, mode, dtype, hf_folder))
                        print(f"  {shape} {mode} {dtype} {side}: {runs[side][-1]}", file=sys.stderr, flush=True)
                medians = {side: {key: statistics.median(r[key] for r in records) for key in records[0]}
                           for side, records in runs.items()}
                base = medians.get("transformers")
                for side, m in medians.items():
                    ratio = (lambda key, inverse: f"{(base[key] / m[key]) if inverse else (m[key] / base[key]):.2f}x"
                             if base else "-")
                    print(f"| {shape} | {mode} | {dtype} | {side} | {m['tokens'] / m['wall_s']:.0f} | "
                          f"{ratio('wall_s', True)} | {ratio('cpu_s', True)} | {m['peak_bytes'] / 2**30:.2f} | "
                          f"{ratio('peak_bytes', False)} | {m['first_step_s']:.1f} |", flush=True)


def left_padded(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, prompts))
    ids = torch.tensor([[EOS_ID] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shapes", default="8x512,8x2048", help="training: batch x seq, comma-separated")
    parser.add_argument("--modes", default="eager", help="training: eager, compiled")
    parser.add_argument("--dtypes", default="fp32", help="training: fp32, bf16")
    parser.add_argument("--sides", default=",".join(TRAIN_SIDES))
    parser.add_argument("--steps", type=int, default=2, help="training: timed steps per subprocess")
    parser.add_argument("--batch", type=int, default=8, help="generation: prompts")
    parser.add_argument("--prompt-len", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--only", choices=["train", "generate"])
    # One side's measurement, run by the table in a subprocess of its own.
    parser.add_argument("--side", choices=TRAIN_SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", help=argparse.SUPPRESS)
    parser.add_argument("--hf-folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.side:
        print(json.dumps(measure_side(args)))
        return

    torch.manual_seed(0)
    ours = Phi(PhiConfig.from_preset(args.preset))
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, python {sys.version.split()[0]}, "
          f"{args.threads} threads, preset {args.preset} ({ours.num_parameters():,} parameters), "
          f"load average {os.getloadavg()[0]:.1f} at the start\n")
    with tempfile.TemporaryDirectory() as folder:
        export_hf(ours, folder)
        if args.only in (None, "train"):
            training_table(args, folder)
        if args.only in (None, "generate"):
            theirs = transformers.AutoModelForCausalLM.from_pretrained(folder, attn_implementation="sdpa")
            generation_table(args, ours, theirs)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


def generation_table(args, ours: Phi, theirs) -> None:
    generator = torch.Generator().manual_seed(1)
    # Prompt lengths spread over the last quarter below --prompt-len: real left padding.
    lengths = [args.prompt_len - (i * args.prompt_len // 4) // max(args.batch - 1, 1) for i in range(args.batch)]
    prompts = [torch.randint(0, VOCAB_SIZE, (n,), generator=generator).tolist() for n in lengths]
    ids, mask = left_padded(prompts)
    ours.eval()
    theirs.eval()
    outputs = {}

    def ours_generate() -> None:
        outputs["ours"] = generate_tokens(ours, prompts, max_new_tokens=args.new_tokens, eos_id=None)

    def theirs_generate() -> None:
        with torch.inference_mode():
            out = theirs.generate(ids, attention_mask=mask, do_sample=False, use_cache=True,
                                  max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                                  pad_token_id=EOS_ID, eos_token_id=EOS_ID)
        outputs["theirs"] = out[:, ids.shape[1]:].tolist()

    (ours_wall, ours_cpu), (theirs_wall, theirs_cpu) = interleaved_medians([ours_generate, theirs_generate], args.repeats)
    same = "identical" if outputs["ours"] == outputs["theirs"] else "DIFFERENT"
    tokens = args.batch * args.new_tokens
    print(f"\ngreedy generation, median of {args.repeats} after 1 warmup\n")
    print("| benchmark | ours | transformers | ours / transformers | same, by CPU time |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| greedy generation, {args.batch} prompts of {min(lengths)}-{max(lengths)} tokens + {args.new_tokens} new "
          f"(new tokens/s; outputs {same}) | {tokens / ours_wall:.0f} | {tokens / theirs_wall:.0f} | "
          f"{theirs_wall / ours_wall:.2f}x | {theirs_cpu / ours_cpu:.2f}x |")


if __name__ == "__main__":
    main()
