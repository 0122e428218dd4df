"""Slurm jobs from Python: submit a batch script, follow jobs until they leave the queue.

    job = submit(script, ["--output", "runs/x/slurm-%j.out"])
    wait({job: "runs/x/slurm-%j.out"}, "train")   # prints states as they change; UserError if one failed

No accounting database is needed: states come from `squeue --states=all`, which keeps a finished
job for MinJobAge (300 s by default). A job Slurm has forgotten counts as ended; the caller's own
markers (datatrove's completions, checkpoints) then say whether its work was done.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable

from textbooks.errors import UserError

# States of a job that has not ended yet (squeue's long names); every other state but COMPLETED is a failure.
ACTIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
                    "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD", "SPECIAL_EXIT"})


def _command(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError(f"{args[0]}: not found; expected Slurm's client commands on PATH (and SLURM_CONF "
                        "naming the cluster, where it is not the system's)") from None


def submit(script: str, args: Iterable[str] = ()) -> str:
    """`sbatch ARGS SCRIPT`; the job's id."""
    done = _command(["sbatch", "--parsable", *args, script])
    if done.returncode != 0:
        raise UserError(f"sbatch {script}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip().split(";")[0]


def cancel(job_ids: Iterable[str]) -> None:
    ids = list(job_ids)
    if ids:
        _command(["scancel", *ids])


def states(job_ids: Iterable[str]) -> dict[str, tuple[str, str]] | None:
    """(state, reason) of every job (array jobs: every task, `ID_TASK`) Slurm still knows of;
    None when squeue could not answer this time (a busy controller: ask again)."""
    ids = list(job_ids)
    if not ids:
        return {}
    done = _command(["squeue", "--noheader", "--array", "--states=all", f"--jobs={','.join(ids)}",
                     "--format=%i|%T|%r"])
    if done.returncode != 0:
        return {} if "Invalid job id" in done.stderr else None
    found = {}
    for line in done.stdout.splitlines():
        job, state, reason = line.strip().split("|", 2)
        found[job] = (state, reason)
    return found


def active(job_ids: Iterable[str]) -> bool:
    """Whether any of the jobs has yet to end (unknown counts as yes: attaching is safer than resubmitting)."""
    found = states(job_ids)
    return found is None or any(state in ACTIVE for state, _ in found.values())


def log_path(pattern: str, job: str) -> str:
    """`pattern` (sbatch's %j, %A, %a) for the job or array task `job` ("12" or "12_3")."""
    base, _, task = job.partition("_")
    return pattern.replace("%A", base).replace("%a", task or "0").replace("%j", job if not task else base)


def _summary(found: dict[str, tuple[str, str]]) -> str:
    """Per job with tasks still to end, its tasks by state; then how many jobs are done."""
    by_job: dict[str, Counter] = {}
    for job, (state, reason) in found.items():
        label = state if state != "PENDING" or reason in ("None", "") else f"{state} ({reason})"
        by_job.setdefault(job.split("_")[0], Counter())[label] += 1
    going = {job: counts for job, counts in by_job.items() if set(counts) != {"COMPLETED"}}
    parts = [f"job {job}: " + ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
             for job, counts in sorted(going.items(), key=lambda item: int(item[0]))]
    done = len(by_job) - len(going)
    return "; ".join([*parts, *([f"{done} job{'s' if done > 1 else ''} completed"] if done else [])])


def wait(jobs: dict[str, str], label: str, poll_s: float = 2.0, say: Callable[[str], None] | None = None,
         check: bool = True) -> None:
    """Until every job in `jobs` (id -> its log's pattern) has ended, printing states as they change.

    With `check`, a job that failed, was cancelled or timed out raises UserError naming it and its
    log as soon as it is seen. A job whose dependency failed would wait forever: it is cancelled."""
    say = say or (lambda line: print(line, flush=True))
    last = ""
    while True:
        found = states(jobs)
        if found is None:
            time.sleep(poll_s)
            continue
        orphans = [job for job, (state, reason) in found.items() if state == "PENDING" and reason == "DependencyNeverSatisfied"]
        if orphans:
            cancel(sorted({job.split("_")[0] for job in orphans}))
        summary = _summary(found)
        if summary != last:
            say(f"  slurm ({label}): {summary}")
            last = summary
        failed = sorted((job, state) for job, (state, _) in found.items() if state not in ACTIVE and state != "COMPLETED")
        if not (check and (orphans or failed)) and any(state in ACTIVE for state, _ in found.values()):
            time.sleep(poll_s)
            continue
        if check and (orphans or failed):  # at once: the run cannot succeed; the rest may finish meanwhile
            job, state = failed[0] if failed else (orphans[0], "never ran: a job it depends on failed")
            pattern = jobs.get(job.split("_")[0], "")
            where = f"; its log: {log_path(pattern, job)}" if pattern else ""
            more = f" ({len(failed) + len(orphans) - 1} more ended so too)" if len(failed) + len(orphans) > 1 else ""
            raise UserError(f"{label}: Slurm job {job} {state}{where}{more}")
        return
