"""What a run of samples is and how each becomes a sandboxed program: shared by the runner
(runner.py) and the flaky-verdict recheck (recheck.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from textbooks.benchmarks.tasks import Benchmark, TaskId
from textbooks.config import output, pacing
from textbooks.errors import UserError


@dataclass(frozen=True)
class EvalSettings:
    n: int = output(1)  # samples per task
    temperature: float = output(0.0)
    top_p: float = output(1.0)
    seed: int | None = output(None)
    max_new_tokens: int | None = output(None)  # None: the benchmark's
    limit: int | None = output(None)  # only the first `limit` tasks
    workers: int | None = pacing(None)  # sandbox workers (None: CPU count)
    timeout_s: float | None = output(None)  # per program (None: the benchmark's)
    isolation: str = output("auto")
    unsafe_no_isolation: bool = output(False)  # see Sandbox: run with less than isolation where none starts
    memory_bytes: int | None = output(None)  # per program (None: the sandbox's default)
    mode: str = output("auto")  # completion, chat, or auto (`backends.resolve_mode`)
    recheck: int = output(0)  # reruns of each failed or nearly timed-out sample (recheck.py)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise UserError(f"--n {self.n}: expected 1 or more samples per task")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit {self.limit}: expected 1 or more tasks")
        if self.recheck < 0:
            raise UserError(f"--recheck {self.recheck}: expected 0 (off) or more reruns")


@dataclass(frozen=True)
class Sample:
    task_id: TaskId
    sample: int
    completion: str  # checked after the prompt: a completion, or the program extracted from a chat answer
    mode: str = "completion"
    answer: str | None = None  # chat mode: the model's answer as it came
    problem: str | None = None  # chat mode: why no program could be extracted from the answer


def open_sandbox(settings: EvalSettings, **limits):
    """The sandbox these settings ask for; `limits` (Limits' fields) win over the settings' memory."""
    from textbooks.sandbox import Limits, Sandbox

    if settings.memory_bytes is not None:
        limits.setdefault("memory_bytes", settings.memory_bytes)
    return Sandbox(workers=settings.workers, limits=Limits(**limits), isolation=settings.isolation,
                   unsafe_no_isolation=settings.unsafe_no_isolation)


def programs(benchmark: Benchmark, samples: list[Sample], settings: EvalSettings) -> Iterator[tuple]:
    """(key, program, timeout) for each sample, key = (task_id, sample)."""
    for s in samples:
        task = benchmark.tasks[s.task_id]
        yield (s.task_id, s.sample), benchmark.program(task, s.completion), settings.timeout_s or benchmark.timeout_s(task)
