"""The bill of a pipeline before it runs: what each stage still to run would cost.

    bill = make_bill(plan, ["textbooks", "pretrain"], mfu=0.5)
    print(format_bill(bill))           # `textbooks run PIPELINE --dry-run [--assume-mfu 0.42]`
    write_bill(bill, run_dir)          # RUN_DIR/bill.json at the start of a real run; the report shows it

Per teacher stage: requests, prompt and completion tokens (from the templates and the configured
sizes; completions at their `max_tokens`, so an upper bound) and dollars where `teacher.prices`
names the model. Per train stage: the tokens processed, model FLOPs per token (model/phi.py's
6N + 12 * layers * d_model * seq, checked against PyTorch's FLOP counter in the tests), and
GPU-hours and wall time on the launcher's GPUs at the stated MFU. Per output: the disk it takes.

Model FLOPs leave out activation checkpointing's recomputed forward, as MFU does (PaLM appendix
B); an `--assume-mfu` measured the same way (scripts/gpu_check.py) gives the right hours.
Nothing is sent and nothing starts. A kind without a rule here has no row.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textbooks.io import atomic_write_json, read_json
from textbooks.pipeline.kinds.base import StageContext
from textbooks.pipeline.plan import Plan, PlannedStage

DEFAULT_MFU = 0.5
BILL_FILE = "bill.json"
TEXT_BYTES_PER_TOKEN = 4  # ~4 characters a token (code and English), stored before Parquet's compression
PACK_BYTES_PER_TOKEN = 3  # a uint16 id and a uint8 loss-mask byte (train/shards.py)
# A checkpoint holds the fp32 weights twice (DCP state, consolidated model) and AdamW's two moments.
CHECKPOINT_BYTES_PER_PARAM = 16
# curate keeps the text in raw/, clean/, dedup/, embedded/, scored/ and filtered/ (the last three
# shrinking); six copies of the sources is the bound.
CURATE_COPIES = 6


@dataclass
class TeacherBill:
    requests: int
    cached: int
    prompt_tokens: int
    completion_tokens: int  # at most: the sum of max_tokens
    usd: float | None  # None: no price set for the model


@dataclass
class TrainBill:
    tokens: int  # trained on (steps x global batch x sequence)
    eval_tokens: int  # validation forward passes (a third of a training token's FLOPs each)
    flops_per_token: int
    flops: float
    gpus: int
    gpu: str
    peak_tflops: float | None  # bf16 dense; None: a GPU missing from train/metrics.py's table
    mfu: float
    gpu_hours: float | None
    wall_hours: float | None


@dataclass
class StageBill:
    name: str
    kind: str
    teacher: TeacherBill | None = None
    train: TrainBill | None = None
    disk_bytes: int | None = None
    tokens: int | None = None  # what its output holds, where known (the next stage's input)
    note: str = ""


@dataclass
class Bill:
    mfu: float
    gpu: str
    gpus: int
    stages: list[StageBill] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        teachers = [s.teacher for s in self.stages if s.teacher is not None]
        trains = [s.train for s in self.stages if s.train is not None]
        prices = [t.usd for t in teachers if t.usd is not None]
        return {
            "teacher_requests": sum(t.requests - t.cached for t in teachers),
            "prompt_tokens": sum(t.prompt_tokens for t in teachers),
            "completion_tokens": sum(t.completion_tokens for t in teachers),
            "usd": sum(prices) if prices else None,
            "gpu_hours": sum(t.gpu_hours for t in trains if t.gpu_hours is not None),
            "wall_hours": sum(t.wall_hours for t in trains if t.wall_hours is not None),
            "disk_bytes": sum(s.disk_bytes for s in self.stages if s.disk_bytes is not None),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "totals": self.totals()}


def make_bill(plan: Plan, names: Sequence[str], mfu: float = DEFAULT_MFU) -> Bill:
    """The bill of the named stages (those that would run), in plan order."""
    from textbooks.errors import UserError

    if not 0.0 < mfu <= 1.0:
        raise UserError(f"--assume-mfu: {mfu}; expected a fraction of the peak, above 0 and at most 1")
    launcher = plan.spec.launcher
    bill = Bill(mfu=mfu, gpu=launcher.gpu, gpus=gpus_of(launcher))
    known: dict[str, StageBill] = {}
    for name in names:
        planned = plan.stages[name]
        rule = RULES.get(planned.stage.kind)
        row = StageBill(name, planned.stage.kind)
        estimate = planned.stage.estimate(_context(plan, planned))
        if estimate is not None:
            teacher = planned.stage.teacher(planned.config)
            row.teacher = TeacherBill(estimate.requests, estimate.cached, estimate.prompt_tokens,
                                      estimate.max_completion_tokens, _usd(teacher, estimate))
        if rule is not None:
            rule(row, planned, plan, bill, known)
        known[name] = row
        bill.stages.append(row)
    return bill


def _context(plan: Plan, planned: PlannedStage) -> StageContext:
    return StageContext(planned.name, planned.out, planned.config, planned.inputs, plan.run_dir, plan.spec.launcher)


def gpus_of(launcher) -> int:
    """GPUs a train stage runs on: processes per node x nodes (torchrun's --nnodes, else srun's --nodes)."""
    def flag(args: Sequence[str], *names: str) -> int | None:
        for i, arg in enumerate(args):
            for name in names:
                if arg == name and i + 1 < len(args):
                    return int(args[i + 1])
                if arg.startswith(name + "="):
                    return int(arg.split("=", 1)[1])
        return None

    nodes = flag(launcher.torchrun_args, "--nnodes") or flag(shlex.split(launcher.prefix), "--nodes", "-N") or 1
    return launcher.nproc_per_node * nodes


# --- one rule per stage kind: (row, planned stage, plan, bill, rows so far) -> fills the row -------

def _synth(row: StageBill, planned: PlannedStage, plan: Plan, bill: Bill, known: dict) -> None:
    row.tokens = planned.config.tokens or row.teacher.completion_tokens
    row.disk_bytes = row.tokens * TEXT_BYTES_PER_TOKEN


def _curate(row: StageBill, planned: PlannedStage, plan: Plan, bill: Bill, known: dict) -> None:
    from textbooks.data.sources import HF_PREFIX

    job = planned.config
    hub = [s for s in job.sources if s.startswith(HF_PREFIX)]
    local = _bytes_of([s for s in job.sources if not s.startswith(HF_PREFIX)], job.pattern)
    if hub:
        row.note = f"disk: {', '.join(hub)} streamed, its size unknown before the run; local sources {_size(local)}"
    else:
        row.disk_bytes = local * CURATE_COPIES
        row.tokens = local // TEXT_BYTES_PER_TOKEN  # before the filter: an upper bound


def _import(row: StageBill, planned: PlannedStage, plan: Plan, bill: Bill, known: dict) -> None:
    size = _bytes_of([str(root) for root in planned.config.roots], planned.config.pattern)
    row.disk_bytes, row.tokens = size, size // TEXT_BYTES_PER_TOKEN


def _tokenize(row: StageBill, planned: PlannedStage, plan: Plan, bill: Bill, known: dict) -> None:
    tokens = 0
    for item in planned.inputs["datasets"]:
        upstream = known.get(item.stage) if item.stage else None
        if upstream is None or upstream.tokens is None:
            row.note = f"disk: {item.ref}'s tokens unknown before it runs"
            return
        tokens += int(upstream.tokens * (item.weight if item.weight is not None else 1))
    row.tokens, row.disk_bytes = tokens, tokens * PACK_BYTES_PER_TOKEN


def _decontam(row: StageBill, planned: PlannedStage, plan: Plan, bill: Bill, known: dict) -> None:
    """At most its input: the dataset less the look-alikes it removes."""
    upstream = known.get(planned.inputs["dataset"][0].stage or "")
    if upstream is not None:
        row.tokens, row.disk_bytes = upstream.tokens, upstream.disk_bytes


def train_bill(cfg, gpus: int, gpu: str, mfu: float) -> tuple[TrainBill, int]:
    """(the compute of one training config, its checkpoints' bytes on disk)."""
    from textbooks.model.phi import count_parameters, flops_per_token
    from textbooks.train.config import model_config_of
    from textbooks.train.metrics import peak_tflops

    model = model_config_of(cfg)
    per_token = flops_per_token(model, cfg.data.seq_len)
    step_tokens = cfg.batch.global_batch * cfg.data.seq_len
    tokens = cfg.max_steps * step_tokens
    def steps_every(n: int) -> set[int]:  # and at the end, as the trainer does
        return (set(range(n, cfg.max_steps + 1, n)) if n else set()) | {cfg.max_steps}

    saves = steps_every(cfg.checkpoint.every)
    eval_tokens = len(saves | steps_every(cfg.eval.every)) * cfg.eval.batches * step_tokens
    flops = float(tokens * per_token + eval_tokens * per_token / 3)  # forward only: a third
    peak = peak_tflops(gpu)
    gpu_hours = flops / (peak * 1e12 * mfu) / 3600 if peak else None
    kept = min(cfg.checkpoint.keep_last + 1, len(saves))  # the newest ones and the best one
    disk = kept * count_parameters(model) * CHECKPOINT_BYTES_PER_PARAM
    return TrainBill(tokens, eval_tokens, per_token, flops, gpus, gpu, peak, mfu, gpu_hours,
                     gpu_hours / gpus if gpu_hours is not None else None), disk


def _train(row: StageBill, planned: PlannedStage, plan: Plan, bill: Bill, known: dict) -> None:
    row.train, row.disk_bytes = train_bill(planned.config, bill.gpus, bill.gpu, bill.mfu)
    if row.train.peak_tflops is None:
        row.note = f"launcher.gpu {bill.gpu!r}: no bf16 peak known (train/metrics.py); no GPU-hours"


def _export(row: StageBill, planned: PlannedStage, plan: Plan, bill: Bill, known: dict) -> None:
    from textbooks.model.phi import count_parameters
    from textbooks.train.config import model_config_of

    upstream = plan.stages.get(planned.inputs["model"][0].stage or "")
    if upstream is not None and upstream.stage.kind == "train":  # else a model given by path
        width = 2 if planned.config.dtype in ("bfloat16", "float16") else 4
        row.disk_bytes = count_parameters(model_config_of(upstream.config)) * width


RULES: dict[str, Callable[..., None]] = {
    "synth-textbooks": _synth, "synth-exercises": _synth, "curate": _curate, "import": _import,
    "tokenize": _tokenize, "decontam": _decontam, "train": _train, "export-hf": _export,
}


def _usd(teacher, estimate) -> float | None:
    from textbooks.teacher.limits import cost_usd

    price = teacher.prices.get(teacher.model) if teacher is not None else None
    if not price:
        return None
    return cost_usd({teacher.model: tuple(price)}, teacher.model, estimate.prompt_tokens, estimate.max_completion_tokens)


def _bytes_of(sources: Sequence[str], pattern: str) -> int:
    total = 0
    for source in sources:
        path = Path(source)
        files = path.rglob(pattern) if path.is_dir() else [path]
        total += sum(f.stat().st_size for f in files if f.is_file())
    return total


# --- text ----------------------------------------------------------------------------------------

def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


def _count(n: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n:.0f}"


def _hours(h: float | None) -> str:
    if h is None:
        return "?"
    if h < 1 / 60:
        return f"{h * 3600:.1f} s"
    return f"{h * 60:.1f} min" if h < 1 else f"{h:,.1f} h"


def _gpu_hours(h: float | None) -> str:
    return "?" if h is None else f"{h:,.0f}" if h >= 100 else f"{h:.3g}"


def bill_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """A bill (as `Bill.to_dict()` or RUN_DIR/bill.json) as a table: the dry run prints it, the report shows it."""
    headers = ["stage", "teacher requests", "prompt tok", "completion tok (max)", "USD", "train tokens",
               "GFLOP/token", "GPU-hours", "wall", "disk"]
    rows = []
    for s in data["stages"]:
        t, tr = s.get("teacher"), s.get("train")
        rows.append([
            f"{s['name']} ({s['kind']})",
            f"{t['requests'] - t['cached']:,}" if t else "", _count(t["prompt_tokens"]) if t else "",
            _count(t["completion_tokens"]) if t else "",
            ("?" if t["usd"] is None else f"${t['usd']:,.2f}") if t else "",
            _count(tr["tokens"]) if tr else "", f"{tr['flops_per_token'] / 1e9:.3f}" if tr else "",
            _gpu_hours(tr["gpu_hours"]) if tr else "",
            _hours(tr["wall_hours"]) if tr else "",
            _size(s["disk_bytes"]) if s["disk_bytes"] is not None else ("?" if s.get("note") else ""),
        ])
    total = data["totals"]
    rows.append(["total", f"{total['teacher_requests']:,}", _count(total["prompt_tokens"]),
                 _count(total["completion_tokens"]), "?" if total["usd"] is None else f"${total['usd']:,.2f}",
                 "", "", _gpu_hours(total["gpu_hours"]), _hours(total["wall_hours"]), _size(total["disk_bytes"])])
    return headers, rows


def bill_notes(data: dict[str, Any]) -> list[str]:
    notes = [f"GPU-hours at MFU {data['mfu']:.2f} of {data['gpu']}'s bf16 peak; wall time on {data['gpus']} GPU(s) "
             "(--assume-mfu, launcher.gpu, launcher.nproc_per_node); completions counted at their max_tokens"]
    if data["totals"]["usd"] is None:
        notes.append("USD: set teacher.prices {model: [usd_per_1M_in, usd_per_1M_out]} to price the teacher")
    return notes + [f"{s['name']}: {s['note']}" for s in data["stages"] if s.get("note")]


def format_bill(bill: Bill | dict[str, Any]) -> str:
    data = bill.to_dict() if isinstance(bill, Bill) else bill
    headers, rows = bill_rows(data)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["bill (estimates; nothing is sent or started):"]
    for r in [headers, *rows]:
        lines.append("  " + "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines + [f"  {note}" for note in bill_notes(data)])


def write_bill(bill: Bill, run_dir: Path) -> Path:
    path = Path(run_dir) / BILL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, bill.to_dict())
    return path


def read_bill(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / BILL_FILE
    return read_json(path) if path.is_file() else None
