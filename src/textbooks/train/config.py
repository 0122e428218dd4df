"""`TrainConfig`: every knob of a training run, loaded from a preset YAML plus dotted overrides.

    cfg = command_config(TrainConfig, preset_path("phi-1-small-pretrain"), ["optim.lr=3e-4", "max_steps=100"])

The presets in `textbooks/configs/` show the paper's numbers with their arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from textbooks.config import output, pacing
from textbooks.errors import UserError

if TYPE_CHECKING:
    from textbooks.model.phi import PhiConfig


@dataclass
class ModelSection:
    preset: str = output("nano")  # a `PhiConfig` preset: phi-1, phi-1-small, tiny, nano
    # The paper trains with attention and residual dropout 0.1 (section 2); embedding dropout 0.
    embd_pdrop: float = output(0.0)
    attn_pdrop: float = output(0.0)
    resid_pdrop: float = output(0.0)


@dataclass
class DataSection:
    seq_len: int = output(128)  # tokens per sequence; must match the packed shards
    train_split: str = output("train")
    val_split: str = output("val")
    # "all": every token is a target (pretraining); "solution": only the completion of each
    # exercise counts (finetuning on CodeExercises), the prompt's tokens are masked out. A global
    # batch left without any target token (prompts longer than the window) skips its update.
    loss_on: Literal["all", "solution"] = output("all")


@dataclass
class BatchSection:
    global_batch: int = output(8)  # sequences per optimizer step, over all ranks and micro-batches
    micro_batch: int = output(8)  # sequences per forward pass on one rank; accumulation fills the rest


@dataclass
class OptimSection:
    lr: float = output(1e-3)  # peak learning rate
    # Not in the paper; the usual choice for transformer LMs (GPT-3, nanoGPT, torchtitan).
    beta1: float = output(0.9)
    beta2: float = output(0.95)
    eps: float = output(1e-8)
    weight_decay: float = output(0.1)  # applied to matrices only (not biases, LayerNorms)
    grad_clip: float = output(1.0)  # max global gradient norm; 0 turns clipping off


@dataclass
class ScheduleSection:
    kind: Literal["linear", "cosine", "constant"] = output("linear")
    warmup_steps: int = output(0)
    # The schedule's length, which may exceed max_steps: phi-1-base is the 24K-step checkpoint of
    # a 36K-step schedule. null means max_steps.
    decay_steps: int | None = output(None)
    min_lr: float = output(0.0)  # where the decay ends


@dataclass
class EvalSection:
    every: int = output(0)  # validation loss every N steps (and at the end); 0: never
    batches: int = output(4)  # validation batches of batch.global_batch sequences; 0: no validation


@dataclass
class CheckpointSection:
    every: int = output(0)  # save every N steps (and at the end); 0: only at the end
    keep_last: int = output(2)  # the newest k checkpoints are kept, and the best one
    # What "best" means: the validation loss (held-out exercises when finetuning), or HumanEval
    # pass@1 through the eval runner -- selecting on the test benchmark inflates the score.
    best_by: Literal["val_loss", "pass@1"] = output("val_loss")
    # For best_by=pass@1: greedy pass@1 on this benchmark, scored on rank 0 while the other ranks
    # wait at a barrier (keep it within process_group_timeout_s, an hour by default).
    benchmark: str = output("humaneval")
    benchmark_limit: int | None = output(None)  # only its first N tasks (faster, noisier)
    # Where no isolating sandbox starts, score model-written programs with less (see eval's
    # --unsafe-no-isolation; recorded in the eval summary's `isolation`). Off: training refuses.
    unsafe_no_isolation: bool = output(False)


@dataclass
class LogSection:
    every: int = pacing(1)  # a metrics line every N steps (reading the loss syncs with the GPU)
    tensorboard: bool = pacing(True)
    progress_bar: bool = pacing(True)
    plot: bool = pacing(True)  # loss.png in the run directory at the end


@dataclass
class TrainConfig:
    model: ModelSection = output(default_factory=ModelSection)
    data: DataSection = output(default_factory=DataSection)
    batch: BatchSection = output(default_factory=BatchSection)
    optim: OptimSection = output(default_factory=OptimSection)
    schedule: ScheduleSection = output(default_factory=ScheduleSection)
    eval: EvalSection = output(default_factory=EvalSection)
    checkpoint: CheckpointSection = output(default_factory=CheckpointSection)
    log: LogSection = pacing(default_factory=LogSection)
    max_steps: int = output(100)  # optimizer steps of this run
    seed: int = output(1234)
    # "auto": bf16 on GPU (the paper used fp16 with DeepSpeed; bf16 needs no loss scaling), fp32 on CPU.
    # "bf16" on CPU: autocast to bf16 (fast on CPUs with avx512_bf16 or AMX; a deviation from fp32).
    precision: Literal["auto", "bf16", "fp32"] = output("auto")
    # Under torchrun: "auto" and "fsdp" shard with FSDP2, "ddp" replicates; one process runs the plain module.
    parallel: Literal["auto", "fsdp", "ddp"] = output("auto")
    # torch.compile each block (on CPU it needs a C++ compiler: a UserError at startup without one).
    # The first step, which compiles, is logged apart as first_step_s.
    compile: bool = output(False)
    # The LM head and the loss together over this many tokens at a time (textbooks.model.loss): the
    # (tokens x vocab) logits never exist in full. Any positive size (the last chunk is shorter);
    # 0: the unfused head and loss.
    loss_chunk_size: int = output(1024)
    activation_checkpointing: bool = output(False)  # recompute each block's activations in the backward
    deterministic: bool = output(True)  # torch.use_deterministic_algorithms on CPU (free there)
    # Under torchrun: how long a rank waits in a collective before the job aborts. A long wait is
    # normal when checkpoint.best_by=pass@1 has rank 0 generate and run the sandbox on the whole
    # benchmark while the others wait at a barrier (NCCL's own default is 10 minutes).
    process_group_timeout_s: int = pacing(3600)

    def __post_init__(self) -> None:
        positive = {
            "max_steps": self.max_steps, "data.seq_len": self.data.seq_len,
            "batch.global_batch": self.batch.global_batch, "batch.micro_batch": self.batch.micro_batch,
            "log.every": self.log.every, "checkpoint.keep_last": self.checkpoint.keep_last,
            "process_group_timeout_s": self.process_group_timeout_s,
        }
        for key, value in positive.items():
            if value <= 0:
                raise UserError(f"{key}: got {value}; expected a positive integer")
        if self.loss_chunk_size < 0:
            raise UserError(f"loss_chunk_size: got {self.loss_chunk_size}; expected a positive number of tokens, "
                            "or 0 for the unfused loss")
        if self.optim.lr <= 0:
            raise UserError(f"optim.lr: got {self.optim.lr}; expected a positive learning rate")
        if self.schedule.decay_steps is not None and self.schedule.decay_steps <= self.schedule.warmup_steps:
            raise UserError(f"schedule.decay_steps: got {self.schedule.decay_steps}; expected more than "
                            f"schedule.warmup_steps ({self.schedule.warmup_steps})")

    @property
    def schedule_steps(self) -> int:
        return self.schedule.decay_steps or self.max_steps

    def grad_accum_steps(self, world_size: int) -> int:
        """Micro-batches per rank per optimizer step: global_batch / (micro_batch * world_size)."""
        per_step = self.batch.micro_batch * world_size
        if self.batch.global_batch % per_step:
            raise UserError(f"batch.global_batch: {self.batch.global_batch} is not a multiple of batch.micro_batch "
                            f"({self.batch.micro_batch}) x {world_size} ranks; expected a multiple of {per_step}")
        return self.batch.global_batch // per_step


def model_config_of(cfg: TrainConfig) -> PhiConfig:
    # Here, not in trainer.py: the pipeline's bill needs it, and the trainer's imports
    # (torch.distributed.checkpoint) take about a second.
    from textbooks.model.phi import PhiConfig

    section = cfg.model
    config = PhiConfig.from_preset(section.preset, embd_pdrop=section.embd_pdrop, attn_pdrop=section.attn_pdrop,
                                   resid_pdrop=section.resid_pdrop)
    if cfg.data.seq_len > config.max_seq_len:
        raise UserError(f"data.seq_len: {cfg.data.seq_len} exceeds model {section.preset!r}'s max_seq_len "
                        f"{config.max_seq_len}; expected at most {config.max_seq_len}")
    return config


def preset_path(name_or_path: str | Path) -> Path:
    """A YAML path as given, or the packaged preset of that name (`tiny-pretrain`, `phi-1-finetune`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    packaged = resources.files("textbooks") / "configs" / f"{path.name.removesuffix('.yaml')}.yaml"
    if packaged.is_file():
        return Path(str(packaged))
    names = sorted(p.name.removesuffix(".yaml") for p in (resources.files("textbooks") / "configs").iterdir()
                   if p.name.endswith(".yaml"))
    raise UserError(f"{name_or_path}: no such config file or preset; expected a YAML path or one of {', '.join(names)}")
