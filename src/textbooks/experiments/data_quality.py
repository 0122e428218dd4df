"""`textbooks experiment data-quality CONFIG`: the paper's Figure 2.1, quality beats quantity.

The same model preset, token budget and seeds trained on different data, e.g. (a) unfiltered code,
(b) curated code, (c) curated code + synthetic textbooks; each measured by held-out loss on the
benchmarks' reference solutions and by pass@1, over the seeds (mean and spread), side by side:

    pipeline: {...}                  # the stages every arm shares (or a pipeline file's name)
    seeds: [0, 1]
    measure: {models: [pretrain, finetune], heldout_loss: {}, pass_at_1: [humaneval]}
    arms:                            # dotted changes to the pipeline; only data may differ
      unfiltered:        {stages.pretrain-pack.inputs.datasets: [code-unfiltered]}
      curated:           {stages.pretrain-pack.inputs.datasets: [code]}
      curated+textbooks: {stages.pretrain-pack.inputs.datasets: ["code:1", "textbooks:2"]}

The phi-1 paper's numbers (350M model, HumanEval pass@1): 12.19% on unfiltered Stack code,
17.68% on filtered code, 20.12% with synthetic textbooks added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textbooks.config import output, pacing, to_dict
from textbooks.errors import UserError
from textbooks.experiments.arms import (
    Arm,
    ArmRun,
    MeasureConfig,
    arm_specs,
    base_pipeline,
    check_arm_names,
    check_only_data_differs,
    describe_runs,
    measure_stage,
    plan_runs,
    run_arms,
    with_run_dir,
)
from textbooks.experiments.report import (
    arm_warnings,
    arms_figure,
    config_block,
    load_experiment,
    pack_tokens,
    scale_note,
    write_experiment_report,
)
from textbooks.experiments.stats import Spread, compare
from textbooks.io import atomic_write_json
from textbooks.pipeline.render import Section, Table

PAPER = ("phi-1 paper, Figure 2.1 (350M model, HumanEval pass@1): unfiltered Stack 12.19%, filtered Stack 17.68%, "
         "filtered Stack + synthetic textbooks 20.12%; finetuned on CodeExercises: 29%, 41%, 45%.")


@dataclass
class DataQualityConfig:
    pipeline: str | dict[str, Any] = output()  # a pipeline file, a shipped pipeline's name, or the pipeline itself
    arms: dict[str, dict[str, Any]] = output()  # arm name -> dotted changes to the pipeline (first arm: the baseline)
    description: str = pacing("")
    run_dir: Path | None = pacing(None)  # default runs/experiments/NAME; `--run-dir` wins
    seeds: list[int] = output(default_factory=lambda: [0])
    measure: MeasureConfig = output(default_factory=MeasureConfig)


@dataclass
class Metric:
    """One column of the results: a held-out loss or a pass@1 on one benchmark."""

    name: str  # "held-out loss humaneval", "pass@1 humaneval"
    lower_is_better: bool
    values: dict[tuple[str, str], Spread]  # (arm, model) -> over seeds


def run_data_quality(config_file: str | Path, overrides: Sequence[str] = (), run_dir: Path | None = None,
                     dry_run: bool = False, echo: Callable[[str], None] = print) -> Path | None:
    """Plan (and unless `dry_run`, run) every arm and seed; write results.json and the report."""
    cfg, path = load_experiment(DataQualityConfig, config_file, overrides)
    where = str(path)
    if len(cfg.arms) < 2:
        raise UserError(f"{where}: arms: {len(cfg.arms)} arm(s); expected two or more to compare")
    check_arm_names(cfg.arms, f"{where}: arms")
    pipeline, pipeline_file, pipeline_where = base_pipeline(cfg.pipeline, path)
    arms = [Arm(name, dict(changes or {})) for name, changes in cfg.arms.items()]
    run_dir = with_run_dir(cfg.run_dir, run_dir, path)
    specs = arm_specs(where, pipeline, pipeline_file, pipeline_where, arms, cfg.seeds, cfg.measure)
    runs = plan_runs(specs, run_dir)
    check_only_data_differs(runs, where)
    if dry_run:
        describe_runs(runs, echo)
        return None
    run_arms(runs, run_dir, echo)
    rows = [row for run in runs for row in measured_rows(run, cfg.measure)]
    metrics = summarize(rows, cfg.measure)
    atomic_write_json(run_dir / "results.json", {
        "experiment": "data-quality", "config": str(path), "config_data": to_dict(cfg), "seeds": cfg.seeds,
        "arms": list(cfg.arms), "rows": rows,
        "summary": {m.name: {f"{arm}/{model}": {"mean": s.mean, "sd": s.sd, "n": s.n, "values": list(s.values)}
                             for (arm, model), s in m.values.items()} for m in metrics}})
    return write_experiment_report(run_dir, "textbooks experiment: data quality",
                                   report_sections(cfg, path, run_dir, runs, rows, metrics))


def measured_rows(run: ArmRun, measure: MeasureConfig) -> list[dict[str, Any]]:
    """One row per measured model of one run: its held-out losses and pass@1 per benchmark."""
    rows = []
    for model in measure.models:
        row: dict[str, Any] = {"arm": run.arm, "seed": run.seed, "model": model, "run_dir": str(run.run_dir),
                               "heldout_loss": {}, "pass@1": {}}
        if measure.heldout_loss is not None:
            benchmarks = run.record(measure_stage(model, "loss"))["summary"]["benchmarks"]
            row["heldout_loss"] = {name: s["loss"] for name, s in benchmarks.items()}
        for benchmark in measure.pass_at_1:
            summary = run.record(measure_stage(model, benchmark))["summary"]
            row["pass@1"][benchmark] = {"estimate": summary["scores"]["pass@1"]["estimate"],
                                        "tasks": summary["tasks_scored"]}
        rows.append(row)
    return rows


def summarize(rows: list[dict[str, Any]], measure: MeasureConfig) -> list[Metric]:
    keys = list(dict.fromkeys((r["arm"], r["model"]) for r in rows))
    metrics: list[Metric] = []
    loss_names = list(dict.fromkeys(b for r in rows for b in r["heldout_loss"]))
    for benchmark in loss_names:
        metrics.append(Metric(f"held-out loss {benchmark}", True, {
            key: Spread(tuple(r["heldout_loss"][benchmark] for r in rows if (r["arm"], r["model"]) == key))
            for key in keys}))
    for benchmark in measure.pass_at_1:
        metrics.append(Metric(f"pass@1 {benchmark}", False, {
            key: Spread(tuple(r["pass@1"][benchmark]["estimate"] for r in rows if (r["arm"], r["model"]) == key),
                        tasks=min(r["pass@1"][benchmark]["tasks"] for r in rows if (r["arm"], r["model"]) == key))
            for key in keys}))
    return metrics


def report_sections(cfg: DataQualityConfig, path: Path, run_dir: Path, runs: list[ArmRun],
                    rows: list[dict[str, Any]], metrics: list[Metric]) -> list[Section]:
    arms, models = list(cfg.arms), cfg.measure.models
    baseline = arms[0]
    intro = [scale_note(runs), *config_block(path, run_dir, cfg.description),
             f"Seeds {', '.join(map(str, cfg.seeds))}: each is given to every train stage; the data stages do not "
             "depend on it, so every seed of an arm trains on the same data. Every arm trains the same preset for "
             "the same steps, batch and sequence length (checked before anything runs), so the same number of "
             "tokens: an arm with less data repeats it more.", PAPER]
    trains = [n for n, p in runs[0].plan.stages.items() if p.stage.kind == "train"]
    first_runs = {r.arm: r for r in runs if r.seed == cfg.seeds[0]}
    budget = {n: _tokens_seen(runs[0], n) for n in trains}
    data_table = Table(["arm", "changes to the pipeline", *(f"{n}: unique tokens (budget {budget[n]:,})" for n in trains)],
                       [[arm, "; ".join(f"{k} = {v}" for k, v in cfg.arms[arm].items()) or "(none)",
                         *(_count(pack_tokens(first_runs[arm], n)) for n in trains)] for arm in arms])
    result_table = Table(["arm", "model", *(m.name + (" (lower is better)" if m.lower_is_better else "") for m in metrics),
                          "seeds"],
                         [[arm, model, *(_metric_text(m, (arm, model)) for m in metrics), len(cfg.seeds)]
                          for model in models for arm in arms])
    compared = [(arm, model, m, compare(m.values[arm, model], m.values[baseline, model]))
                for model in models for m in metrics for arm in arms[1:]]
    comparisons = Table(["arm", "model", "metric", f"difference from {baseline}", "verdict"],
                        [[arm, model, m.name, _signed(m, c.difference), c.verdict()] for arm, model, m, c in compared])
    per_seed = Table(["arm", "seed", "model", *(m.name for m in metrics)], [
        [r["arm"], r["seed"], r["model"], *[f"{v:.4f}" for v in r["heldout_loss"].values()],
         *[f"{100 * v['estimate']:.1f}%" for v in r["pass@1"].values()]] for r in rows])
    figures = [arms_figure(f"data-quality-{model}", f"{model}: each arm's mean over seeds (bars), its seeds (dots) "
                           "and their standard deviation", {m.name: {arm: m.values[arm, model] for arm in arms}
                                                             for m in metrics}) for model in models]
    # The headline names only what stands out of the noise; every comparison is in its own section.
    outside = [(arm, model, m, c) for arm, model, m, c in compared
               if c.difference != 0 and (c.noise is None or not c.inside_noise)]
    verdicts = [f"**{arm}** vs {baseline}, {model}, {m.name}: {_signed(m, c.difference)} ({c.verdict()})"
                for arm, model, m, c in outside]
    verdicts.append(f"{len(compared) - len(outside)} of {len(compared)} differences from {baseline} are inside the "
                    "noise or zero (every one is listed below).")
    summary = [scale_note(runs), "Results (mean ± standard deviation over seeds):", result_table, *verdicts,
               *arm_warnings(runs)]
    return [Section("Summary", summary), Section("What was run", intro[1:]), Section("Data of each arm", [data_table]),
            Section("Results: each arm's seeds", figures),
            Section(f"Differences from the baseline arm ({baseline})", [
                comparisons, "Inside the noise: the difference is smaller than two standard errors of the difference "
                "(the spread over seeds and, for pass@1, the benchmark's finite size). It is not evidence either way."]),
            Section("Every run", [per_seed])]


def _tokens_seen(run: ArmRun, train_stage: str) -> int:
    config = run.plan.stages[train_stage].config
    return config.max_steps * config.batch.global_batch * config.data.seq_len


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _metric_text(metric: Metric, key: tuple[str, str]) -> str:
    spread = metric.values[key]
    if metric.lower_is_better:
        return spread.text("{:.4f}")
    pct = Spread(tuple(100 * v for v in spread.values))
    return pct.text("{:.1f}") + "%"


def _signed(metric: Metric, difference: float) -> str:
    return f"{difference:+.4f}" if metric.lower_is_better else f"{100 * difference:+.1f} points"
