"""Where and how the model runs: process group, device, FSDP2 or DDP, compile, activation checkpointing.

Kept apart from the model (torchtitan's `parallelize.py`): the model is a plain `nn.Module`, this
module wraps it. Launch with `torchrun`; one process without it.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Runtime:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_runtime(timeout_s: float | None = None) -> Runtime:
    """Join the process group torchrun describes (NCCL on GPU, gloo on CPU), or run alone.

    `timeout_s` bounds every collective, barriers included (torch's default: 10 minutes for NCCL).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                                device_id=device if device.type == "cuda" else None,
                                timeout=datetime.timedelta(seconds=timeout_s) if timeout_s else None)
    return Runtime(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


class StopRequest:
    """SIGUSR1 asks training to checkpoint and stop: Slurm sends it before a time limit or a
    preemption (`sbatch --signal=USR1@120`, torchrun `--signals-to-handle` passing it on). Every
    rank stops at the same step: the ranks agree on it after each step."""

    def __init__(self) -> None:
        self.asked = False

    @contextlib.contextmanager
    def listening(self) -> Iterator[StopRequest]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield self
            return
        previous = signal.signal(signal.SIGUSR1, self._ask)
        try:
            yield self
        finally:
            signal.signal(signal.SIGUSR1, previous)

    def _ask(self, signum, frame) -> None:
        self.asked = True

    def agreed(self, runtime: Runtime) -> bool:
        if not runtime.distributed:
            return self.asked
        flag = torch.tensor([int(self.asked)], device=runtime.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


def lost_peer(runtime: Runtime, error: BaseException) -> bool:
    """Whether `error` is a collective failing because another rank is gone: gloo raises a
    RuntimeError from its transport (connection reset or closed), NCCL and the store a DistError."""
    return runtime.distributed and (isinstance(error, dist.DistError) or "gloo/transport" in str(error))


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU batch onto the device; to a GPU from pinned memory, asynchronously (the copy overlaps
    the previous micro-batch's kernels instead of stalling the host)."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def shutdown(runtime: Runtime) -> None:
    """Destroy the process group; the caller has dropped its model (DDP's reducer) first.

    A reducer freed after the group is its last owner, and its deallocation holds the GIL while
    gloo's destructor waits for the group's worker threads; a worker finishing a collective that
    backward launched needs the GIL too (torch keeps a Python object in that work's thread state),
    so the process hung at exit after losing a rank. Freed here, the group's Python handle
    releases the GIL while its threads stop. `gc.collect` frees modules kept by reference cycles.
    """
    if runtime.distributed and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def resolve_strategy(parallel: str, runtime: Runtime) -> str:
    """FSDP2 by default under torchrun; one process has nothing to shard or all-reduce."""
    if not runtime.distributed:
        return "none"
    return "fsdp" if parallel == "auto" else parallel


def compute_dtype(precision: str, device: torch.device) -> torch.dtype:
    """bf16 on GPU (the paper used fp16 with DeepSpeed; bf16 has fp32's range, so no loss scaling),
    fp32 on CPU, where bf16 matmuls are slower than fp32 ones on most machines."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return torch.bfloat16 if precision == "bf16" else torch.float32


def parallelize(model: nn.Module, strategy: str, dtype: torch.dtype, *, compile: bool,
                activation_checkpointing: bool) -> nn.Module:
    """Wrap each block (checkpointing, then compile, then FSDP2 shard), then the whole model.

    Parameters stay fp32 (the optimizer's master copy); with FSDP2 they are cast to `dtype` for
    compute by `MixedPrecisionPolicy` and gradients are reduced in fp32.
    """
    layers = model.model.layers
    for i, block in enumerate(layers):
        if activation_checkpointing:
            from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

            block = checkpoint_wrapper(block, preserve_rng_state=True)
        if compile:
            block.compile()  # in place: parameter names stay those of the plain model
        layers[i] = block

    if strategy == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        # The logits come out of the LM head as a view; the loss reads them without writing in
        # place, so FSDP2's warning about in-place ops on views does not apply.
        warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")
        policy = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32)
        for block in layers:
            fully_shard(block, mp_policy=policy)
        fully_shard(model, mp_policy=policy)
        return model
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [model.lm_head.weight.device] if model.lm_head.weight.is_cuda else None
        return DistributedDataParallel(model, device_ids=device_ids)
    return model


def autocast(strategy: str, dtype: torch.dtype, device: torch.device):
    """Mixed precision where FSDP2's policy does not already provide it (one process, or DDP)."""
    if strategy == "fsdp" or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@contextlib.contextmanager
def gradient_sync(model: nn.Module, strategy: str, enabled: bool):
    """Skip the gradient all-reduce / reduce-scatter on all but the last micro-batch of a step."""
    if strategy == "ddp" and not enabled:
        with model.no_sync():
            yield
        return
    if strategy == "fsdp":
        model.set_requires_gradient_sync(enabled)
    yield


def all_reduce_sum(tensor: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    if runtime.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_max(tensor: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    if runtime.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor


def barrier(runtime: Runtime) -> None:
    if runtime.distributed:
        dist.barrier()
