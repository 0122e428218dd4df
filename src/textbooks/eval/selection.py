"""Training's checkpoint selection by a benchmark score: the evaluation function `textbooks train`
hands the trainer (training does not import evaluation; see DESIGN.md's layers)."""

from __future__ import annotations

from pathlib import Path

from textbooks.sandbox import check_isolation


def pass_at_1_scorer(benchmark: str, limit: int | None = None, unsafe_no_isolation: bool = False):
    """A function from (a saved model's directory, device) to its greedy pass@1 on `benchmark` (its
    first `limit` tasks).

    The sandbox is checked now, so a machine that cannot isolate refuses before training starts,
    not at the first checkpoint. Samples are kept beside the model (`eval-BENCHMARK/`).
    """
    check_isolation(unsafe_no_isolation)

    def score(model_dir: Path, device: str) -> dict:
        from textbooks.benchmarks import load_benchmark
        from textbooks.eval.backends import open_backend
        from textbooks.eval.runner import EvalSettings, evaluate

        # bf16 on GPU: generation is most of the time the other ranks wait at their barrier.
        backend = open_backend(str(model_dir), "checkpoint", device=device,
                               dtype="bfloat16" if device.startswith("cuda") else "float32")
        summary = evaluate(load_benchmark(benchmark), model_dir.parent / f"eval-{benchmark}", backend=backend,
                           progress=False, settings=EvalSettings(limit=limit, unsafe_no_isolation=unsafe_no_isolation))
        return {"pass@1": summary["scores"]["pass@1"]["estimate"]}

    return score
