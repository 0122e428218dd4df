"""The oldest torch that training runs on, and the features that decide it.

A GPU container often brings an older torch than the CPU wheel this project is tested with; without
this check an old one stops multi-GPU training at an import, or every run at its first checkpoint
(step 1000 of the phi-1 presets: hours lost). tests/test_torch_version.py checks the table against
pyproject.toml, against the code that uses each feature, and against the installed torch.
"""

from __future__ import annotations

import re

import torch

from textbooks.errors import UserError

# feature -> (the torch release that brought it, the file that uses it, the text that uses it there)
FEATURES: dict[str, tuple[tuple[int, int], str, str]] = {
    "FSDP2's public fully_shard": ((2, 6), "train/parallel.py", "from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard"),
    "dcp.save and dcp.load with no_dist=": ((2, 7), "train/state.py", "no_dist=not runtime.distributed"),
}
TORCH_MINIMUM = max(version for version, _, _ in FEATURES.values())


def parse_version(version: str) -> tuple[int, int]:
    """(major, minor) of "2.7.1+cu126", "2.8.0a0+git1234"."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        raise UserError(f"torch version {version!r}: expected MAJOR.MINOR...")
    return int(match.group(1)), int(match.group(2))


def require_torch(version: str | None = None) -> None:
    """One line, before anything starts, when the installed torch is older than training needs."""
    version = version or torch.__version__
    if parse_version(version) < TORCH_MINIMUM:
        needs = ", ".join(name for name, (v, _, _) in FEATURES.items() if v > parse_version(version))
        minimum = ".".join(map(str, TORCH_MINIMUM))
        raise UserError(f"torch {version}: training needs torch>={minimum} ({needs}); expected "
                        f"`pip install 'torch>={minimum}'` in this environment")
