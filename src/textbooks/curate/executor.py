"""Running curation stages on datatrove's executors: a local process pool, Slurm or Ray.

    stage = ShardStage("curate-clean", [CleanFilter(cfg)])
    dataset = run_shard_stage(input_dataset, out, stage, config_for_fingerprint, ExecutorConfig())

A stage's datatrove logs (completions, per-task stats) live beside its output in
`.OUT.datatrove/<fingerprint>/`: a killed stage resumes at its unfinished tasks, a stage with a
new config starts afresh. Every executor returns when every task is done and the dataset is published at once: on
Slurm the command waits for its jobs, showing their states (see `slurm_executor`).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from textbooks.config import pacing
from textbooks.data.datasets import Dataset, DatasetWriter
from textbooks.errors import UserError


@dataclass(frozen=True)
class ExecutorConfig:
    """Where data stages run (YAML section `executor:`); never part of a dataset's fingerprint."""

    kind: Literal["local", "slurm", "ray"] = pacing("local")
    workers: int = pacing(2)  # tasks at once (local, ray: processes; slurm: the array's % limit, -1 none)
    partition: str = pacing("")  # slurm
    time: str = pacing("04:00:00")  # slurm, per task
    cpus_per_task: int = pacing(1)
    mem_per_cpu_gb: int = pacing(2)  # slurm writes it as --mem-per-cpu=2G
    venv_path: str = pacing("")  # slurm: an activate script the job sources; default this interpreter's venv
    sbatch_args: dict[str, str] = pacing(default_factory=dict)  # slurm: extra #SBATCH lines

    def __post_init__(self) -> None:
        if self.kind not in ("local", "slurm", "ray"):
            raise UserError(f"executor.kind: {self.kind!r}; expected local, slurm or ray")
        if self.kind == "slurm" and not self.partition:
            raise UserError("executor.partition: required with --executor slurm; expected a Slurm partition name")
        if self.workers == 0 or self.workers < -1:
            raise UserError(f"executor.workers: {self.workers}; expected a positive number (or -1: no limit)")


def make_executor(config: ExecutorConfig, pipeline: list, tasks: int, logging_dir: Path, name: str, depends=None):
    """A datatrove executor of `config.kind` for `tasks` tasks of `pipeline`."""
    logging_dir.mkdir(parents=True, exist_ok=True)
    if config.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        workers = min(config.workers if config.workers > 0 else tasks, tasks)
        # fork, not datatrove's default forkserver: workers start with our modules already
        # imported (seconds per stage on a busy machine) and never re-run a main script.
        return LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=str(logging_dir),
                                     depends=depends, start_method="fork")
    if config.kind == "ray":
        try:
            import ray

            from textbooks.curate.ray_executor import OwnTempRayExecutor
        except ImportError:
            raise UserError("--executor ray: ray is not installed; expected `pip install 'textbooks[ray]'`") from None
        if not ray.is_initialized():
            ray.init()  # joins the cluster RAY_ADDRESS names, or starts one on this machine
        return OwnTempRayExecutor(pipeline, tasks=tasks, workers=config.workers, logging_dir=str(logging_dir),
                                   depends=depends, cpus_per_task=config.cpus_per_task, mem_per_cpu_gb=config.mem_per_cpu_gb)
    from textbooks.curate.slurm_executor import TrackedSlurmExecutor

    return TrackedSlurmExecutor(
        pipeline, tasks=tasks, time=config.time, partition=config.partition, workers=config.workers,
        job_name=f"textbooks-{name}", logging_dir=str(logging_dir), depends=depends, cpus_per_task=config.cpus_per_task,
        mem_per_cpu_gb=config.mem_per_cpu_gb, venv_path=config.venv_path or _this_venv(),
        sbatch_args=dict(config.sbatch_args), slurm_logs_folder=str(logging_dir / "slurm_logs"),
    )


def _this_venv() -> str:
    import sys

    activate = Path(sys.prefix) / "bin" / "activate"
    return str(activate) if activate.is_file() else ""


@dataclass
class Stage:
    """One datatrove stage: `pipeline(staged)` builds its steps (given the output's staging
    directory, for the step that writes shards), `tasks` of them run."""

    name: str
    tasks: int
    pipeline: Callable[[Path], list]


def incomplete_tasks(logging_dir: Path, tasks: int) -> int:
    return sum(1 for rank in range(tasks) if not (logging_dir / "completions" / f"{rank:05d}").is_file())


def step_counts(logging_dir: Path) -> dict[str, Counter]:
    """Per step name, the sum over tasks of every counter datatrove saved (`stats/*.json`)."""
    totals: dict[str, Counter] = {}
    for path in sorted((logging_dir / "stats").glob("*.json")):
        for step in json.loads(path.read_text(encoding="utf-8")):
            counter = totals.setdefault(step["name"], Counter())
            for key, value in step.get("stats", {}).items():
                counter[key] += int(value["total"] if isinstance(value, dict) else value)
    return totals


def counter_of(counts: dict[str, Counter], step_name: str) -> Counter:
    """The counts of the step named `step_name` (datatrove prefixes names with the step's type)."""
    found = [counter for name, counter in counts.items() if name.endswith(step_name)]
    return found[0] if found else Counter()


def logs_dir(out: Path, fingerprint: str) -> Path:
    return out.parent / f".{out.name}.datatrove" / fingerprint[:16]


def run_stages(writer: DatasetWriter, stages: list[Stage], executor: ExecutorConfig) -> dict[str, dict[str, Counter]]:
    """Run `stages` in order for `writer`'s dataset (its last stage writes the shards); returns
    the step counts of every stage."""
    root = logs_dir(writer.path, writer.fingerprint)
    if root.parent.is_dir():  # logs of runs with other configs: nothing there can be resumed
        for other in root.parent.iterdir():
            if other != root:
                shutil.rmtree(other)
    executors = []
    for stage in stages:
        executors.append(make_executor(executor, stage.pipeline(writer.staged), stage.tasks, root / stage.name,
                                       f"{writer.path.name}-{stage.name}", depends=executors[-1] if executors else None))
    if executor.kind == "slurm":
        from textbooks.curate.slurm_executor import run_and_wait

        run_and_wait(executors, root, writer.path.name)
    else:
        executors[-1].run()  # runs its dependencies first
    for stage in stages:
        missing = incomplete_tasks(root / stage.name, stage.tasks)
        if missing:
            raise UserError(f"{writer.path}: stage {stage.name} left {missing} of {stage.tasks} tasks unfinished; "
                            f"see the logs in {root / stage.name / 'logs'}, then run the same command again")
    return {stage.name: step_counts(root / stage.name) for stage in stages}


def finish_logs(out: Path) -> None:
    """The dataset is published: its datatrove logs are no longer needed to resume it."""
    shutil.rmtree(out.parent / f".{out.name}.datatrove", ignore_errors=True)


def run_shard_stage(
    dataset: Dataset,
    out: str | Path,
    stage: str,
    config: dict[str, Any],
    steps: Callable[[], list],
    executor: ExecutorConfig,
    summarize: Callable[[dict[str, Counter]], dict[str, Any]],
    kind: str = "code",
    drop_columns: tuple[str, ...] = (),
    column_types: dict[str, Any] | None = None,
) -> tuple[Dataset, bool]:
    """Shard i of `dataset` through `steps()` into shard i of `out`; (dataset, already_done).

    `summarize(step_counts)` turns the counts into the manifest's `stage` entry."""
    from textbooks.curate.steps import DatasetShardReader, DatasetShardWriter

    out = Path(out)
    writer = DatasetWriter(out, stage=stage, kind=kind, config=config, inputs=[dataset])
    if writer.done:
        return Dataset.open(out), True
    tasks = len(dataset.shards)
    with writer:
        counts = run_stages(writer, [Stage("shards", tasks, lambda staged: [
            DatasetShardReader(dataset.path), *steps(), DatasetShardWriter(staged, kind, drop_columns, column_types)])],
            executor)["shards"]
        writer.extra_manifest[stage] = summarize(counts)
    finish_logs(out)
    return Dataset.open(out), False
