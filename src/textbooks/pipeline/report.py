"""`textbooks report RUN_DIR`: one page that shows what a run did, as HTML and as Markdown.

report.html is self-contained (plots inlined as base64 PNG, no script, no network); report.md
says the same with its plots in report-files/. Both are rebuilt from lineage.json and the stage
directories, so `textbooks report` works on any finished or half-finished run.

Sections: stages and wall time, the data funnel, what each kind of stage adds (diversity of
synthetic data, loss curves, pass@1 with its interval; kinds living in other modules add theirs
through SECTIONS), teacher tokens and cost.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textbooks.io import atomic_write_text, read_json, read_jsonl
from textbooks.pipeline.lineage import read_lineage

REPORT_HTML, REPORT_MD, FILES = "report.html", "report.md", "report-files"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Figure:
    name: str  # file name stem in report-files/
    caption: str
    png: bytes


Block = str | Table | Figure  # a str is a paragraph (Markdown inline code allowed)


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


# Stage kind -> what it adds to the report: fn(run_dir, name, lineage entry) -> blocks.
SECTIONS: dict[str, tuple[str, Callable[[Path, str, dict[str, Any]], list[Block]]]] = {}


def section(kind: str, title: str):
    def add(fn: Callable[[Path, str, dict[str, Any]], list[Block]]):
        SECTIONS[kind] = (title, fn)
        return fn
    return add


def write_report(run_dir: Path) -> Path:
    """Write report.html and report.md into RUN_DIR; returns the HTML's path."""
    run_dir = Path(run_dir)
    data = read_lineage(run_dir)
    sections = build_report(run_dir, data)
    title = f"textbooks run: {data['pipeline']['name']}"
    files = run_dir / FILES
    files.mkdir(exist_ok=True)
    atomic_write_text(run_dir / REPORT_MD, render_markdown(title, sections, files))
    atomic_write_text(run_dir / REPORT_HTML, render_html(title, sections))
    return run_dir / REPORT_HTML


def build_report(run_dir: Path, data: dict[str, Any]) -> list[Section]:
    from textbooks.pipeline.stages import stage_kinds

    stage_kinds()  # kinds in modules of their own register their report sections when imported
    stages = data["stages"]
    final = (data.get("final_model") or {}).get("stage")
    overview = [f"Pipeline `{data['pipeline']['path']}` (sha256 `{data['pipeline']['sha256'][:12]}`), run directory "
                f"`{data['run_dir']}`, written {data['written_at']}. Final model: `{final or 'none'}`.",
                _stage_table(stages), _wall_time_figure(stages)]
    sections = [Section("Run", overview), Section("Data funnel", _funnel(run_dir, stages))]
    for kind, (title, build) in SECTIONS.items():
        blocks = [b for name, e in stages.items() if e["kind"] == kind and e["done"]
                  for b in [f"**{name}**", *build(run_dir, name, e)]]
        if blocks:
            sections.append(Section(title, blocks))
    sections.append(Section("Teacher tokens and cost", _teacher_costs(stages)))
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


def _stage_table(stages: dict[str, Any]) -> Table:
    return Table(["stage", "kind", "key", "state", "wall time", "finished"],
                 [[n, e["kind"], e["key"][:12], "done" if e["done"] else "not run",
                   _seconds(e.get("wall_s")), e.get("finished_at", "")] for n, e in stages.items()])


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def _wall_time_figure(stages: dict[str, Any]) -> Block:
    done = [(n, e["wall_s"]) for n, e in stages.items() if e.get("wall_s") is not None]
    if not done:
        return "No stage has finished yet."
    plt, fig, ax = new_figure(height=0.35 * len(done) + 1)
    ax.barh([n for n, _ in done][::-1], [s / 60 for _, s in done][::-1], color="#4c72b0")
    ax.set_xlabel("minutes (when the stage ran; cached stages keep their first run's time)")
    return Figure("wall-time", "Wall time per stage", figure_png(plt, fig))


def _funnel(run_dir: Path, stages: dict[str, Any]) -> list[Block]:
    """Records in and kept at every dataset stage; tokens where a token pack counted them."""
    tokens_by_path: dict[str, int] = {}
    for e in stages.values():
        pack = run_dir / e["output"] / "pack.json"
        if e["produces"] == "pack" and e["done"] and pack.is_file():
            for item in read_json(pack)["inputs"]:
                tokens = item["train"]["tokens"] + item["val"]["tokens"]
                tokens_by_path[str(Path(item["path"]).resolve())] = tokens
    rows, bars = [], []
    for name, e in stages.items():
        if e["produces"] != "dataset" or not e["done"]:
            continue
        made = read_json(run_dir / e["output"] / "manifest.json")
        kept = made.get("num_rows", 0)
        synth = made.get("synth") or {}
        considered = synth.get("requests", _input_rows(stages, e) or kept)
        tokens = tokens_by_path.get(str((run_dir / e["output"]).resolve()))
        rows.append([name, e["kind"], f"{considered:,}", f"{kept:,}",
                     f"{kept / considered:.0%}" if considered else "", f"{tokens:,}" if tokens else ""])
        bars.append((name, considered, kept))
    if not rows:
        return ["No dataset finished yet."]
    table = Table(["dataset", "stage", "in (records or teacher answers)", "kept", "kept %", "tokens (packed)"], rows)
    plt, fig, ax = new_figure(height=0.45 * len(bars) + 1)
    names = [b[0] for b in bars][::-1]
    ax.barh(names, [b[1] for b in bars][::-1], color="#dddddd", label="in")
    ax.barh(names, [b[2] for b in bars][::-1], color="#55a868", label="kept")
    ax.set_xscale("log")
    ax.set_xlabel("records (log scale)")
    ax.legend(loc="lower right")
    return [table, Figure("funnel", "Data funnel: records in and kept per dataset", figure_png(plt, fig))]


def _input_rows(stages: dict[str, Any], entry: dict[str, Any]) -> int:
    return sum(stages[i["stage"]].get("summary", {}).get("rows", 0) for items in entry["inputs"].values()
               for i in items if i["stage"])


def _teacher_costs(stages: dict[str, Any]) -> list[Block]:
    rows = []
    for name, e in stages.items():
        teacher = e["config"].get("teacher") if isinstance(e["config"], dict) else None
        made = e.get("made_by") or {}
        if teacher is None or not e["done"]:
            continue
        synth_stats = _synth_stats(e)
        prompt, completion = synth_stats.get("prompt_tokens", 0), synth_stats.get("completion_tokens", 0)
        model = (made.get("config") or {}).get("model") or teacher.get("model") or "embedded"
        price = (teacher.get("prices") or {}).get(model)
        cost = f"${(prompt * price[0] + completion * price[1]) / 1e6:,.2f}" if price else "no price set (local teacher)"
        rows.append([name, model, f"{prompt:,}", f"{completion:,}", cost])
    if not rows:
        return ["No teacher stage in this run."]
    return [Table(["stage", "teacher model", "prompt tokens", "completion tokens", "cost"], rows),
            "Counts cover every answer that decided the dataset, cached ones included; cost uses `teacher.prices` "
            "(USD per million input and output tokens)."]


def _synth_stats(entry: dict[str, Any]) -> dict[str, Any]:
    return (entry.get("made_by") or {}).get("synth") or {}


# --- what each stage kind adds ---------------------------------------------------------------------

def _diversity(run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
    from textbooks.synth.diversity import diversity_report

    report = diversity_report(run_dir / entry["output"], embedder="hashing", sample=500)
    gen = report["generation"]
    rows = [["records", f"{report['rows']:,}"],
            *[[f"distinct {n}-grams", f"{v:.3f}"] for n, v in report["distinct_ngrams"].items()],
            ["mean pairwise distance (hashing embedding)", f"{report['embedding']['mean_pairwise_distance']:.3f}"],
            *[[f"{column} coverage", f"{cov['present']:,}" + (f" of {cov['total']:,}" if cov["total"] else "")]
              for column, cov in report["coverage"].items()]]
    blocks: list[Block] = [Table(["measure", "value"], rows)]
    rejected = gen.get("rejected") or {}
    if gen.get("requests"):
        plt, fig, ax = new_figure(height=0.35 * (len(rejected) + 1) + 1)
        labels = ["kept", *rejected]
        ax.barh(labels[::-1], [gen["kept"], *rejected.values()][::-1],
                color=["#c44e52"] * len(rejected) + ["#55a868"])
        ax.set_xlabel("teacher answers")
        blocks.append(Figure(f"{name}-answers", f"{name}: teacher answers kept and why the rest were rejected",
                             figure_png(plt, fig)))
    return blocks


def _loss_curves(run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
    metrics = run_dir / entry["output"] / "metrics.jsonl"
    if not metrics.is_file():
        return ["No metrics.jsonl."]
    train, val = [], []
    for _, row in read_jsonl(metrics):
        if "loss" in row:
            train.append((row["step"], row["loss"]))
        if "val_loss" in row:
            val.append((row["step"], row["val_loss"]))
    plt, fig, ax = new_figure()
    if train:
        ax.plot(*zip(*train), label="train loss")
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.legend()
    summary = entry.get("summary", {})
    text = ", ".join(f"{k} {summary[k]:.4g}" for k in ("loss", "val_loss") if isinstance(summary.get(k), float))
    return [f"{entry['config']['model']['preset']} model, {entry['config']['max_steps']:,} steps; final {text or 'n/a'}.",
            Figure(f"{name}-loss", f"{name}: loss per step", figure_png(plt, fig))]


def wilson_interval(solved: int, tasks: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a pass rate, tasks taken as coin flips. The eval's bootstrap over
    tasks collapses to a point when every task fails (or passes); this one does not. (A formula:
    not worth scipy as a dependency.)"""
    if tasks == 0:
        return 0.0, 1.0
    p = solved / tasks
    centre = (p + z * z / (2 * tasks)) / (1 + z * z / tasks)
    half = z * math.sqrt(p * (1 - p) / tasks + z * z / (4 * tasks * tasks)) / (1 + z * z / tasks)
    return max(0.0, centre - half), min(1.0, centre + half)


def _pass_at_1(run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
    summary = read_json(run_dir / entry["output"] / "summary.json")
    score = summary["scores"]["pass@1"]
    tasks, total = summary["tasks_scored"], summary["tasks_in_benchmark"]
    solved = round(score["estimate"] * tasks)
    low, high = wilson_interval(solved, tasks)
    rows = [[summary["benchmark"], f"{tasks} of {total}", f"{100 * score['estimate']:.1f}%",
             f"{100 * score['ci_low']:.1f} - {100 * score['ci_high']:.1f}%", f"{100 * low:.1f} - {100 * high:.1f}%",
             ", ".join(f"{k} {v}" for k, v in sorted(summary.get("statuses", {}).items()))]]
    meaning = (f"pass@1 is the share of tasks whose first completion passes every test: here about {solved} of "
               f"{tasks}. Counting tasks as coin flips, the true rate lies between {100 * low:.0f}% and "
               f"{100 * high:.0f}% (95%). ")
    meaning += ("At this scale the score is a smoke test of the pipeline, not a measure of the model: phi-1 "
                "(1.3B parameters, 7B tokens seen about 8 times) scores 50.6% on all 164 HumanEval tasks and "
                "phi-1-small (350M) 45%, while a model of a few million parameters trained for minutes is expected "
                "to solve almost none." if tasks < total or tasks < 100 else
                "This is the whole benchmark: comparable to published numbers of the same protocol (greedy, "
                "the same prompt format and tests).")
    plt, fig, ax = new_figure(height=1.6)
    ax.errorbar([100 * score["estimate"]], [summary["benchmark"]], fmt="o", capsize=4,
                xerr=[[100 * (score["estimate"] - low)], [100 * (high - score["estimate"])]])
    ax.set_xlim(-2, 100)
    ax.set_xlabel("pass@1 (%) with its 95% Wilson interval")
    return [Table(["benchmark", "tasks", "pass@1", "95% bootstrap over tasks", "95% Wilson", "statuses"], rows),
            meaning, Figure(f"{name}-pass1", f"{name}: pass@1 and its interval", figure_png(plt, fig))]


def _heldout_loss(run_dir: Path, name: str, entry: dict[str, Any]) -> list[Block]:
    benchmarks = entry.get("summary", {}).get("benchmarks", {})
    rows = [[bench, f"{s['tasks']:,}", f"{s['tokens']:,}", "" if s["loss"] is None else f"{s['loss']:.3f}",
             f"{s['truncated']:,}"] for bench, s in benchmarks.items()]
    return [Table(["benchmark", "tasks", "solution tokens", "loss (nats per token)", "truncated"], rows),
            "The loss of each benchmark's reference solution given its prompt: lower is better, and it moves "
            "where pass@1 is still 0."]


section("synth-textbooks", "Synthetic textbooks: diversity")(_diversity)
section("synth-exercises", "Synthetic exercises: diversity")(_diversity)
section("train", "Training: loss curves")(_loss_curves)
section("eval", "Evaluation: pass@1 per benchmark")(_pass_at_1)
section("heldout-loss", "Evaluation: held-out loss on reference solutions")(_heldout_loss)


# --- rendering ---------------------------------------------------------------------------------

def new_figure(height: float = 3.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, height))
    return plt, fig, ax


def figure_png(plt, fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def render_markdown(title: str, sections: list[Section], files: Path) -> str:
    lines = [f"# {title}", ""]
    for sec in sections:
        lines += [f"## {sec.title}", ""]
        for block in sec.blocks:
            if isinstance(block, Table):
                lines += ["| " + " | ".join(block.headers) + " |", "|" + " --- |" * len(block.headers)]
                lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in block.rows]
            elif isinstance(block, Figure):
                (files / f"{block.name}.png").write_bytes(block.png)
                lines.append(f"![{block.caption}]({FILES}/{block.name}.png)")
            else:
                lines.append(block)
            lines.append("")
    return "\n".join(lines)


STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
th{background:#f3f3f3}figure{margin:1rem 0}img{max-width:100%}code{background:#f3f3f3;padding:0 .2rem}"""


def _inline(text: str) -> str:
    """Escape, then render Markdown's `code` and **bold** (all the paragraphs use)."""
    parts = html.escape(text).split("`")
    out = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    bold = out.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(bold))


def render_html(title: str, sections: list[Section]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for sec in sections:
        body.append(f"<h2>{html.escape(sec.title)}</h2>")
        for block in sec.blocks:
            if isinstance(block, Table):
                head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
                rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                               for row in block.rows)
                body.append(f"<table><tr>{head}</tr>{rows}</table>")
            elif isinstance(block, Figure):
                data = base64.b64encode(block.png).decode()
                body.append(f'<figure><img alt="{html.escape(block.caption)}" src="data:image/png;base64,{data}">'
                            f"<figcaption>{html.escape(block.caption)}</figcaption></figure>")
            else:
                body.append(f"<p>{_inline(block)}</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
