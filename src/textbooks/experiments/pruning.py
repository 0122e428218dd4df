"""`textbooks experiment pruning CONFIG`: the paper's Table 3, the model did not memorise the benchmark.

The same finetune run twice per seed: on the exercises as written (unpruned) and on the exercises
the decontamination stage kept at tau (its `pruned/`). Both models are scored on each benchmark
split into the problems similar to the training data and those not similar (the stage's
`split.json`), side by side: if pruning the look-alikes leaves the similar problems' pass@1 (and
held-out loss) where it was, the model learned the skill, not the answers.

    pipeline: {...}              # or a pipeline file's name
    decontam: exercises-clean    # a decontam stage of the pipeline, or a directory `textbooks decontam --out` wrote
    data: finetune-pack          # the tokenize stage that reads the pruned exercises
    tau: 0.8                     # optional: set on the decontam stage (a directory must have been made with it)
    measure: {models: [finetune], pass_at_1: [humaneval]}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textbooks.config import output, pacing, to_dict
from textbooks.errors import UserError
from textbooks.eval.heldout import read_losses
from textbooks.experiments.arms import (
    Arm,
    ArmRun,
    MeasureConfig,
    arm_specs,
    base_pipeline,
    check_only_data_differs,
    describe_runs,
    measure_stage,
    plan_runs,
    run_arms,
    with_run_dir,
)
from textbooks.experiments.report import (
    arm_warnings,
    config_block,
    load_experiment,
    scale_note,
    write_experiment_report,
)
from textbooks.experiments.stats import Spread
from textbooks.io import atomic_write_json, read_json, read_jsonl
from textbooks.pipeline.render import Section, Table
from textbooks.pipeline.spec import parse_input_ref

UNPRUNED, PRUNED = "unpruned", "pruned"
GROUPS = ("similar", "not_similar")
SPLIT, SUMMARY = "split.json", "summary.json"


@dataclass
class PruningConfig:
    pipeline: str | dict[str, Any] = output()  # a pipeline file, a shipped pipeline's name, or the pipeline itself
    decontam: str = output()  # a decontam stage of the pipeline, or the directory `textbooks decontam --out` wrote
    data: str = output()  # the tokenize stage whose datasets include the pruned exercises
    tau: float | None = output(None)  # None: the decontam stage's (or directory's) own
    description: str = pacing("")
    run_dir: Path | None = pacing(None)
    seeds: list[int] = output(default_factory=lambda: [0])
    measure: MeasureConfig = output(default_factory=MeasureConfig)


def run_pruning(config_file: str | Path, overrides: Sequence[str] = (), run_dir: Path | None = None,
                dry_run: bool = False, echo: Callable[[str], None] = print) -> Path | None:
    cfg, path = load_experiment(PruningConfig, config_file, overrides)
    where = str(path)
    pipeline, pipeline_file, pipeline_where = base_pipeline(cfg.pipeline, path)
    stages = pipeline.get("stages") if isinstance(pipeline.get("stages"), dict) else {}
    datasets = _data_inputs(stages, cfg.data, where)
    if "/" in cfg.decontam:
        decontam_dir = _finished_decontam(Path(cfg.decontam), cfg.tau, where)
        pruned_ref = _matching(datasets, lambda ref: Path(ref).resolve() == (decontam_dir / "pruned").resolve(),
                               f"{where}: stages.{cfg.data}.inputs.datasets", f"{where}: data: stages.{cfg.data} reads no {decontam_dir / 'pruned'}")
        unpruned_ref = read_json(decontam_dir / SUMMARY)["input"]
        changes: dict[str, Any] = {}
        keep: list[str] = []
    else:
        section = stages.get(cfg.decontam)
        if not isinstance(section, dict) or section.get("kind") != "decontam":
            names = [n for n, s in stages.items() if isinstance(s, dict) and s.get("kind") == "decontam"]
            raise UserError(f"{where}: decontam: {cfg.decontam!r} is no decontam stage of the pipeline and no "
                            f"directory (decontam stages: {', '.join(names) or 'none'}); expected a stage name, or "
                            "the output directory of `textbooks decontam`")
        pruned_ref = _matching(datasets, lambda ref: ref == cfg.decontam, f"{where}: stages.{cfg.data}.inputs.datasets",
                               f"{where}: data: stages.{cfg.data} does not read the decontam stage {cfg.decontam!r}")
        unpruned_ref = (section.get("inputs") or {}).get("dataset")
        if not isinstance(unpruned_ref, str):
            raise UserError(f"{where}: decontam: stages.{cfg.decontam}.inputs.dataset: missing; expected the exercises "
                            "it decontaminates (the unpruned arm's data)")
        changes = {f"stages.{cfg.decontam}.config.tau": cfg.tau} if cfg.tau is not None else {}
        keep, decontam_dir = [cfg.decontam], None
    key = f"stages.{cfg.data}.inputs.datasets"
    arms = [Arm(UNPRUNED, {**changes, key: [unpruned_ref if d == pruned_ref else d for d in datasets]}),
            Arm(PRUNED, {**changes, key: datasets})]
    run_dir = with_run_dir(cfg.run_dir, run_dir, path)
    runs = plan_runs(arm_specs(where, pipeline, pipeline_file, pipeline_where, arms, cfg.seeds, cfg.measure, keep),
                     run_dir)
    check_only_data_differs(runs, where)
    if dry_run:
        describe_runs(runs, echo)
        return None
    run_arms(runs, run_dir, echo)
    if decontam_dir is None:
        decontam_dir = runs[0].plan.stages[cfg.decontam].out
    split, decontam_summary = read_split(decontam_dir), read_json(decontam_dir / SUMMARY)
    table = split_results(runs, cfg.measure, split)
    atomic_write_json(run_dir / "results.json", {
        "experiment": "pruning", "config": str(path), "config_data": to_dict(cfg), "seeds": cfg.seeds,
        "decontam": str(decontam_dir), "tau": split["tau"], "split": split["benchmarks"],
        "removed": decontam_summary.get("removed"), "records": decontam_summary.get("records"), "results": table})
    return write_experiment_report(run_dir, "textbooks experiment: pruned retraining",
                                   report_sections(cfg, path, run_dir, runs, split, decontam_summary, table))


def _data_inputs(stages: dict[str, Any], data: str, where: str) -> list[str]:
    section = stages.get(data)
    if not isinstance(section, dict) or section.get("kind") != "tokenize":
        raise UserError(f"{where}: data: {data!r} is no tokenize stage of the pipeline; expected the stage that "
                        "packs the exercises the finetune reads")
    datasets = (section.get("inputs") or {}).get("datasets")
    return [str(d) for d in (datasets if isinstance(datasets, list) else [datasets] if datasets else [])]


def _matching(datasets: list[str], is_pruned: Callable[[str], bool], where: str, error: str) -> str:
    """The entry of a tokenize stage's datasets (NAME or NAME:WEIGHT) that is the pruned exercises."""
    for entry in datasets:
        if is_pruned(parse_input_ref(entry, where).ref):
            return entry
    raise UserError(f"{error}; expected it among {datasets}")


def _finished_decontam(directory: Path, tau: float | None, where: str) -> Path:
    for name in (SUMMARY, SPLIT, "pruned"):
        if not (directory / name).exists():
            raise UserError(f"{where}: decontam: {directory}: no decontamination output ({name} missing); expected "
                            "the directory `textbooks decontam --input ... --out DIR` wrote (run it first), or the "
                            "name of a decontam stage of the pipeline")
    made_at = read_json(directory / SUMMARY).get("tau")
    if tau is not None and made_at != tau:
        raise UserError(f"{where}: tau: {tau}, but {directory} was decontaminated at tau {made_at}; expected the same "
                        f"(rerun `textbooks decontam` with tau={tau}, or leave tau out)")
    return directory


def read_split(decontam_dir: Path) -> dict[str, Any]:
    path = decontam_dir / SPLIT
    if not path.is_file():
        raise UserError(f"{path}: missing; expected the decontamination stage's split of each benchmark")
    return read_json(path)


def split_results(runs: list[ArmRun], measure: MeasureConfig, split: dict[str, Any]) -> list[dict[str, Any]]:
    """Per (benchmark, group, metric, model, arm): the value of each seed."""
    rows = []
    for run in runs:
        for model in measure.models:
            for benchmark in measure.pass_at_1:
                per_task = _pass_per_task(run.output(measure_stage(model, benchmark)))
                groups = {group: [t for t in ids if t in per_task]  # a partial eval (settings.limit) scores fewer
                          for group, ids in _groups(split, benchmark, "measure.pass_at_1").items()}
                rows += _grouped(run, model, benchmark, "pass@1", groups,
                                 lambda ids, per_task=per_task: sum(per_task[t] for t in ids) / len(ids) if ids else None)
            if measure.heldout_loss is not None:
                losses = read_losses(run.output(measure_stage(model, "loss")))
                for benchmark in dict.fromkeys(line["benchmark"] for line in losses):
                    if benchmark not in split["benchmarks"]:
                        continue
                    by_task = {str(line["task_id"]): line for line in losses if line["benchmark"] == benchmark}
                    groups = {group: [t for t in ids if t in by_task] for group, ids in _groups(split, benchmark, "").items()}
                    rows += _grouped(run, model, benchmark, "held-out loss", groups,
                                     lambda ids, by_task=by_task: _token_mean([by_task[t] for t in ids]))
    return rows


def _groups(split: dict[str, Any], benchmark: str, key: str) -> dict[str, list[str]]:
    entry = split["benchmarks"].get(benchmark)
    if entry is None:
        raise UserError(f"{key + ': ' if key else ''}{benchmark}: not in the decontamination split (it covers "
                        f"{', '.join(split['benchmarks'])}); expected the decontam stage to check it "
                        "(its config's benchmarks)")
    groups = {group: [str(t) for t in entry[group]] for group in GROUPS}
    return {**groups, "total": groups["similar"] + groups["not_similar"]}


def _pass_per_task(eval_dir: Path) -> dict[str, float]:
    """Each task's pass@1 estimate: the share of its samples that passed."""
    passed: dict[str, list[bool]] = defaultdict(list)
    for _, line in read_jsonl(eval_dir / "results.jsonl"):
        passed[str(line["task_id"])].append(bool(line["passed"]))
    return {task: sum(v) / len(v) for task, v in passed.items()}


def _token_mean(lines: list[dict[str, Any]]) -> float | None:
    tokens = sum(line["tokens"] for line in lines)
    return sum(line["sum"] for line in lines) / tokens if tokens else None


def _grouped(run: ArmRun, model: str, benchmark: str, metric: str, groups: dict[str, list[str]],
             value: Callable[[list[str]], float | None]) -> list[dict[str, Any]]:
    return [{"arm": run.arm, "seed": run.seed, "model": model, "benchmark": benchmark, "metric": metric,
             "group": group, "problems": len(ids), "value": value(ids)} for group, ids in groups.items()]  # problems scored


def report_sections(cfg: PruningConfig, path: Path, run_dir: Path, runs: list[ArmRun], split: dict[str, Any],
                    decontam: dict[str, Any], rows: list[dict[str, Any]]) -> list[Section]:
    intro = [scale_note(runs), *config_block(path, run_dir, cfg.description),
             f"Decontamination `{cfg.decontam}` at tau {split['tau']:g}: {decontam.get('removed', 0):,} of "
             f"{decontam.get('records', 0):,} training records were similar to a benchmark problem and pruned. The "
             f"`{UNPRUNED}` arm finetunes on every record, the `{PRUNED}` arm on the rest; both train the same steps "
             "from the same start. A problem is similar when the decontamination flagged some training record as "
             "its copy (split.json); the split is the same for both arms.",
             "The paper's Table 3: phi-1 retrained on the pruned data still beat StarCoder on both the similar and "
             "the not-similar problems, so its score did not come from memorised look-alikes."]
    if not decontam.get("removed"):
        intro.append(f"**Nothing was pruned at tau {split['tau']:g}:** both arms trained on the same records, so "
                     "this run compares nothing. A lower tau, or more (or more benchmark-like) exercises, give the "
                     "experiment something to compare.")
    metrics = list(dict.fromkeys((r["model"], r["benchmark"], r["metric"]) for r in rows))
    headline = Table(["model", "benchmark", "metric", "problems", f"{UNPRUNED}", f"{PRUNED}"], [
        [model, benchmark, metric, group.replace("_", " "),
         *(_cell([r["value"] for r in rows if (r["model"], r["benchmark"], r["metric"], r["group"], r["arm"]) ==
                  (model, benchmark, metric, group, arm)], metric) for arm in (UNPRUNED, PRUNED))]
        for model, benchmark, metric in metrics for group in ("similar", "total")])
    summary = [scale_note(runs), f"{decontam.get('removed', 0):,} of {decontam.get('records', 0):,} training records "
               f"pruned at tau {split['tau']:g}.", headline, *arm_warnings(runs)]
    sections = [Section("Summary", summary), Section("What was run", intro[1:])]
    for model, benchmark, metric in metrics:
        table_rows = []
        for group in (*GROUPS, "total"):
            cells = [r for r in rows if (r["model"], r["benchmark"], r["metric"], r["group"]) == (model, benchmark, metric, group)]
            count = cells[0]["problems"] if cells else 0
            table_rows.append([group.replace("_", " "), count,
                               *(_cell([r["value"] for r in cells if r["arm"] == arm], metric) for arm in (UNPRUNED, PRUNED))])
        better = "lower is better" if metric == "held-out loss" else "higher is better"
        sections.append(Section(f"{benchmark}: {metric} of {model} ({better})", [Table(
            ["problems", "count", f"{UNPRUNED} (mean ± sd over seeds)", f"{PRUNED} (mean ± sd over seeds)"], table_rows)]))
    return sections


def _cell(values: list[float | None], metric: str) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "no problems"
    if metric == "pass@1":
        return Spread(tuple(100 * v for v in known)).text("{:.1f}") + "%"
    return Spread(tuple(known)).text("{:.4f}")
