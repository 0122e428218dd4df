"""What a run reports: metrics.jsonl, TensorBoard events, a progress bar, a loss plot, and MFU.

Only rank 0 writes; the other ranks get a logger that does nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from textbooks.io import JsonlAppender

# Dense bf16 tensor-core peak, TFLOP/s, from the vendors' datasheets (sparsity excluded). Matched
# in order against torch.cuda.get_device_name(), so the more specific names come first.
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("GH200", 989.0),
    ("H200 NVL", 835.0),  # the PCIe part; "NVIDIA H200 NVL" would otherwise match the SXM's "H200"
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM ("NVIDIA H100 80GB HBM3")
    ("H800", 989.0),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("A800", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("L4", 121.0),
    ("MI300X", 1307.0),
    ("MI250X", 383.0),
)


def device_peak_flops(device: torch.device) -> float | None:
    """bf16 dense peak FLOP/s of this GPU, or None (CPU, or a GPU missing from the table)."""
    if device.type != "cuda":
        return None
    tflops = peak_tflops(torch.cuda.get_device_name(device))
    return tflops * 1e12 if tflops is not None else None


def peak_tflops(name: str) -> float | None:
    """bf16 dense peak TFLOP/s of a GPU by (a part of) its name, "A100" or "NVIDIA H100 80GB HBM3"."""
    for key, tflops in BF16_PEAK_TFLOPS:
        if key.lower() in name.lower():
            return tflops
    return None


class Throughput:
    """Tokens/s and MFU of the steps counted since the last measure or restart, MFU = achieved FLOP/s
    over the device's bf16 peak. A restart (after validation or a save, which are not training
    speed) forgets the steps before it too: counting them over the shorter time would inflate both."""

    def __init__(self, flops_per_token: int, peak_flops: float | None, world_size: int,
                 clock=time.perf_counter):
        self.flops_per_token = flops_per_token
        self.peak_flops = peak_flops
        self.world_size = world_size
        self.clock = clock
        self.restart()

    def restart(self) -> None:
        self.start = self.clock()
        self.tokens = 0

    def add(self, tokens: int) -> None:
        """A training step's tokens (all ranks), done since the last measure or restart."""
        self.tokens += tokens

    def measure(self) -> dict[str, float]:
        tokens_per_s = self.tokens / max(self.clock() - self.start, 1e-9)
        self.restart()
        out = {"tokens_per_s": tokens_per_s}
        if self.peak_flops:
            out["mfu"] = tokens_per_s / self.world_size * self.flops_per_token / self.peak_flops
        return out


class MetricsLogger:
    """One JSON object per line in RUN_DIR/metrics.jsonl, the same scalars in RUN_DIR/tb/.

    On resume from step s, lines past s (written after that checkpoint by the killed run) are
    dropped and TensorBoard purges its events past s, so the curves have no doubled stretch.
    """

    def __init__(self, run_dir: Path, *, enabled: bool, start_step: int, max_steps: int,
                 tensorboard: bool, progress_bar: bool):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        self.writer = None
        self.bar = None
        if not enabled:
            return
        keep_records_up_to(self.path, start_step)
        self.file = JsonlAppender(self.path)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=start_step + 1)
        if progress_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=max_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def log(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": step, **values}
        self.file.write(record)
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step)
        if self.bar is not None and "loss" in values:
            self.bar.set_postfix(loss=f"{values['loss']:.4f}", refresh=False)

    def advance(self, steps: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(steps)

    def message(self, text: str) -> None:
        if self.enabled:
            (self.bar.write if self.bar is not None else print)(text)

    def close(self) -> None:
        if not self.enabled:
            return
        self.file.close()
        if self.writer is not None:
            self.writer.close()
        if self.bar is not None:
            self.bar.close()


def keep_records_up_to(path: Path, step: int) -> None:
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.strip() and _complete(line) and json.loads(line)["step"] <= step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    tmp.replace(path)


def _complete(line: str) -> bool:
    """A SIGKILL can cut the last line short."""
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_loss_curves(runs: dict[str, str | Path], out_png: str | Path) -> Path:
    """Training (and validation) loss against tokens seen, one colour per run directory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, run_dir in runs.items():
        records = read_metrics(Path(run_dir) / "metrics.jsonl")
        train = [r for r in records if "loss" in r]
        val = [r for r in records if "val_loss" in r]
        line, = ax.plot([r["tokens"] for r in train], [r["loss"] for r in train], label=f"{label} train", lw=1)
        if val:
            ax.plot([r["tokens"] for r in val], [r["val_loss"] for r in val], "o--", color=line.get_color(),
                    label=f"{label} val", ms=3)
    ax.set_xlabel("tokens")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png
