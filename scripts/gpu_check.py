"""Qualify a machine for training in minutes: one JSON row per check, written the moment it finishes.

    python scripts/gpu_check.py [--out gpu-check.jsonl] [--budget-s 300]

GPU time is often short, so the checks run most telling first and each is skipped (status
"skipped", reason "budget") when its estimated time no longer fits in --budget-s:

  env                 device, its bf16 peak, torch and CUDA versions
  train-eager         phi-1-small at 8 x 2048 in bf16: tokens/s and MFU (the trainer's step, one process)
  chunked-loss        the chunked LM head + loss against the plain one: loss and gradients equal within
                      bf16 tolerance, and the peak memory of each
  generate            greedy generation tokens/s, ours (KV cache) against transformers' `generate`
  fsdp-step           one FSDP2 step under torchrun with one process (compiled on GPU: graph breaks)
  phi-1-fits          phi-1 (1.3B) at micro-batch 8 x 2048 under FSDP2 with activation checkpointing:
                      a step runs and its peak memory
  train-compiled      as train-eager with each block compiled; Dynamo's graphs, recompiles, graph breaks
  sandbox             the sandbox's programs/s (a machine without user namespaces says so here)
  train-2proc-resume  `textbooks train` on 2 processes, compile, activation checkpointing,
                      checkpoint.every=2, then a resume (on CPU/gloo when there is one GPU)

On CPU (CI) it runs the same code at the tiny preset and short sequences in fp32; rows that mean
something only on a GPU have status "needs-gpu" or say which numbers need one (`needs_gpu`).
The MFU it prints is the one to pass as `textbooks run PIPELINE --dry-run --assume-mfu`.
Runs under TORCH_LOGS=recompiles,graph_breaks (unless set), and counts both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("TORCH_LOGS", "recompiles,graph_breaks")

import torch  # noqa: E402 -- after TORCH_LOGS: torch reads it at import

from textbooks.model.phi import Phi, PhiConfig, flops_per_token  # noqa: E402
from textbooks.train import parallel  # noqa: E402
from textbooks.train.metrics import device_peak_flops  # noqa: E402

GPU = torch.cuda.is_available()
DEVICE = torch.device("cuda" if GPU else "cpu")
# (preset, micro-batch, sequence, dtype, timed steps): the paper's shapes on GPU, seconds on CPU.
SIZE = ("phi-1-small", 8, 2048, torch.bfloat16, 10) if GPU else ("tiny", 2, 64, torch.float32, 2)
# Each check's expected seconds (GPU, CPU), for the budget; compiling dominates where it is named.
ESTIMATE_S = {"env": (1, 1), "train-eager": (30, 20), "chunked-loss": (10, 10), "generate": (40, 30),
              "fsdp-step": (60, 40), "phi-1-fits": (60, 0), "train-compiled": (90, 240), "sandbox": (15, 15),
              "train-2proc-resume": (120, 600)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-check.jsonl"))
    parser.add_argument("--budget-s", type=float, default=300.0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # fsdp-step / phi-1-fits, started under torchrun
    parser.add_argument("--compile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(fsdp_worker(args.worker, args.compile)), flush=True)
        return
    started = time.monotonic()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for name, check in CHECKS.items():
            left = args.budget_s - (time.monotonic() - started)
            row = run_check(name, check, left)
            line = json.dumps(row)
            print(line, flush=True)
            out.write(line + "\n")
            out.flush()  # a killed check still leaves every row before it


def run_check(name: str, check, left_s: float) -> dict:
    needs_gpu = name == "phi-1-fits"
    row = {"check": name, "device": torch.cuda.get_device_name() if GPU else "cpu"}
    if needs_gpu and not GPU:
        return {**row, "status": "needs-gpu", "needs_gpu": True}
    estimate = ESTIMATE_S[name][0 if GPU else 1]
    if estimate > left_s:
        return {**row, "status": "skipped", "reason": f"budget: needs ~{estimate} s, {left_s:.0f} s left"}
    began = time.perf_counter()
    try:
        row.update(check())
        row.setdefault("status", "ok")
    except Exception as err:  # noqa: BLE001 -- a failed check is a row; the next checks still run
        row.update(status="failed", error=f"{type(err).__name__}: {err}",
                   where=traceback.format_exc(limit=-3).strip().splitlines()[-3:])
    row["seconds"] = round(time.perf_counter() - began, 2)
    if GPU:
        torch.cuda.empty_cache()
    return row


def sync() -> None:
    if GPU:
        torch.cuda.synchronize()


def peak_memory_gb(fn) -> tuple[object, float | None]:
    """fn()'s result and the device memory it peaked at (None on CPU)."""
    if not GPU:
        return fn(), None
    torch.cuda.reset_peak_memory_stats()
    result = fn()
    sync()
    return result, round(torch.cuda.max_memory_allocated() / 2**30, 2)


def check_env() -> dict:
    peak = device_peak_flops(DEVICE)
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "bf16_peak_tflops": peak / 1e12 if peak else None,
            "memory_gb": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1) if GPU else None,
            "preset": SIZE[0], "micro_batch": SIZE[1], "seq": SIZE[2], "dtype": str(SIZE[3]).removeprefix("torch."),
            "needs_gpu": [] if GPU else ["bf16 peak, MFU, peak memory, flash attention: this row on CPU is CI's"]}


def train_speed(compile: bool) -> dict:
    """The trainer's one-process step (autocast, chunked loss, fused AdamW on GPU): tokens/s and MFU."""
    from torch._dynamo.utils import counters

    preset, micro, seq, dtype, steps = SIZE
    config = PhiConfig.from_preset(preset)
    torch.manual_seed(0)
    with torch.device(DEVICE):
        model = Phi(config)
    model = parallel.parallelize(model, "none", dtype, compile=compile, activation_checkpointing=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=GPU)
    ids = torch.randint(0, config.vocab_size, (micro, seq), device=DEVICE)
    counters.clear()

    def step() -> None:
        with parallel.autocast("none", dtype, DEVICE):
            loss = model(ids, targets=ids, loss_reduction="sum", loss_chunk_size=1024)[1] / ids.numel()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    first = time.perf_counter()
    step()  # compiles (when asked) and warms the allocator: timed apart
    sync()
    first_s = time.perf_counter() - first
    step()
    sync()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    tokens_per_s = steps * ids.numel() / (time.perf_counter() - began)
    peak = device_peak_flops(DEVICE)
    row = {"tokens_per_s": round(tokens_per_s), "first_step_s": round(first_s, 2),
           "mfu": round(tokens_per_s * flops_per_token(config, seq) / peak, 4) if peak else None,
           "needs_gpu": [] if GPU else ["mfu"]}
    if compile:
        # Every block runs the same forward: one graph serves them all where Dynamo inlines the
        # module and takes its parameters as inputs (inline_inbuilt_nn_modules, on in the torch
        # we require); a graph per block would be a recompile each, and past Dynamo's recompile
        # limit (8) the remaining blocks would run eager without a word.
        row.update(graphs=counters["stats"]["unique_graphs"], blocks=config.n_layer,
                   graph_breaks=sum(counters["graph_break"].values()),
                   recompiles=max(counters["stats"]["unique_graphs"] - 1, 0))
    return row


def check_chunked_loss() -> dict:
    """Head + loss over (micro x seq) tokens: chunked against F.cross_entropy(F.linear(...)), same inputs."""
    import torch.nn.functional as F

    from textbooks.model.loss import linear_cross_entropy_sum

    preset, micro, seq, dtype, _ = SIZE
    config = PhiConfig.from_preset(preset)
    torch.manual_seed(0)
    hidden = torch.randn(micro * seq, config.d_model, device=DEVICE)
    weight = torch.randn(config.vocab_size, config.d_model, device=DEVICE) * 0.02
    bias = torch.zeros(config.vocab_size, device=DEVICE)
    targets = torch.randint(0, config.vocab_size, (micro * seq,), device=DEVICE)

    def run(chunked: bool):
        leaves = [t.detach().clone().requires_grad_() for t in (hidden, weight, bias)]
        with torch.autocast(DEVICE.type, dtype=dtype, enabled=dtype != torch.float32):
            if chunked:
                loss = linear_cross_entropy_sum(*leaves, targets, 1024)
            else:
                loss = F.cross_entropy(F.linear(*leaves).float(), targets, reduction="sum")
        loss.backward()
        return loss.detach().float(), [leaf.grad.float() for leaf in leaves]

    (plain_loss, plain_grads), plain_gb = peak_memory_gb(lambda: run(False))
    (chunk_loss, chunk_grads), chunk_gb = peak_memory_gb(lambda: run(True))
    tolerance = 2e-2 if dtype == torch.bfloat16 else 1e-4  # bf16 keeps 8 bits of mantissa

    def relative(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).norm() / b.norm().clamp_min(1e-12))

    errors = {"loss": relative(chunk_loss, plain_loss),
              **{f"grad_{n}": relative(c, p) for n, c, p in zip(("hidden", "weight", "bias"), chunk_grads, plain_grads)}}
    return {"status": "ok" if max(errors.values()) <= tolerance else "failed", "tolerance": tolerance,
            "relative_errors": {k: round(v, 6) for k, v in errors.items()},
            "peak_gb_plain": plain_gb, "peak_gb_chunked": chunk_gb, "needs_gpu": [] if GPU else ["peak memory"]}


def check_generate() -> dict:
    """Greedy tokens/s on the same random-weight model: ours against transformers' `generate`."""
    from transformers import AutoModelForCausalLM

    from textbooks.model.generate import generate_tokens
    from textbooks.model.hf import export_hf

    preset, _, _, dtype, _ = SIZE
    batch, prompt_len, new = (8, 64, 128) if GPU else (2, 16, 8)
    config = PhiConfig.from_preset(preset)
    torch.manual_seed(0)
    model = Phi(config).to(DEVICE, dtype).eval()
    prompts = torch.randint(0, config.vocab_size, (batch, prompt_len))
    with tempfile.TemporaryDirectory() as folder:
        export_hf(model, folder)
        theirs_model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(DEVICE).eval()

    def ours() -> list[list[int]]:
        return generate_tokens(model, prompts.tolist(), max_new_tokens=new, eos_id=None)

    def theirs() -> list[list[int]]:
        ids = prompts.to(DEVICE)
        out = theirs_model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                                    do_sample=False, pad_token_id=0)
        return out[:, prompt_len:].tolist()

    speeds, outputs = {}, {}
    for name, fn in (("ours", ours), ("transformers", theirs)):
        with torch.no_grad():
            fn()  # warm-up
            sync()
            began = time.perf_counter()
            outputs[name] = fn()
            sync()
        speeds[name] = batch * new / (time.perf_counter() - began)
    same = sum(a == b for x, y in zip(outputs["ours"], outputs["transformers"]) for a, b in zip(x, y))
    return {"batch": batch, "new_tokens": new, "tokens_per_s_ours": round(speeds["ours"]),
            "tokens_per_s_transformers": round(speeds["transformers"]),
            "ratio": round(speeds["ours"] / speeds["transformers"], 2), "same_tokens": round(same / (batch * new), 3)}


def torchrun(worker: str, compile: bool = False) -> dict:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1",
               __file__, "--worker", worker, *(["--compile"] if compile else [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    rows = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not rows:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"status": "failed", "error": f"torchrun exited with {done.returncode}", "stderr_tail": tail}
    return json.loads(rows[-1])


def fsdp_worker(worker: str, compile: bool) -> dict:
    """Under torchrun: FSDP2 (MixedPrecisionPolicy as the trainer sets it) for one step or two."""
    from torch._dynamo.utils import counters

    runtime = parallel.init_runtime(600)
    try:
        if worker == "phi-1-fits":
            preset, micro, seq, dtype, checkpointing = "phi-1", 8, 2048, torch.bfloat16, True
        else:
            preset, micro, seq, dtype, _ = SIZE if GPU else ("nano", 2, 64, torch.float32, 0)
            checkpointing = False
        config = PhiConfig.from_preset(preset)
        torch.manual_seed(0)
        with torch.device(runtime.device):
            model = Phi(config)
        model = parallel.parallelize(model, "fsdp", dtype, compile=compile, activation_checkpointing=checkpointing)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=GPU)
        ids = torch.randint(0, config.vocab_size, (micro, seq), device=runtime.device)
        counters.clear()

        def steps() -> float:
            for _ in range(2):
                loss = model(ids, targets=ids, loss_reduction="sum", loss_chunk_size=1024)[1] / ids.numel()
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            return float(loss)

        try:
            loss, peak = peak_memory_gb(steps)
        except torch.OutOfMemoryError as err:
            return {"status": "failed", "fits": False, "error": str(err).splitlines()[0]}
        row = {"preset": preset, "micro_batch": micro, "seq": seq, "world_size": runtime.world_size,
               "loss": round(loss, 4), "peak_gb": peak, "fits": True, "activation_checkpointing": checkpointing}
        if compile:
            row.update(graphs=counters["stats"]["unique_graphs"], graph_breaks=sum(counters["graph_break"].values()))
        return row
    finally:
        parallel.shutdown(runtime)


def check_sandbox() -> dict:
    from textbooks.errors import UserError
    from textbooks.sandbox import Sandbox

    programs = [f"def f(x):\n    return x * {i}\nassert f(2) == {2 * i}\n" for i in range(100)]
    try:
        with Sandbox() as sandbox:
            began = time.perf_counter()
            outcomes = [outcome for _, outcome in sandbox.run_many(enumerate(programs))]
            elapsed = time.perf_counter() - began
            isolation = sandbox.isolation
    except UserError as err:  # e.g. no user namespaces and no bubblewrap in the container
        return {"status": "unavailable", "error": str(err)}
    return {"isolation": isolation, "programs_per_s": round(len(programs) / elapsed, 1),
            "passed": sum(o.passed for o in outcomes), "programs": len(programs)}


def check_two_processes_and_resume() -> dict:
    """The first multi-process run a GPU job would make, then its resume from checkpoint step 2."""
    from textbooks.data.sources import import_local_trees
    from textbooks.train.tokenize import TokenizeConfig, tokenize

    env = dict(os.environ)
    where = "gpu"
    if torch.cuda.device_count() < 2:
        env["CUDA_VISIBLE_DEVICES"] = ""  # two processes need two GPUs; else gloo on CPU
        where = "cpu (gloo): fewer than 2 GPUs"
    with tempfile.TemporaryDirectory() as tmp:
        code = import_local_trees([Path(json.__file__).parent], Path(tmp) / "code")
        tokenize(TokenizeConfig(inputs=[f"{code.path}:1"], out=Path(tmp) / "pack", val_fraction=0.2, workers=1))
        base = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "textbooks",
                "train", "--config", "tiny-pretrain", "--data", str(Path(tmp) / "pack"), "--out", str(Path(tmp) / "run"),
                "model.preset=nano", "data.seq_len=64", "batch.global_batch=4", "batch.micro_batch=2",
                "compile=true", "activation_checkpointing=true", "checkpoint.every=2", "eval.every=0",
                "log.progress_bar=false", "log.tensorboard=false", "log.plot=false"]
        runs = []
        for steps in (2, 4):  # the second resumes from step 2
            done = subprocess.run([*base, f"max_steps={steps}"], capture_output=True, text=True, env=env, timeout=900)
            runs.append(done)
            if done.returncode != 0:
                return {"status": "failed", "ran_on": where, "error": f"max_steps={steps}: exit {done.returncode}",
                        "stderr_tail": done.stderr.strip().splitlines()[-5:]}
        resumed = "resuming from" in runs[1].stdout + runs[1].stderr
        metrics = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
        steps_logged = sorted({m["step"] for m in metrics if "loss" in m})
    return {"status": "ok" if resumed and steps_logged[-1] == 4 else "failed", "ran_on": where, "resumed": resumed,
            "steps_logged": steps_logged}


CHECKS = {
    "env": check_env,
    "train-eager": lambda: train_speed(compile=False),
    "chunked-loss": check_chunked_loss,
    "generate": check_generate,
    "fsdp-step": lambda: torchrun("fsdp-step", compile=GPU),
    "phi-1-fits": lambda: torchrun("phi-1-fits"),
    "train-compiled": lambda: train_speed(compile=True),
    "sandbox": check_sandbox,
    "train-2proc-resume": check_two_processes_and_resume,
}


if __name__ == "__main__":
    main()
