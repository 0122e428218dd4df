"""HumanEval+ and MBPP+: expected outputs from the canonical solutions, and the checking programs.

evalplus ships inputs, not outputs. `PlusBenchmark.prepare` runs each task's canonical solution
on its inputs -- in the sandbox, since it is still code from a file -- and keeps the outputs (as
an opaque pickle that only sandboxed code unpickles) and the time each input took. They are
cached on disk, one file per task, under a key made of the data file's sha256 and `plus_check.py`'s own sha256, so a
new data file or a change to the checking code recomputes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from textbooks.benchmarks.download import cache_root
from textbooks.benchmarks.plus_check import MBPP_OUTPUT_NOT_NONE, MIN_TIME_LIMIT_S, TIME_LIMIT_FACTOR
from textbooks.benchmarks.tasks import Benchmark, OpenSandbox, Task, exits_fail
from textbooks.io import atomic_write_json

PLUS_CHECK_SOURCE = Path(__file__).with_name("plus_check.py").read_text(encoding="utf-8")
PLUS_CHECK_SHA256 = hashlib.sha256(PLUS_CHECK_SOURCE.encode()).hexdigest()
PER_PART_CAP_S = 60.0  # evalplus: min(EVALPLUS_TIMEOUT_PER_TASK=60, sum of the limits) + slack, for base and plus
PART_SLACK_S = 2.0
GROUND_TRUTH_LIMITS = {
    "timeout_s": 300.0,
    "memory_bytes": 16 * 1024**3,  # Mbpp/255 and Mbpp/392's canonical solutions need more than 4 GiB
    "output_bytes": 64 * 1024**2,  # the pickled outputs come back on stdout (large ones are left out)
}


class GroundTruthError(Exception):
    """A canonical solution did not run to the end in the sandbox: no number can be trusted."""


class PlusBenchmark(Benchmark):
    """HumanEval+ or MBPP+: `prepare()` must run (or load its cache) before `program`."""

    def __init__(self, name: str, tasks: dict[str, Task], stop: tuple[str, ...], data_sha256: str):
        super().__init__(name, tasks, stop, self._program, self._timeout, data_sha256)
        self.dataset = "mbpp" if name == "mbpp+" else "humaneval"
        # task_id: {"expected": base64 pickle, "recompute": [input indices], "times": [s per input]}
        self.expected: dict[str, dict] = {}
        self._inputs_blobs: dict[str, str] = {}

    @property
    def cache_dir(self) -> Path:
        return cache_root() / "groundtruth" / f"{self.name}-{self.data_sha256[:16]}-{PLUS_CHECK_SHA256[:12]}"

    def prepare(self, task_ids: Iterable[str] | None = None, open_sandbox: OpenSandbox | None = None,
                progress: bool = True) -> None:
        """Load or compute the expected outputs of `task_ids` (default: all), one cache file per task;
        what is not cached yet runs in the sandbox `open_sandbox(**GROUND_TRUTH_LIMITS)` starts."""
        wanted = [t for t in (self.tasks if task_ids is None else task_ids) if t not in self.expected]
        missing = []
        for task_id in wanted:
            path = self._cache_file(task_id)
            if path.is_file():
                self.expected[task_id] = json.loads(path.read_text())
            else:
                missing.append(self.tasks[task_id])
        if not missing:
            return
        if open_sandbox is None:
            raise RuntimeError(f"{self.name}: {len(missing)} tasks have no cached expected outputs; "
                               "prepare() needs open_sandbox to compute them")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for task_id, truth in compute_expected(self, missing, open_sandbox, progress):
            atomic_write_json(self._cache_file(task_id), truth)
            self.expected[task_id] = truth

    def _cache_file(self, task_id: str) -> Path:
        return self.cache_dir / f"{task_id.replace('/', '_')}.json"

    def inputs_blob(self, task: Task) -> str:
        if task.task_id not in self._inputs_blobs:
            self._inputs_blobs[task.task_id] = base64.b64encode(pickle.dumps(task.record["inputs"])).decode("ascii")
        return self._inputs_blobs[task.task_id]

    def time_limits(self, task: Task) -> list[float]:
        return [max(MIN_TIME_LIMIT_S, TIME_LIMIT_FACTOR * t) for t in self._truth(task)["times"]]

    def _truth(self, task: Task) -> dict:
        if task.task_id not in self.expected:
            raise RuntimeError(f"{self.name} {task.task_id}: call prepare() before building its program")
        return self.expected[task.task_id]

    def _program(self, task: Task, completion: str) -> str:
        truth = self._truth(task)
        call = (f"check({task.prompt + completion!r}, {task.prompt + task.reference!r}, {self.dataset!r}, "
                f"{task.entry_point!r}, {self.inputs_blob(task)!r}, {truth['expected']!r}, {truth['recompute']!r}, "
                f"{truth['times']!r}, {float(task.record['atol'])!r}, {self.output_not_none(task)!r})")
        return PLUS_CHECK_SOURCE + "\n\n" + exits_fail(call)

    def output_not_none(self, task: Task) -> bool:
        return self.dataset == "mbpp" and task.entry_point in MBPP_OUTPUT_NOT_NONE

    def _timeout(self, task: Task) -> float:
        limits, truth = self.time_limits(task), self._truth(task)
        n_base = task.record["n_base"]
        recomputing = sum(TIME_LIMIT_FACTOR * truth["times"][i] for i in truth["recompute"])
        return sum(self._part_budget(limits[part], truth["times"][part]) for part in (slice(0, n_base), slice(n_base, None))) \
            + recomputing

    @staticmethod
    def _part_budget(limits: list[float], ref_times: list[float]) -> float:
        # evalplus: min(60, sum of the limits) + slack, for base and plus apart. Never less than twice
        # the reference's own time: Mbpp/599's reference needs about 65 s for its plus inputs.
        return max(min(PER_PART_CAP_S, sum(limits)), 2 * sum(ref_times)) + PART_SLACK_S

def ground_truth_program(benchmark: PlusBenchmark, task: Task) -> str:
    call = (f"ground_truth({task.prompt + task.reference!r}, {task.entry_point!r}, {benchmark.inputs_blob(task)!r}, "
            f"{benchmark.output_not_none(task)!r})")
    return PLUS_CHECK_SOURCE + "\n\n" + call + "\n"


def compute_expected(benchmark: PlusBenchmark, tasks: list[Task], open_sandbox: OpenSandbox,
                     progress: bool) -> Iterator[tuple[str, dict]]:
    """(task_id, {"expected", "recompute", "times"}) as each canonical solution finishes in the sandbox."""
    programs = ((task.task_id, ground_truth_program(benchmark, task)) for task in tasks)
    with open_sandbox(**GROUND_TRUTH_LIMITS) as sandbox, \
            tqdm(total=len(tasks), desc=f"{benchmark.name} expected outputs", disable=not progress, unit="task") as bar:
        for task_id, outcome in sandbox.run_many(programs):
            bar.update()
            if not outcome.passed:
                raise GroundTruthError(f"{benchmark.name} {task_id}: the canonical solution {outcome.status} in the sandbox "
                                       f"({outcome.error_type}: {outcome.message}); no expected outputs")
            # The last line: a canonical solution may print too.
            yield task_id, json.loads(outcome.stdout.rstrip("\n").rsplit("\n", 1)[-1])
