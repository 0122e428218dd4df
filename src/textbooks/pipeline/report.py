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

from textbooks.io import atomic_write_text, read_json
from textbooks.pipeline.kinds import STAGES
from textbooks.pipeline.lineage import read_lineage
from textbooks.pipeline.render import (
    FILES,
    Block,
    Figure,
    Section,
    Table,
    figure_png,
    new_figure,
    render_html,
    render_markdown,
)

REPORT_HTML, REPORT_MD = "report.html", "report.md"


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
    stages = data["stages"]
    final = (data.get("final_model") or {}).get("stage")
    overview = [f"Pipeline `{data['pipeline']['path']}` (sha256 `{data['pipeline']['sha256'][:12]}`), run directory "
                f"`{data['run_dir']}`, written {data['written_at']}. Final model: `{final or 'none'}`.",
                _stage_table(stages), _wall_time_figure(stages)]
    sections = [Section("Run", overview), Section("Data funnel", _funnel(run_dir, stages))]
    by_title: dict[str, Section] = {}  # one section per kind, in the order the pipeline first runs it
    for name, e in stages.items():
        kind = STAGES[e["kind"]]
        if kind.report_title is None or not e["done"]:
            continue
        if kind.report_title not in by_title:
            by_title[kind.report_title] = Section(kind.report_title)
            sections.append(by_title[kind.report_title])
        by_title[kind.report_title].blocks += [f"**{name}**", *kind.report(run_dir, name, e)]
    sections.append(Section("Teacher tokens and cost", _teacher_costs(stages)))
    return sections


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
