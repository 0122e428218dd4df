"""`textbooks run PIPELINE`: run the stages a plan needs, in order, each at most once per key.

    RUN_DIR/
      stages/NAME-KEY/   one stage's output (a dataset, a token pack, a training run, an eval) and,
                         once finished, its stage.json (key, config, inputs, wall time)
      NAME -> stages/NAME-KEY   the current output of each stage (a relative symlink)
      cache/             teacher answers, shared by every key of a stage
      logs/NAME.log      everything a stage printed (its engines' logs, progress bars, subprocesses)
      lineage.json, report.html, report.md, summary.json, report-files/
      .lock, stages/.NAME-KEY.lock   who runs here, and who makes that output (`textbooks.locks`)

A stage whose directory holds stage.json is done and is not run again. A stage killed half-way
has a directory without it: the next run calls the stage again on the same directory and the
stage resumes from its own markers (dataset shards, token units, training checkpoints, eval
lines). A changed config writes a new directory; an old one is never written into again, only
removed by `--gc` once no pointer uses it.

The console stays quiet (pipeline/console.py): one line as a stage starts and one as it ends, with
the run's progress; what the stage and the engines under it print goes to its log file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textbooks import __version__
from textbooks.config import to_dict
from textbooks.errors import UserError
from textbooks.io import atomic_write_json
from textbooks.locks import hold
from textbooks.pipeline.bill import DEFAULT_MFU, format_bill, make_bill, write_bill
from textbooks.pipeline.console import Progress, echo_warnings, stage_log, stage_output
from textbooks.pipeline.kinds.base import StageContext
from textbooks.pipeline.plan import STAGE_RECORD, Plan, PlannedStage, make_plan
from textbooks.pipeline.render import duration
from textbooks.pipeline.spec import PipelineSpec
from textbooks.teacher.client import TeacherClient, TeacherConfig

ENDPOINT_TIMEOUT_S = 10.0
RUN_LOCK = ".lock"  # RUN_DIR/.lock: the run holding the directory


@dataclass
class RunOptions:
    until: str | None = None  # this stage and what it needs
    only: str | None = None  # this stage alone; its inputs must be done
    force: Sequence[str] = ()  # these stages and everything downstream run again
    dry_run: bool = False
    gc: bool = False
    check_endpoints: bool = True
    verbose: bool = False  # stages print to the console too, not only to logs/NAME.log
    assume_mfu: float | None = None  # the bill's MFU (pipeline/bill.py); None: its default


@dataclass
class RunResult:
    plan: Plan
    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    report: Path | None = None


def default_run_dir(spec: PipelineSpec) -> Path:
    return spec.run_dir or Path("runs") / spec.name


def run_pipeline(spec: PipelineSpec, run_dir: Path | None = None, options: RunOptions = RunOptions(),
                 echo: Callable[[str], None] = print) -> RunResult:
    """Run (or, with `dry_run`, describe) the pipeline; one run at a time per run directory: a
    second stops at once with a UserError naming the holder (host, pid, since when)."""
    run_dir = Path(run_dir or default_run_dir(spec))
    if options.dry_run:
        return _run_pipeline(spec, run_dir, options, echo)
    with holding_run_dir(run_dir):
        return _run_pipeline(spec, run_dir, options, echo)


@contextlib.contextmanager
def holding_run_dir(run_dir: Path) -> Iterator[None]:
    fresh = not run_dir.exists()
    try:
        with hold(run_dir / RUN_LOCK, f"run directory {run_dir}"):
            yield
    finally:
        if fresh and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a run stopped before its first stage (a bad file, no teacher) leaves nothing


def _run_pipeline(spec: PipelineSpec, run_dir: Path, options: RunOptions, echo: Callable[[str], None]) -> RunResult:
    plan = make_plan(spec, run_dir)
    selected = select_stages(plan, options)
    forced = {n for name in options.force for n in (name, *plan.descendants(name))}
    if options.check_endpoints:
        check_endpoints(plan, selected)
    result = RunResult(plan)
    bill = make_bill(plan, [n for n in selected if n in forced or not plan.stages[n].done],
                     options.assume_mfu or DEFAULT_MFU)
    if options.dry_run:
        describe(plan, selected, forced, echo)
        echo(format_bill(bill))
        if options.gc:
            echo("--gc would remove: " + (", ".join(map(str, unused_outputs(plan))) or "nothing"))
        return result
    progress = Progress(plan, selected)
    write_bill(bill, run_dir)  # before anything runs: the report shows what the run was expected to cost
    for number, name in enumerate(selected, start=1):
        planned = plan.stages[name]
        prefix = f"[{number}/{len(selected)}] {name} ({planned.stage.kind})"
        if name in forced and planned.done:
            retire(planned.out)
        if planned.done:
            echo(f"{prefix}: cached, {planned.out.relative_to(run_dir)}")
            result.cached.append(name)
        else:
            log = stage_log(run_dir, name)
            echo(f"{prefix}: running into {planned.out.relative_to(run_dir)} (log: {log.relative_to(run_dir)})")
            try:
                seconds = run_stage_alone(plan, planned, echo,
                                          stage_output(log, options.verbose, status=f"{prefix}: running"))
            except UserError as err:
                raise UserError(f"stage {name} ({planned.stage.kind}): {err}; its log: {log}; finished stages are "
                                "kept and the next run resumes this one") from None
            progress.ran(name, seconds)
            echo(f"{prefix}: done in {duration(seconds)}; {progress.line()}")
            result.ran.append(name)
        point(run_dir, name, planned.out)
    from textbooks.pipeline.cards import write_cards
    from textbooks.pipeline.lineage import write_lineage
    from textbooks.pipeline.report import write_report

    write_lineage(plan)
    write_cards(run_dir)
    if options.gc:
        result.removed = collect_garbage(plan)
        echo(f"--gc removed {len(result.removed)} unused output(s)")
    result.report = write_report(run_dir)
    echo_warnings(run_dir, echo)
    return result


def select_stages(plan: Plan, options: RunOptions) -> list[str]:
    names = list(plan.stages)
    for flag, value in (("--until", options.until), ("--only", options.only),
                        *(("--force", f) for f in options.force)):
        if value is not None and value not in plan.stages:
            raise UserError(f"{flag} {value}: no such stage in {plan.spec.path}; expected one of {', '.join(names)}")
    if options.only is not None:
        stage = plan.stages[options.only]
        missing = [n for n in stage.upstream() if not plan.stages[n].done]
        if missing:
            raise UserError(f"--only {options.only}: its input stage {missing[0]!r} has not run; run without --only "
                            f"(or with --until {options.only})")
        return [options.only]
    if options.until is not None:
        wanted = {options.until, *plan.ancestors(options.until)}
        return [n for n in names if n in wanted]
    return names


def run_stage_alone(plan: Plan, planned: PlannedStage, echo: Callable[[str], None],
                    output: contextlib.AbstractContextManager) -> float:
    """`run_stage` under its output's lock: runs that share `stages/` (an experiment's arms, two
    jobs) and need the same output wait for the one making it, then find it done. The wait is
    told on the console; the stage's own output goes where `output` sends it (its log)."""
    lock = planned.out.with_name(f".{planned.out.name}.lock")
    with hold(lock, f"stage {planned.name} ({planned.out.name})", wait=True, on_wait=echo):
        if (planned.out / STAGE_RECORD).is_file():
            return 0.0
        with output:
            return run_stage(plan, planned)


def run_stage(plan: Plan, planned: PlannedStage) -> float:
    """Run one stage into its directory and mark it done; returns the wall time."""
    started = time.time()
    planned.out.parent.mkdir(parents=True, exist_ok=True)
    ctx = StageContext(planned.name, planned.out, planned.config, planned.inputs, plan.run_dir, plan.spec.launcher)
    summary = planned.stage.run(ctx)
    finished = time.time()
    atomic_write_json(planned.out / STAGE_RECORD, stage_record(planned, summary, started, finished))
    return finished - started


def stage_record(planned: PlannedStage, summary: dict[str, Any], started: float, finished: float) -> dict[str, Any]:
    return {
        "name": planned.name, "kind": planned.stage.kind, "key": planned.key, "produces": planned.stage.produces,
        "config": to_dict(planned.config),
        "inputs": {role: [{"ref": i.ref, "stage": i.stage, "key": i.key, "path": str(i.path), "weight": i.weight}
                          for i in items] for role, items in planned.inputs.items()},
        "summary": summary, "wall_s": round(finished - started, 3),
        "started_at": _utc(started), "finished_at": _utc(finished), "textbooks_version": __version__,
    }


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def point(run_dir: Path, name: str, out: Path) -> None:
    """RUN_DIR/NAME -> stages/NAME-KEY, replaced atomically (a reader sees the old or the new one)."""
    link = run_dir / name
    if link.exists() and not link.is_symlink():
        raise UserError(f"{link}: exists and is not the pipeline's pointer; expected a symlink (move it away)")
    tmp = run_dir / f".{name}.link.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(out, run_dir), tmp)
    os.replace(tmp, link)


def retire(out: Path) -> None:
    """Move a finished output aside (never delete or overwrite it); `--gc` removes it later."""
    os.replace(out, out.with_name(f"{out.name}.replaced-{time.strftime('%Y%m%dT%H%M%S')}"))


def unused_outputs(plan: Plan) -> list[Path]:
    """Entries of RUN_DIR/stages that neither a pointer nor this plan uses."""
    stages_dir = plan.run_dir / "stages"
    if not stages_dir.is_dir():
        return []
    keep = {p.out.name for p in plan.stages.values()}
    keep |= {Path(os.readlink(link)).name for link in plan.run_dir.iterdir() if link.is_symlink()}
    # A stage's staging directory (`.NAME-KEY.partial`) goes with its output; lock files stay (a
    # run sharing stages/ may hold one).
    return sorted(entry for entry in stages_dir.iterdir()
                  if entry.name not in keep and entry.name.removeprefix(".").removesuffix(".partial") not in keep
                  and not entry.name.endswith(".lock"))


def collect_garbage(plan: Plan) -> list[Path]:
    removed = unused_outputs(plan)
    for entry in removed:
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    return removed


def check_endpoints(plan: Plan, selected: Sequence[str]) -> None:
    """Every teacher endpoint a stage still to run will call answers /models, or nothing starts."""
    for name in selected:
        planned = plan.stages[name]
        if planned.done:
            continue
        teacher = planned.stage.teacher(planned.config)
        # The section it is in: `teacher` (synth, curate) or `judge` (eval, decontam).
        section = next((f.name for f in dataclasses.fields(planned.config) if getattr(planned.config, f.name) is teacher),
                       "teacher")
        for url in teacher.endpoints if teacher is not None else []:
            try:
                asyncio.run(_ping(dataclasses.replace(teacher, endpoints=[url], timeout_s=ENDPOINT_TIMEOUT_S,
                                                      max_retries=0)))
            except UserError as err:
                raise UserError(f"{plan.spec.origin}: stages.{name}.config.{section}.endpoints: {err}") from None


async def _ping(config: TeacherConfig) -> None:
    async with TeacherClient(config) as client:
        await client.ping()


def describe(plan: Plan, selected: Sequence[str], forced: set[str], echo: Callable[[str], None]) -> None:
    """--dry-run: what would run and what is cached (the bill follows: what it would cost)."""
    echo(f"dry run of {plan.spec.path} into {plan.run_dir}; nothing is run")
    for name in selected:
        planned = plan.stages[name]
        state = "cached" if planned.done and name not in forced else "would run"
        echo(f"  {name} ({planned.stage.kind}) {planned.key[:12]}: {state}")
