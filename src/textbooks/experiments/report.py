"""What both experiments' reports share: the files they load, the scale note, a plot of arms, writing.

The pages are built from the pipeline report's blocks (tables, figures, paragraphs) and rendered the
same way: RUN_DIR/report.html (self-contained) and RUN_DIR/report.md with its plots in report-files/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from textbooks.config import apply_override, from_dict, read_yaml, shipped_or_path
from textbooks.experiments.arms import ArmRun
from textbooks.experiments.stats import Spread
from textbooks.io import atomic_write_text
from textbooks.pipeline.render import FILES, Block, Figure, Section, figure_png, render_html, render_markdown
from textbooks.pipeline.report import REPORT_HTML, REPORT_MD

T = TypeVar("T")
DEMO_PRESETS = ("nano", "tiny")  # models of a few million parameters: minutes on a CPU


def experiment_path(name_or_path: str | Path) -> Path:
    """An experiment YAML as given, or a shipped one (`data-quality-demo`, `pruning-demo`, ...)."""
    return shipped_or_path(name_or_path, "experiments", "experiment file or shipped experiment")


def load_experiment(cls: type[T], name_or_path: str | Path, overrides: Sequence[str] = ()) -> tuple[T, Path]:
    """The typed experiment config of a file (or a shipped one), `key=value` overrides applied."""
    path = experiment_path(name_or_path)
    data = read_yaml(path)
    for item in overrides:
        apply_override(data, item)
    return from_dict(cls, data, where=str(path)), path


def scale_note(runs: Sequence[ArmRun]) -> str:
    """What this run can show, from the model presets it trained."""
    presets = sorted({getattr(p.config.model, "preset", "?") for r in runs for p in r.plan.stages.values()
                      if p.stage.kind == "train"})
    if presets and all(p in DEMO_PRESETS for p in presets):
        return (f"**Scale: demo.** The models here ({', '.join(presets)} preset) have a few million parameters and "
                "train for minutes on a CPU: this run tests the experiment's machinery, not the paper's claim. "
                "Read the numbers as what they are: at this size pass@1 is 0 or close to it for every arm, and the "
                "held-out loss is the signal that moves. The paper's claim is tested at its scale (the shipped "
                "phi-1-small configs: 350M parameters, billions of tokens, a GPU cluster).")
    return (f"**Scale:** {', '.join(presets)} preset. The paper's comparisons were made with 350M (phi-1-small) "
            "and 1.3B (phi-1) models trained on billions of tokens; differences inside the noise below are not "
            "evidence either way.")


def arms_figure(name: str, caption: str, panels: Mapping[str, Mapping[str, Spread]]) -> Figure:
    """One panel per metric: each arm's mean as a bar, its seeds as dots, its spread as an error bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1, 3.2), squeeze=False)
    for ax, (metric, by_arm) in zip(axes[0], panels.items()):
        arms = list(by_arm)
        means = [by_arm[a].mean for a in arms]
        errors = [by_arm[a].sd or 0.0 for a in arms]
        ax.bar(range(len(arms)), means, yerr=errors, capsize=4, color="#4c72b0", alpha=0.75)
        for x, arm in enumerate(arms):
            ax.scatter([x] * by_arm[arm].n, by_arm[arm].values, color="#222", s=12, zorder=3)
        ax.set_xticks(range(len(arms)), arms, rotation=20, ha="right")
        ax.set_title(metric, fontsize=9)
    return Figure(name, caption, figure_png(plt, fig))


def write_experiment_report(run_dir: Path, title: str, sections: list[Section]) -> Path:
    """RUN_DIR/report.md (plots in report-files/) and RUN_DIR/report.html; returns the HTML's path."""
    files = run_dir / FILES
    files.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / REPORT_MD, render_markdown(title, sections, files))
    atomic_write_text(run_dir / REPORT_HTML, render_html(title, sections))
    return run_dir / REPORT_HTML


def arm_warnings(runs: Sequence[ArmRun]) -> list[Block]:
    """The warnings of every arm's run (its summary.json), each once, with the arms it came from."""
    from textbooks.io import read_json
    from textbooks.pipeline.summary import SUMMARY_JSON

    seen: dict[str, list[str]] = {}
    for run in runs:
        found = run.run_dir / SUMMARY_JSON
        for line in read_json(found)["warnings"] if found.is_file() else []:
            arms = seen.setdefault(line, [])
            if run.arm not in arms:
                arms.append(run.arm)
    if not seen:
        return ["No warnings in the arms' runs."]
    return [f"**Warning:** {line} (arm{'s' if len(arms) > 1 else ''} {', '.join(arms)})" for line, arms in seen.items()]


def config_block(path: Path, run_dir: Path, description: str) -> list[Block]:
    lines: list[Block] = []
    if description:
        lines.append(description)
    lines.append(f"Config `{path}`; run directory `{run_dir}`: each arm and seed is a pipeline run under "
                 "`arms/ARM/seed-S/` with its own report.html; `results.json` holds every number below.")
    return lines


def pack_tokens(run: ArmRun, train_stage: str) -> int | None:
    """Unique tokens (train split) of the token pack a train stage reads, when a stage of the run made it."""
    data = run.plan.stages[train_stage].inputs.get("data") or []
    if not data or data[0].stage is None:
        return None
    tokens = run.record(data[0].stage).get("summary", {}).get("tokens", {})
    return tokens.get("train") if isinstance(tokens, dict) else None

