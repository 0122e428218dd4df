"""Data cards and model cards in the Hugging Face layout (YAML front matter, then the sections).

Written from lineage.json at the end of every run: a data card as README.md in each dataset's
stage directory, a model card as README.md in each exported model folder; `textbooks export-hf`
writes the same model card when the model it exports is a pipeline stage.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from textbooks.data.datasets import Dataset
from textbooks.io import atomic_write_text
from textbooks.pipeline.kinds.base import DATASET, EVAL, MODEL
from textbooks.pipeline.lineage import LINEAGE, ancestors, read_lineage
from textbooks.pipeline.plan import STAGE_RECORD

CARD = "README.md"
LIMITS = ("Trained by the `textbooks` pipeline. Small models trained briefly write plausible-looking code that is "
          "often wrong; run what it writes only in a sandbox. It knows Python only, and only what its training "
          "data (listed above) shows; teacher-written data carries the teacher's mistakes and biases.")


def write_cards(run_dir: Path) -> list[Path]:
    """Every card a finished run has: one per dataset, one per exported model folder."""
    data = read_lineage(run_dir)
    written = []
    for name, entry in data["stages"].items():
        if not entry["done"]:
            continue
        if entry["produces"] == DATASET:
            text = data_card(run_dir, data, name)
        elif entry["kind"] == "export-hf":
            text = model_card(run_dir, data, name)
        else:
            continue
        path = run_dir / entry["output"] / CARD
        atomic_write_text(path, text)
        written.append(path)
    return written


def card_for_model(model: str | Path) -> str | None:
    """The model card of a pipeline's train or export stage (given by pointer, stage or checkpoint path)."""
    path = Path(model).resolve()
    for stage_dir in (path, *path.parents):
        if (stage_dir / STAGE_RECORD).is_file() and (stage_dir.parent.parent / LINEAGE).is_file():
            run_dir = stage_dir.parent.parent
            data = read_lineage(run_dir)
            names = [n for n, e in data["stages"].items() if (run_dir / e["path"]).resolve() == stage_dir]
            if names and data["stages"][names[0]]["produces"] == MODEL:
                return model_card(run_dir, data, names[0])
    return None


def _front_matter(meta: dict[str, Any]) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def data_card(run_dir: Path, data: dict[str, Any], name: str) -> str:
    entry = data["stages"][name]
    ds = Dataset.open(run_dir / entry["output"])
    made = ds.manifest
    licenses = Counter(r.get("license") or "unknown" for r in ds.iter_records(["license"])) \
        if "license" in ds.column_names else Counter()
    synth = made.get("synth")
    teacher = _teacher(entry) if synth else None
    meta = {"pretty_name": name, "license": "other", "language": ["en", "code"], "tags": ["code", "textbooks", ds.kind],
            "size_categories": [_size_category(ds.num_rows)]}
    lines = [_front_matter(meta), f"# Dataset card: {name}", "",
             f"`{ds.kind}` records written by the `{entry['kind']}` stage of the `{data['pipeline']['name']}` "
             f"pipeline (`textbooks`), fingerprint `{ds.fingerprint[:16]}`.", "",
             "## Dataset Structure", "", f"- rows: {ds.num_rows:,} in {len(ds.shards)} Parquet shard(s)",
             f"- columns: {', '.join(ds.column_names)}", "",
             "## Source Data", ""]
    sources = [i for items in entry["inputs"].values() for i in items]
    if sources:
        lines += [f"- from `{i['stage'] or i['path']}` (key `{i['key'][:12]}`)" for i in sources]
    elif entry["kind"] == "import":
        lines += [f"- local source trees: {', '.join(made.get('config', {}).get('roots', []))}"]
    if teacher:
        lines += [f"- written by the teacher `{teacher['model']}` ({teacher['where']}); its terms of use apply "
                  "to what it wrote", f"- prompt template sha256 `{made.get('config', {}).get('template_sha256', '?')}`"]
    lines += ["", "## Licenses", ""]
    lines += [f"- {lic}: {n:,} records" for lic, n in licenses.most_common()] or [
        "- synthetic: written by the teacher above; check its licence and terms" if teacher else "- not recorded"]
    lines += ["", "## Curation and Filters", ""]
    if synth:
        rejected = ", ".join(f"{k} {v:,}" for k, v in synth.get("rejected", {}).items()) or "none"
        lines += [f"- {synth.get('kept', 0):,} kept of {synth.get('requests', 0):,} teacher answers; rejected: {rejected}"]
    lines += ["", "Stage config:", "", "```yaml", yaml.safe_dump(entry["config"], sort_keys=False).rstrip(), "```",
              "", "## Decontamination", "",
              _decontam_line(data, name), ""]
    return "\n".join(lines)


def model_card(run_dir: Path, data: dict[str, Any], name: str) -> str:
    stages = data["stages"]
    upstream = ancestors(data, name)
    trains = [n for n in [*upstream, name] if stages[n]["kind"] == "train"]
    datasets = [n for n in upstream if stages[n]["produces"] == DATASET]
    evals = [n for n, e in stages.items() if e["produces"] == EVAL and e["done"]
             and _weights_of(stages, (e["inputs"].get("model") or [{}])[0].get("stage")) == _weights_of(stages, name)]
    results = []
    for n in evals:
        summary = stages[n].get("summary", {})
        score = summary.get("scores", {}).get("pass@1")
        if score:
            results.append((summary.get("benchmark", n), summary.get("tasks_scored"), score))
    meta: dict[str, Any] = {"license": "other", "library_name": "transformers", "pipeline_tag": "text-generation",
                            "tags": ["code", "phi", "textbooks"], "datasets": datasets}
    if results:
        meta["model-index"] = [{"name": name, "results": [
            {"task": {"type": "text-generation"}, "dataset": {"name": bench, "type": bench},
             "metrics": [{"type": "pass@1", "value": round(score["estimate"], 4), "name": "pass@1"}]}
            for bench, _, score in results]}]
    lines = [_front_matter(meta), f"# Model card: {name}", "",
             f"A phi-1-architecture code model from the `{data['pipeline']['name']}` pipeline of `textbooks` "
             "(\"Textbooks Are All You Need\"). Load it with `transformers.AutoModelForCausalLM.from_pretrained`.", "",
             "## Training Details", "", "### Training Data", ""]
    lines += [f"- `{n}` ({stages[n]['kind']}): {stages[n].get('summary', {}).get('rows', '?'):,} records"
              if isinstance(stages[n].get("summary", {}).get("rows"), int) else f"- `{n}` ({stages[n]['kind']})"
              for n in datasets] or ["- not recorded"]
    lines += ["", "### Training Procedure", ""]
    for n in trains:
        cfg = stages[n]["config"]
        summary = stages[n].get("summary", {})
        lines.append(f"- `{n}`: model `{cfg['model']['preset']}`, {cfg['max_steps']:,} steps of "
                     f"{cfg['batch']['global_batch']} x {cfg['data']['seq_len']} tokens, lr {cfg['optim']['lr']:g} "
                     f"({cfg['schedule']['kind']}, warmup {cfg['schedule']['warmup_steps']}), seed {cfg['seed']}"
                     + (f"; final loss {summary['loss']:.3f}" if isinstance(summary.get("loss"), float) else ""))
    lines += ["", "## Evaluation", ""]
    if results:
        lines += ["| benchmark | tasks | pass@1 | 95% interval |", "| --- | --- | --- | --- |"]
        lines += [f"| {bench} | {tasks} | {100 * s['estimate']:.1f}% | {100 * s['ci_low']:.1f} - {100 * s['ci_high']:.1f}% |"
                  for bench, tasks, s in results]
        lines += ["", "Greedy pass@1 in a sandbox; on fewer tasks than the whole benchmark the interval is wide and "
                  "the number is not comparable to published ones."]
    else:
        lines.append("- no evaluation in this run")
    lines += ["", "## Bias, Risks, and Limitations", "", LIMITS, "", "## Lineage", "",
              f"Every dataset, prompt template, teacher and config used: `{LINEAGE}` of the run "
              f"(pipeline sha256 `{data['pipeline']['sha256'][:16]}`).", ""]
    return "\n".join(lines)


def _weights_of(stages: dict[str, Any], name: str | None) -> str | None:
    """The train stage whose weights a model stage holds (an export is its input's weights)."""
    while name is not None and stages[name]["kind"] == "export-hf":
        name = stages[name]["inputs"]["model"][0]["stage"]
    return name


def _teacher(entry: dict[str, Any]) -> dict[str, str]:
    teacher = entry["config"].get("teacher", {})
    endpoints = teacher.get("endpoints") or []
    made = entry.get("made_by", {}).get("config", {})
    return {"model": made.get("model") or teacher.get("model") or "embedded SmolLM2-135M-Instruct",
            "where": ", ".join(endpoints) if endpoints else "the embedded llama.cpp server"}


def _decontam_line(data: dict[str, Any], name: str) -> str:
    checks = [n for n, e in data["stages"].items() if e["kind"] == "decontam" and name in ancestors(data, n)]
    if data["stages"][name]["kind"] == "decontam":
        summary = data["stages"][name].get("summary", {})
        return f"- this dataset is the decontaminated output: {_short(summary)}"
    if checks:
        return f"- checked by `{', '.join(checks)}`; see its card for what was removed"
    return "- not checked against benchmarks in this run"


def _short(value: Any, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _size_category(rows: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < bound:
            return label
    return "n>1M"
