"""What `textbooks run` shows on the console: one line as a stage starts and one as it ends (with
the run's progress: elapsed and an estimate of what is left), a status line on a terminal while a
stage runs, and the run's warnings last. What the stage and the engines under it print (datatrove's
loguru lines, tqdm bars, the training process, the teacher server) goes to RUN_DIR/logs/NAME.log;
`verbose` lets it all through to the console as well.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from textbooks.io import read_json
from textbooks.pipeline.plan import Plan, PlannedStage
from textbooks.pipeline.render import duration
from textbooks.pipeline.summary import SUMMARY_JSON


def stage_log(run_dir: Path, name: str) -> Path:
    """RUN_DIR/logs/NAME.log, appended to by every run of the stage (a resumed run follows the killed one)."""
    path = run_dir / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def stage_output(log: Path, verbose: bool, status: str = "") -> Iterator[None]:
    """Send what the stage prints to `log`: at the file-descriptor level, so the engines' own loggers
    (datatrove's loguru, tqdm bars), C libraries and subprocesses (training, the teacher server) follow.
    On a terminal, one status line (`status` and the seconds so far) stands in for their progress bars.
    Verbose: the console keeps it all and the log file is left alone."""
    if verbose:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "ab") as sink:
        sink.write(time.strftime("--- %Y-%m-%dT%H:%M:%SZ ---\n", time.gmtime()).encode())
        sink.flush()
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        ticker = _Ticker(saved[0], status) if status and os.isatty(saved[0]) else None
        try:
            yield
        finally:
            if ticker is not None:
                ticker.stop()
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class _Ticker:
    """A status line on the terminal, rewritten in place every second until the stage ends."""

    def __init__(self, fd: int, status: str):
        self.fd, self.status, self.started = fd, status, time.monotonic()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(1.0):
            os.write(self.fd, f"\r\033[K{self.status} {duration(time.monotonic() - self.started)}".encode())

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
        os.write(self.fd, b"\r\033[K")  # the stage's end line takes its place


class Progress:
    """The run's overall line: stage i of n, elapsed, and what is left, estimated from the stages'
    sizes (each stage kind's rough share of a run, scaled by the seconds the finished ones took)."""

    def __init__(self, plan: Plan, selected: Sequence[str]):
        self.started = time.monotonic()
        self.todo = {n: stage_size(plan.stages[n]) for n in selected if not plan.stages[n].done}
        self.size_done = self.seconds_done = 0.0

    def ran(self, name: str, seconds: float) -> None:
        self.size_done += self.todo.pop(name, 0.0)
        self.seconds_done += seconds

    def line(self) -> str:
        elapsed = f"elapsed {duration(time.monotonic() - self.started)}"
        left = sum(self.todo.values())
        if not left:
            return elapsed
        rate = self.seconds_done / self.size_done if self.size_done else None
        eta = f"about {duration(rate * left)} left" if rate else "time left unknown"
        return f"{elapsed}, {eta} ({len(self.todo)} stage(s) to run)"


def stage_size(planned: PlannedStage) -> float:
    """A stage's work in rough units: what its config asks for (training steps, teacher requests,
    rated files, benchmark tasks); 1 for the quick kinds. A teacher request weighs 4 steps: in the
    demo, 48 exercises took 186 s and 100 training steps 191 s (configs/pipelines/demo.yaml)."""
    config = planned.config
    kind = planned.stage.kind
    if kind == "train":
        return float(config.max_steps)
    if kind.startswith("synth-"):
        return float(config.num or 1) * 4
    if kind == "curate":
        return float(getattr(config.annotate, "sample", 1)) * 4
    if kind == "eval":
        return float(config.settings.limit or 164)
    return 1.0


def echo_warnings(run_dir: Path, echo: Callable[[str], None]) -> None:
    """The run's warnings (summary.json), the last lines a person sees before the report's path."""
    for line in read_json(run_dir / SUMMARY_JSON)["warnings"]:
        echo(f"warning: {line}")
