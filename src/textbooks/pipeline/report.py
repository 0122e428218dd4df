"""`textbooks report RUN_DIR`: one page that shows what a run did, as HTML and as Markdown.

report.html is self-contained (plots inlined as base64 PNG, no script, no network); report.md
says the same with its plots in report-files/. Both are rebuilt from lineage.json and the stage
directories, so `textbooks report` works on any finished or half-finished run.

Sections: stages and wall time, the data funnel, what each kind of stage adds (its `report`, in the
order the pipeline runs them: curation, diversity of synthetic data, decontamination, loss curves,
pass@1 with its interval, held-out loss), teacher tokens and cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textbooks.io import atomic_write_json, atomic_write_text
from textbooks.pipeline.kinds import STAGES
from textbooks.pipeline.lineage import read_lineage
from textbooks.pipeline.render import (
    FILES,
    Block,
    Figure,
    Section,
    Table,
    duration,
    figure_png,
    new_figure,
    render_html,
    render_markdown,
)
from textbooks.pipeline.summary import FULL_ISOLATION, SUMMARY_JSON, run_summary

REPORT_HTML, REPORT_MD = "report.html", "report.md"


def write_report(run_dir: Path) -> Path:
    """Write report.html, report.md and summary.json into RUN_DIR; returns the HTML's path."""
    run_dir = Path(run_dir)
    data = read_lineage(run_dir)
    summary = run_summary(run_dir, data)
    sections = build_report(run_dir, data, summary)
    title = f"textbooks run: {data['pipeline']['name']}"
    files = run_dir / FILES
    files.mkdir(exist_ok=True)
    atomic_write_json(run_dir / SUMMARY_JSON, summary)
    atomic_write_text(run_dir / REPORT_MD, render_markdown(title, sections, files))
    atomic_write_text(run_dir / REPORT_HTML, render_html(title, sections))
    return run_dir / REPORT_HTML


def build_report(run_dir: Path, data: dict[str, Any], summary: dict[str, Any]) -> list[Section]:
    stages = data["stages"]
    final = (data.get("final_model") or {}).get("stage")
    overview = [f"Pipeline `{data['pipeline']['path']}` (sha256 `{data['pipeline']['sha256'][:12]}`), run directory "
                f"`{data['run_dir']}`, written {data['written_at']}. Final model: `{final or 'none'}`.",
                _stage_table(stages), _wall_time_figure(stages)]
    sections = [Section("Summary", summary_blocks(summary)), Section("Run", overview),
                Section("Data funnel", _funnel(summary))]
    by_title: dict[str, Section] = {}  # one section per kind, in the order the pipeline first runs it
    for name, e in stages.items():
        kind = STAGES[e["kind"]]
        if kind.report_title is None or not e["done"]:
            continue
        if kind.report_title not in by_title:
            by_title[kind.report_title] = Section(kind.report_title)
            sections.append(by_title[kind.report_title])
        by_title[kind.report_title].blocks += [f"**{name}**", *kind.report(run_dir, name, e)]
    sections.append(Section("Teacher tokens and cost", _teacher_costs(summary["teacher"])))
    bill = _bill(run_dir)
    if bill:
        sections.insert(1, Section("Bill, estimated before the run", bill))
    return sections


def _bill(run_dir: Path) -> list[Block]:
    """RUN_DIR/bill.json (pipeline/bill.py), written when the run started: what it was expected to cost."""
    from textbooks.pipeline.bill import bill_notes, bill_rows, read_bill

    data = read_bill(run_dir)
    if data is None:
        return []
    return [Table(*bill_rows(data)), *bill_notes(data)]


def summary_blocks(summary: dict[str, Any]) -> list[Block]:
    """The headline: the model, its scores, its data, the decontamination verdict, cost, time, warnings."""
    from textbooks.sandbox import PROMISES

    rows: list[list[Any]] = []
    model = summary["model"]
    if model:
        seen = " + ".join(f"{n} {_tokens(t)}" for n, t in model["tokens_seen"]) or "not trained here"
        size = f"{model['parameters']:,} parameters" if model["parameters"] else "parameters not recorded"
        rows.append(["final model", f"{model['stage']} ({model['preset'] or 'preset unknown'} preset, {size}); "
                                    f"tokens seen: {seen}"])
    for p in summary["pass_at_1"]:
        low, high = p["wilson_95"]
        rows.append([f"pass@1 {p['benchmark']}", f"{100 * p['pass_at_1']:.1f}% ({p['solved']} of {p['tasks']} tasks; "
                                                 f"95% interval {100 * low:.1f} - {100 * high:.1f}%)"])
    for h in summary["heldout_loss"]:
        losses = ", ".join(f"{b} {v:.3f}" for b, v in h["loss"].items() if v is not None)
        rows.append([f"held-out loss of {h['model']}", f"{losses} (nats per token of the reference solutions)"])
    if summary["data_tokens"]:
        rows.append(["data (tokens packed)", "; ".join(f"{d['dataset']} {d['tokens']:,} (into {d['pack']})"
                                                       for d in summary["data_tokens"])])
    for d in summary["decontamination"]:
        rows.append([f"decontamination ({d['stage']})", f"{d['similar_problems'] or 0:,} of {d['problems'] or 0:,} "
                     f"benchmark problems similar to the data; {d['removed'] or 0:,} of {d['records'] or 0:,} records removed"])
    usage = summary["teacher"]
    if usage:
        tokens = sum(u["tokens"] or 0 for u in usage)
        each = ", ".join(f"{u['stage']} {u['role']} {_tokens(u['tokens'])}" for u in usage)
        priced = [u["cost_usd"] for u in usage if u["cost_usd"] is not None]
        cost = _usd(sum(priced)) + ("" if len(priced) == len(usage) else " (some calls have no price set)") \
            if priced else "no price set (local teacher)"
        rows.append(["teacher", f"{tokens:,} tokens ({each}); cost {cost}"])
    rows.append(["wall time", f"{duration(summary['wall_s'])} (the stages' own times; cached stages keep their first run's)"])
    for p in summary["pass_at_1"]:
        level = p["isolation"] or "unknown"
        full = PROMISES.get(level, frozenset()) >= FULL_ISOLATION
        rows.append([f"sandbox ({p['stage']})", f"{level}" + (" (full isolation)" if full else " (weaker than full isolation)")])
    blocks: list[Block] = [Table(["headline", "this run"], rows)]
    blocks += [f"**Warning:** {line}" for line in summary["warnings"]] or ["No warnings: every checked part is above its threshold."]
    rejected = summary["rejected"]
    examples = [[r["stage"], f"`{r['path']}`", r["reason"]] for r in rejected["files"]]
    examples += [[r["stage"], _snippet(r["text"]), r["reason"]] for r in rejected["exercises"]]
    if examples:
        blocks.append(Table(["stage", "rejected file or exercise", "why"], examples))
    return blocks


def _snippet(text: str, length: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[:length] + "…"


def _stage_table(stages: dict[str, Any]) -> Table:
    return Table(["stage", "kind", "key", "state", "wall time", "finished"],
                 [[n, e["kind"], e["key"][:12], "done" if e["done"] else "not run",
                   duration(e.get("wall_s")), e.get("finished_at", "")] for n, e in stages.items()])


def _wall_time_figure(stages: dict[str, Any]) -> Block:
    done = [(n, e["wall_s"]) for n, e in stages.items() if e.get("wall_s") is not None]
    if not done:
        return "No stage has finished yet."
    plt, fig, ax = new_figure(height=0.35 * len(done) + 1)
    ax.barh([n for n, _ in done][::-1], [s / 60 for _, s in done][::-1], color="#4c72b0")
    ax.set_xlabel("minutes (when the stage ran; cached stages keep their first run's time)")
    return Figure("wall-time", "Wall time per stage", figure_png(plt, fig))


def _funnel(summary: dict[str, Any]) -> list[Block]:
    """Each dataset's own steps (curation: raw to kept; synthesis: asked to after decontamination)."""
    packed: dict[str, int] = {}
    for row in summary["data_tokens"]:
        packed[row["dataset"]] = packed.get(row["dataset"], 0) + row["tokens"]
    steps = {name: chain for name, chain in summary["funnel"].items() if chain}
    if not steps:
        return ["No dataset finished yet."]
    kinds = summary["funnel_kinds"]
    rows = [[name, kinds[name], " → ".join(f"{label} {n:,}" for label, n in chain), f"{chain[-1][1]:,}",
             f"{chain[-1][1] / chain[0][1]:.0%}" if chain[0][1] else "", f"{packed[name]:,}" if name in packed else ""]
            for name, chain in steps.items()]
    table = Table(["dataset", "stage", "steps (records, or teacher requests)", "kept", "kept % of the first step", "tokens (packed)"],
                  rows)
    plt, fig, ax = new_figure(height=0.45 * len(steps) + 1)
    names = list(steps)[::-1]
    ax.barh(names, [steps[n][0][1] for n in names], color="#dddddd", label="first step")
    ax.barh(names, [steps[n][-1][1] for n in names], color="#55a868", label="kept")
    ax.set_xscale("log")
    ax.set_xlabel("records (log scale)")
    ax.legend(loc="lower right")
    return [table, Figure("funnel", "Data funnel: each dataset's first step and what it kept", figure_png(plt, fig))]


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def _tokens(value: int | None) -> str:
    return "not recorded" if value is None else f"{value:,}"


def _teacher_costs(usage: list[dict[str, Any]]) -> list[Block]:
    if not usage:
        return ["No stage of this run called a teacher."]
    rows = [[u["stage"], u["role"], u["model"], _tokens(u["prompt_tokens"]), _tokens(u["completion_tokens"]),
             _tokens(u["tokens"]), "no price set" if u["cost_usd"] is None else _usd(u["cost_usd"])] for u in usage]
    return [Table(["stage", "call", "model", "prompt tokens", "completion tokens", "total tokens", "cost"], rows),
            "Counts cover every answer that decided the output (synthesis, curation's annotation, judges), cached ones "
            "included; cost uses `teacher.prices` (USD per million input and output tokens)."]
