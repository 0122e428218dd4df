"""datatrove's Slurm executor, followed to the end: submit a stage's array jobs, then wait for them.

The jobs' ids go to `slurm-jobs.json` in the stage's log directory as soon as they are
submitted: a command killed while it waits, run again, attaches to those jobs instead of
submitting them twice; then it submits only the tasks that have not completed (datatrove keeps
a marker per finished task), so a cancelled or failed task is all that runs again.
"""

from __future__ import annotations

from pathlib import Path

from datatrove.executor import SlurmPipelineExecutor

from textbooks import slurm
from textbooks.errors import UserError
from textbooks.io import atomic_write_json, read_json


class TrackedSlurmExecutor(SlurmPipelineExecutor):
    """Without datatrove's stats-merging job: we sum the tasks' stats files ourselves, and a job
    nobody waits for would outlive the logs it reads."""

    def launch_merge_stats(self) -> None:
        pass


def run_and_wait(executors: list[TrackedSlurmExecutor], root: Path, label: str) -> None:
    """Submit the unfinished tasks of `executors` (each depending on the one before) and wait."""
    jobs_file = root / "slurm-jobs.json"
    if jobs_file.is_file():
        earlier = read_json(jobs_file)
        if slurm.active(earlier):
            print(f"  {label}: attaching to Slurm jobs {', '.join(earlier)} submitted earlier", flush=True)
            slurm.wait(earlier, label, check=False)
    executors[-1].run()  # submits its dependencies first, each with only its incomplete tasks
    jobs = {str(e.job_id): str(Path(e.slurm_logs_folder) / "%A_%a.out") for e in executors if e.job_id not in (None, -1)}
    if jobs:
        atomic_write_json(jobs_file, jobs)
        slurm.wait(jobs, label)
    # squeue does not list every ended array task (one cancelled while pending can vanish from
    # it): datatrove's completion markers are what says a task is done.
    for e in executors:
        missing = len(e.get_incomplete_ranks())
        if missing:
            raise UserError(f"{label}: Slurm job {e.job_id} ({e.job_name}) ended with {missing} of {e.world_size} tasks "
                            f"unfinished (cancelled, failed or lost); logs in {e.slurm_logs_folder}; run the same "
                            "command again to run only those")
