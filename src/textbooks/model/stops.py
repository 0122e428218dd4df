"""Cutting a completion at its stop sequences: apart from `generate` so that code that only cuts
text (the endpoint backend, scoring a samples file) does not import torch."""

from collections.abc import Sequence


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to (not including) the first of the stop sequences."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text
