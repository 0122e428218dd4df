"""A stage's command as a Slurm batch job, waited for (the pipeline's `launcher: {sbatch: ...}`).

The job's id goes to `slurm-job.json` in the stage's directory as soon as it is submitted: a
killed `textbooks run`, run again, attaches to that job while Slurm still has it queued or
running instead of submitting it twice; a job that ended is submitted again (training resumes
from its checkpoints).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from textbooks import slurm
from textbooks.io import atomic_write_json, atomic_write_text, read_json


def run_as_batch_job(command: list[str], out: Path, sbatch_args: str, name: str) -> None:
    """`srun COMMAND` in a batch job submitted with `sbatch_args`, its log in OUT; returns when it
    completed (UserError naming the job and its log if it did not)."""
    record, log = out / "slurm-job.json", str(out / "slurm-%j.out")
    if record.is_file():
        job = read_json(record)["job"]
        if slurm.active([job]):
            print(f"  {name}: attaching to Slurm job {job} submitted earlier (log {slurm.log_path(log, job)})", flush=True)
            slurm.wait({job: log}, name)
            return
    script = out / "stage.sbatch"
    # srun: every task of the allocation runs the command (one torchrun per node, as train.sbatch).
    atomic_write_text(script, f"#!/bin/bash\nset -euo pipefail\nsrun {shlex.join(command)}\n")
    job = slurm.submit(str(script), [*shlex.split(sbatch_args), f"--job-name=textbooks-{name}", f"--output={log}",
                                     "--open-mode=append"])
    atomic_write_json(record, {"job": job})
    print(f"  {name}: submitted Slurm job {job} (log {slurm.log_path(log, job)})", flush=True)
    slurm.wait({job: log}, name)
