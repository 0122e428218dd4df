"""The training loop: pretraining on packed tokens, or finetuning from `--init`, one or many processes.

    textbooks train --config tiny-pretrain --data PACK --out RUN_DIR [--init CKPT] [key=value ...]
    torchrun --nproc-per-node 8 -m textbooks train ...   # the same command, data-parallel (FSDP2)

Running the command again on an existing RUN_DIR resumes from its latest checkpoint.

One step: this rank's share of the global batch in micro-batches; each micro-batch's summed
cross-entropy is divided by the number of target tokens in the GLOBAL batch (all ranks, all
micro-batches), so that accumulation and world size leave the mathematics unchanged; the
gradient all-reduce averages over ranks, so the loss is scaled by the world size to make it a sum.
A global batch without a single target token (every token masked by `data.loss_on=solution`)
skips its update with a message rather than dividing by zero (see DataSection.loss_on).

The LM head and the loss run chunked (`loss_chunk_size`, textbooks.model.loss); `compile` and
`precision=bf16` (autocast, also on CPU) are options. This process's first step, which compiles,
is timed apart (`first_step_s` in metrics.jsonl) and left out of tokens/s.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from textbooks.config import command_config, dump_yaml, read_yaml, to_dict
from textbooks.errors import UserError
from textbooks.model.loss import IGNORE_INDEX
from textbooks.model.phi import Phi, PhiConfig, flops_per_token
from textbooks.train import parallel, state
from textbooks.train.config import TrainConfig, model_config_of, preset_path
from textbooks.train.loader import PackedData
from textbooks.train.metrics import MetricsLogger, Throughput, device_peak_flops, plot_loss_curves
from textbooks.train.schedule import lr_at
from textbooks.train.torch_version import require_torch

# (a saved model's directory, the device to run it on) -> its scores ({"pass@1": ...}); handed in
# by the caller, because training does not import evaluation (see `textbooks.eval.selection`).
CheckpointScorer = Callable[[Path, str], dict]

# Changing these between a run and its resume would silently train something else.
RESUME_MUST_MATCH = ("model", "data", "batch.global_batch", "optim", "schedule", "seed", "precision")


def train_from_cli(config_path: str | Path | None, data_dir: str | Path, out_dir: str | Path,
                   init: str | Path | None = None, overrides: Sequence[str] = (),
                   score_checkpoint: CheckpointScorer | None = None) -> dict:
    """`textbooks train`: a preset name or YAML path, dotted overrides; returns the run's summary."""
    cfg = command_config(TrainConfig, preset_path(config_path) if config_path else None, overrides)
    return train(cfg, data_dir, out_dir, init=init, score_checkpoint=score_checkpoint)


def train(cfg: TrainConfig, data_dir: str | Path, run_dir: str | Path, *, init: str | Path | None = None,
          score_checkpoint: CheckpointScorer | None = None) -> dict:
    """Train; `score_checkpoint` scores each saved model when `checkpoint.best_by` is a benchmark score."""
    if cfg.checkpoint.best_by == "pass@1" and score_checkpoint is None:
        raise UserError("checkpoint.best_by=pass@1: expected an evaluation function to score checkpoints with "
                        "(`textbooks train` makes one; from Python, pass score_checkpoint=)")
    require_torch()
    runtime = parallel.init_runtime(cfg.process_group_timeout_s)
    deterministic = torch.are_deterministic_algorithms_enabled()
    trainer = None
    try:
        trainer = Trainer(cfg, Path(data_dir), Path(run_dir), runtime, init, score_checkpoint)
        return trainer.run()
    except BaseException as error:
        if runtime.distributed:  # the traceback's frames hold the model: it must go before the group (parallel.shutdown)
            traceback.clear_frames(error.__traceback__)
        if not isinstance(error, (RuntimeError, torch.distributed.DistError)) or not parallel.lost_peer(runtime, error):
            raise
        saved = state.latest(Path(run_dir))
        at = f" at step {trainer.step}" if trainer is not None else ""
        raise UserError(f"rank {runtime.rank} of {runtime.world_size}: lost another rank{at} (a node or "
                        f"process died: {str(error).splitlines()[0][:200]}); start every node again with the same command: "
                        f"it resumes from {saved.path if saved else 'the start'}") from None
    finally:
        torch.use_deterministic_algorithms(deterministic)  # a library call leaves the process as it was
        if trainer is not None:
            trainer.model = trainer.optimizer = None
        parallel.shutdown(runtime)


def summed_loss(model: nn.Module, input_ids: torch.Tensor, labels: torch.Tensor,
                chunk_size: int | None = None) -> torch.Tensor:
    """Cross-entropy summed over target tokens, in fp32 (the caller divides by the global count).

    Inside the model's forward (FSDP2 gathers the LM head's weights there), chunked with `chunk_size`.
    """
    return model(input_ids, targets=labels, loss_reduction="sum", loss_chunk_size=chunk_size)[1]


def check_compile_available(device: torch.device) -> None:
    """torch.compile on CPU generates C++: without a compiler it would fail at the first step."""
    if device.type != "cpu":
        return
    from torch._inductor import config as inductor_config
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        get_cpp_compiler()  # inductor's own search (CXX, then g++), run before any step
    except Exception:  # noqa: BLE001 -- inductor raises its own InvalidCxxCompiler, a RuntimeError or an OSError
        raise UserError(f"compile=true: torch.compile on CPU needs a C++ compiler (searched {inductor_config.cpp.cxx}); "
                        "install one (apt-get install g++, or set CXX) or set compile=false") from None


def reseed(seed: int, step: int, rank: int) -> None:
    """Dropout's RNG as a function of (seed, step, rank): resume needs no saved generator state."""
    torch.manual_seed(int(np.random.SeedSequence([seed, step, rank]).generate_state(1, np.uint64)[0] >> 1))


class Trainer:
    def __init__(self, cfg: TrainConfig, data_dir: Path, run_dir: Path, runtime: parallel.Runtime,
                 init: str | Path | None, score_checkpoint: CheckpointScorer | None = None):
        self.cfg, self.run_dir, self.rt, self.init = cfg, run_dir, runtime, init
        self.score_checkpoint = score_checkpoint
        self.stop = parallel.StopRequest()
        self.model_config = model_config_of(cfg)
        self.accum = cfg.grad_accum_steps(runtime.world_size)
        self.resume_from = state.latest(run_dir)
        self._check_run_dir()
        self.data = PackedData(data_dir, vocab_size=self.model_config.vocab_size, loss_on=cfg.data.loss_on)
        self.order = self.data.sample_order(cfg.data.seq_len, cfg.seed)
        if cfg.deterministic and runtime.device.type == "cpu":
            torch.use_deterministic_algorithms(True)

        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        with torch.device(runtime.device):
            model = Phi(self.model_config)
        if init is not None and self.resume_from is None:
            load_init(model, Path(init), self.model_config)
        self.strategy = parallel.resolve_strategy(cfg.parallel, runtime)
        self.dtype = parallel.compute_dtype(cfg.precision, runtime.device)
        if cfg.compile:
            check_compile_available(runtime.device)
        self.loss_chunk_size = cfg.loss_chunk_size or None
        self.model = parallel.parallelize(model, self.strategy, self.dtype, compile=cfg.compile,
                                          activation_checkpointing=cfg.activation_checkpointing)
        self.optimizer = build_optimizer(self.model, cfg, runtime.device)
        self.step = 0
        if self.resume_from is not None:
            state.load(self.resume_from, self.model, self.optimizer, self.rt, self.model_config)
            self.step = self.resume_from.step
        self.tokens_per_step = cfg.batch.global_batch * cfg.data.seq_len

    def _check_run_dir(self) -> None:
        saved = self.run_dir / "config.yaml"
        if self.resume_from is not None and saved.is_file():
            before, now = _flatten(read_yaml(saved)), _flatten(to_dict(self.cfg))
            changed = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)
                       and any(k == p or k.startswith(p + ".") for p in RESUME_MUST_MATCH)]
            if changed:
                k = changed[0]
                raise UserError(f"{saved}: resuming this run with {k}={now.get(k)!r}, but it was trained with "
                                f"{k}={before.get(k)!r}; expected the same settings (or a new --out directory)")

    def run(self) -> dict:
        cfg = self.cfg
        if self.rt.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            dump_yaml(cfg, self.run_dir / "config.yaml")  # the resolved config, every default spelled out
        log = MetricsLogger(self.run_dir, enabled=self.rt.is_main, start_step=self.step, max_steps=cfg.max_steps,
                            tensorboard=cfg.log.tensorboard, progress_bar=cfg.log.progress_bar)
        if self.resume_from is not None:
            ignored = f"; --init {self.init} ignored" if self.init is not None else ""
            log.message(f"resuming from {self.resume_from.path} (step {self.step}){ignored}")
        if cfg.checkpoint.best_by == "pass@1":
            log.message(f"warning: checkpoint.best_by=pass@1 picks the checkpoint on {cfg.checkpoint.benchmark} itself; "
                        "the chosen checkpoint's score on it is inflated (selection on the test set)")
        throughput = Throughput(flops_per_token(self.model_config, cfg.data.seq_len),
                                device_peak_flops(self.rt.device), self.rt.world_size)
        self.model.train()
        last = {}
        first_step, started = True, time.perf_counter()
        with self.stop.listening():
            while self.step < cfg.max_steps:
                self.step += 1
                loss, grad_norm, lr = self.train_step()
                log.advance()
                final = self.step == cfg.max_steps
                if first_step:  # compilation and warmup happen here: timed apart, not training speed
                    if loss is not None:
                        loss.item()  # waits for the device
                    log.log(self.step, {"first_step_s": time.perf_counter() - started})
                    throughput.restart()
                    first_step = False
                else:
                    throughput.add(self.tokens_per_step)
                if loss is None:
                    log.message(f"step {self.step}: the global batch has no target token (data.loss_on=solution masks "
                                "all of it); update skipped")
                elif self.step % cfg.log.every == 0 or final:
                    last = {"loss": loss.item(), "lr": lr, "tokens": self.step * self.tokens_per_step}
                    if grad_norm is not None:
                        last["grad_norm"] = grad_norm.item()
                    if not math.isfinite(last["loss"]):
                        raise FloatingPointError(f"step {self.step}: loss is {last['loss']}")
                    if throughput.tokens:
                        last.update(throughput.measure())
                    log.log(self.step, last)
                save_now = final or (cfg.checkpoint.every and self.step % cfg.checkpoint.every == 0)
                if save_now or (cfg.eval.every and self.step % cfg.eval.every == 0):
                    val_loss = self.validate()
                    if val_loss is not None:
                        last["val_loss"] = val_loss
                        log.log(self.step, {"val_loss": val_loss, "tokens": self.step * self.tokens_per_step})
                    if save_now:
                        self.save({k: last[k] for k in ("loss", "val_loss") if k in last}, log)
                    throughput.restart()  # validation and saving are not training speed
                if self.stop.agreed(self.rt) and not final:
                    if not save_now:
                        self.save({k: last[k] for k in ("loss", "val_loss") if k in last}, log)
                    log.close()
                    raise UserError(f"step {self.step}: stopped on SIGUSR1 (a time limit or preemption ahead) with "
                                    f"a checkpoint in {self.run_dir}; the same command resumes from it")
        log.close()
        if self.rt.is_main and cfg.log.plot:
            plot_loss_curves({self.run_dir.name: self.run_dir}, self.run_dir / "loss.png")
        best = state.best(self.run_dir)
        return {"run_dir": str(self.run_dir), "step": self.step, **last,
                "best": str(best.path) if best is not None else None}

    def save(self, metrics: dict, log: MetricsLogger) -> None:
        cfg = self.cfg
        saved = state.save(self.run_dir, self.step, self.model, self.optimizer, self.rt,
                                model_config=self.model_config,
                                meta={"tokens": self.step * self.tokens_per_step, "metrics": metrics},
                                keep_last=cfg.checkpoint.keep_last, best_by=cfg.checkpoint.best_by,
                                score=self.score_saved if cfg.checkpoint.best_by == "pass@1" else None)
        if "pass@1" in saved.meta["metrics"]:
            log.log(self.step, {"pass@1": saved.meta["metrics"]["pass@1"]})
        log.message(f"step {self.step}: saved {saved.path}")

    def score_saved(self, model_dir: Path) -> dict:
        return self.score_checkpoint(model_dir, str(self.rt.device))

    def train_step(self) -> tuple[torch.Tensor | None, torch.Tensor | None, float]:
        """(mean loss, gradient norm, lr) of one optimizer step; loss None when it had no target."""
        cfg, rt = self.cfg, self.rt
        reseed(cfg.seed, self.step, rt.rank)
        lr = lr_at(self.step, peak=cfg.optim.lr, warmup_steps=cfg.schedule.warmup_steps,
                   total_steps=cfg.schedule_steps, kind=cfg.schedule.kind, min_lr=cfg.schedule.min_lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        # Data step s-1: the loader counts from 0, the schedule from 1 (step 1 is the first update).
        indices = self.order.batch_indices(self.step - 1, cfg.batch.global_batch, rt.rank, rt.world_size)
        micro = [self.order.get_batch(chunk) for chunk in np.array_split(indices, self.accum)]
        targets = sum(int((labels != IGNORE_INDEX).sum()) for _, labels in micro)
        if rt.distributed:
            # Reading the global count waits for the device once per step; it decides the skip below.
            targets = int(parallel.all_reduce_sum(torch.tensor(targets, device=rt.device), rt).item())
        if targets == 0:
            return None, None, lr  # no target token anywhere: no gradient, and AdamW's momentum must not move the weights
        scale = rt.world_size / targets  # a sum over the global batch, see the top
        total = torch.zeros((), device=rt.device)
        for i, (input_ids, labels) in enumerate(micro):
            with parallel.gradient_sync(self.model, self.strategy, enabled=i == len(micro) - 1):
                with parallel.autocast(self.strategy, self.dtype, rt.device):
                    loss_sum = summed_loss(self.model, parallel.to_device(input_ids, rt.device), parallel.to_device(labels, rt.device),
                                           self.loss_chunk_size)
                (loss_sum * scale).backward()
            total += loss_sum.detach()
        grad_norm = None
        if cfg.optim.grad_clip > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
            if hasattr(grad_norm, "full_tensor"):  # FSDP2: a DTensor
                grad_norm = grad_norm.full_tensor()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return parallel.all_reduce_sum(total, rt) / targets, grad_norm, lr

    @torch.no_grad()
    def validate(self) -> float | None:
        """Mean loss per target token over the val split's first eval.batches x global_batch windows.

        The same windows whatever the world size: rank r reads windows r, r + W, ... of them.
        """
        cfg, rt = self.cfg, self.rt
        if cfg.eval.batches <= 0:
            return None
        batches = list(self.data.val_batches(cfg.data.seq_len, cfg.batch.micro_batch, rt.rank, rt.world_size,
                                             max_batches=cfg.eval.batches * self.accum))
        # Every rank must run as many forward passes as the others (FSDP gathers weights in each):
        # ranks with fewer windows pad with batches that have no targets.
        most = parallel.all_reduce_max(torch.tensor(len(batches), device=rt.device), rt)
        if int(most) == 0:
            return None
        empty = torch.zeros(1, cfg.data.seq_len, dtype=torch.long)
        batches += [(empty, torch.full_like(empty, IGNORE_INDEX))] * (int(most) - len(batches))
        self.model.eval()
        sums = torch.zeros(2, device=rt.device, dtype=torch.float64)
        for input_ids, labels in batches:
            with parallel.autocast(self.strategy, self.dtype, rt.device):
                sums[0] += summed_loss(self.model, parallel.to_device(input_ids, rt.device), parallel.to_device(labels, rt.device),
                                       self.loss_chunk_size).double()
            sums[1] += (labels != IGNORE_INDEX).sum()
        self.model.train()
        sums = parallel.all_reduce_sum(sums, rt)
        return float(sums[0] / sums[1]) if sums[1] > 0 else None


def build_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (biases and LayerNorm gains are not decayed), fused on GPU."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.optim.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.optim.lr, betas=(cfg.optim.beta1, cfg.optim.beta2), eps=cfg.optim.eps,
                             fused=device.type == "cuda")


def load_init(model: Phi, init: Path, model_config: PhiConfig) -> None:
    """Start from the weights of `--init`: a model, step or run directory, or a Hugging Face folder."""
    from textbooks.model.load import load_model, read_model_config

    state.check_architecture(read_model_config(init).to_dict(), model_config, f"--init {init}")
    model.load_state_dict(load_model(init).state_dict())


def _flatten(data: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
