"""The headline of a run, from lineage.json and the stage directories: RUN_DIR/summary.json.

What a reader deciding whether to trust the run looks for first: the final model, its pass@1 and
held-out loss, the data it saw (tokens per source, each dataset's own funnel), the decontamination
verdict, what every teacher call cost (synthesis, annotation, judges), the wall time, the sandbox
level of the eval, and warnings where a part is weak, each with its number and a remedy. The
report shows it on top; the runner prints the warnings as its last lines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from textbooks.io import read_json
from textbooks.sandbox import GUARANTEED, PROMISES

SUMMARY_JSON = "summary.json"
CURATE_STEPS = (("raw", "raw"), ("clean", "clean"), ("dedup", "dedup"), ("annotated", "rated"), ("filtered", "kept"))
REJECTED_SHOWN = 3  # rejected files and exercises shown with their reasons
# Thresholds of the warnings (issue 22): below them a part of the run is weak enough to say so.
MIN_ROC_AUC, MIN_F1 = 0.75, 0.5
MAX_ONE_SCORE_SHARE = 0.6
MIN_EXERCISE_YIELD = 0.3
MIN_TEACHER_PARAMETERS = 7e9
# What `auto` tries first: the isolation every weaker level is measured against.
FULL_ISOLATION = PROMISES[GUARANTEED[-1]]


def run_summary(run_dir: Path, data: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers and the warnings (JSON-ready)."""
    stages = data["stages"]
    summary = {
        "pipeline": data["pipeline"]["name"], "run_dir": data["run_dir"], "written_at": data["written_at"],
        "model": final_model(stages, (data.get("final_model") or {}).get("stage")),
        "pass_at_1": pass_at_1(run_dir, stages),
        "heldout_loss": heldout_losses(stages),
        "data_tokens": data_tokens(run_dir, stages),
        "funnel": funnel(stages),
        "funnel_kinds": {name: e["kind"] for name, e in stages.items() if e["produces"] == "dataset"},
        "decontamination": decontamination(stages),
        "teacher": teacher_usage(run_dir, stages),
        "wall_s": round(sum(e.get("wall_s") or 0 for e in stages.values()), 1),
        "curation": curation(stages),
        "exercise_yield": exercise_yield(stages),
        "rejected": rejected_examples(run_dir, stages),
    }
    summary["warnings"] = warnings(summary)
    return summary


def _done(stages: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, e) for name, e in stages.items() if e["kind"] == kind and e["done"]]


def _upstream_of(stages: dict[str, Any], name: str | None, kind: str) -> str | None:
    """The nearest stage of `kind` that `name` reads, following the model inputs back."""
    while name is not None:
        if stages[name]["kind"] == kind:
            return name
        refs = [i["stage"] for items in stages[name]["inputs"].values() for i in items if i["stage"]]
        name = next((r for r in refs if stages[r]["produces"] == "model"), None)
    return None


def final_model(stages: dict[str, Any], final: str | None) -> dict[str, Any] | None:
    """The last model of the pipeline: its preset, parameters and the tokens each training stage fed it."""
    if final is None:
        return None
    chain, name = [], _upstream_of(stages, final, "train")
    while name is not None:
        chain.append(name)
        init = stages[name]["inputs"].get("init") or []
        name = _upstream_of(stages, init[0]["stage"], "train") if init and init[0]["stage"] else None
    last = stages[chain[0]] if chain else {}
    exported = stages[final].get("summary", {}) if stages[final]["kind"] == "export-hf" else {}
    return {"stage": final, "done": stages[final]["done"],
            "preset": ((last.get("config") or {}).get("model") or {}).get("preset"),
            "parameters": exported.get("parameters"),
            "tokens_seen": [[n, stages[n].get("summary", {}).get("tokens")] for n in reversed(chain)]}  # training order


def pass_at_1(run_dir: Path, stages: dict[str, Any]) -> list[dict[str, Any]]:
    from textbooks.pipeline.kinds.evaluate import wilson_interval

    found = []
    for name, e in _done(stages, "eval"):
        s = read_json(run_dir / e["output"] / "summary.json")
        estimate, tasks = s["scores"]["pass@1"]["estimate"], s["tasks_scored"]
        low, high = wilson_interval(round(estimate * tasks), tasks)
        found.append({"stage": name, "benchmark": s["benchmark"], "pass_at_1": estimate, "solved": round(estimate * tasks),
                      "tasks": tasks, "tasks_in_benchmark": s["tasks_in_benchmark"], "wilson_95": [low, high],
                      "isolation": s.get("isolation"), "judge_tokens": (s.get("judge") or {}).get("tokens")})
    return found


def heldout_losses(stages: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"stage": name, "model": e["inputs"]["model"][0]["ref"],
             "loss": {bench: s["loss"] for bench, s in e.get("summary", {}).get("benchmarks", {}).items()}}
            for name, e in _done(stages, "heldout-loss")]


def data_tokens(run_dir: Path, stages: dict[str, Any]) -> list[dict[str, Any]]:
    """Tokens each dataset put into each token pack (train and validation)."""
    dataset_of = {str((run_dir / e["output"]).resolve()): name for name, e in stages.items() if e["produces"] == "dataset"}
    rows = []
    for name, e in _done(stages, "tokenize"):
        pack = run_dir / e["output"] / "pack.json"
        for item in read_json(pack)["inputs"] if pack.is_file() else []:
            source = dataset_of.get(str(Path(item["path"]).resolve()), item["path"])
            rows.append({"pack": name, "dataset": source, "tokens": item["train"]["tokens"] + item["val"]["tokens"]})
    return rows


def funnel(stages: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """Each dataset's own steps, [label, records] in order: curation's five, synthesis' four, the rest in/kept."""
    cleaned_by = {i["stage"]: e.get("summary", {}).get("rows") for _, e in _done(stages, "decontam")
                  for i in e["inputs"]["dataset"] if i["stage"]}
    steps: dict[str, list[list[Any]]] = {}
    for name, e in stages.items():
        if e["produces"] != "dataset" or not e["done"]:
            continue
        summary = e.get("summary", {})
        if e["kind"] == "curate":
            counted = summary.get("steps", {})  # lineage.json sorts keys: the order comes from CURATE_STEPS
            steps[name] = [[label, counted[step]] for step, label in CURATE_STEPS if step in counted]
        elif e["kind"].startswith("synth-"):
            synth = (e.get("made_by") or {}).get("synth") or {}
            rejected = synth.get("rejected") or {}
            duplicates = sum(v for k, v in rejected.items() if k.endswith("_duplicate"))
            answered = synth.get("requests", 0) - rejected.get("teacher_failed", 0)
            steps[name] = [["asked", synth.get("requests", 0)], ["answered", answered],
                           ["valid", synth.get("kept", 0) + duplicates], ["kept", synth.get("kept", 0)]]
            if name in cleaned_by:
                steps[name].append(["after decontamination", cleaned_by[name]])
        elif e["kind"] == "decontam":
            steps[name] = [["in", summary.get("records", 0)], ["kept", summary.get("rows", 0)]]
        else:
            steps[name] = [["kept", summary.get("rows", (e.get("made_by") or {}).get("num_rows", 0))]]
    return steps


def decontamination(stages: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"stage": name, **{k: e.get("summary", {}).get(k) for k in ("records", "removed", "problems", "similar_problems", "tau")}}
            for name, e in _done(stages, "decontam")]


def teacher_usage(run_dir: Path, stages: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stage that called a teacher or a judge: tokens (cached answers included) and cost at `teacher.prices`."""
    rows = []
    for name, e in stages.items():
        if not e["done"]:
            continue
        config = e["config"] if isinstance(e["config"], dict) else {}
        teacher = config.get("teacher") or {}
        if e["kind"].startswith("synth-"):
            synth = (e.get("made_by") or {}).get("synth") or {}
            model = ((e.get("made_by") or {}).get("config") or {}).get("model") or teacher.get("model")
            rows.append(_usage(name, "synthesis", model, teacher, synth.get("prompt_tokens", 0), synth.get("completion_tokens", 0)))
        elif e["kind"] == "curate":
            annotation = e.get("summary", {}).get("annotation") or {}
            if annotation.get("requests"):
                rows.append(_usage(name, "annotation", _annotation_model(run_dir, e) or teacher.get("model"), teacher,
                                   annotation.get("prompt_tokens"), annotation.get("completion_tokens")))
        elif e["kind"] == "decontam" and config.get("judge"):
            judge = config["judge"]
            tokens = read_json(run_dir / e["path"] / "summary.json").get("judge_tokens") or {}
            rows.append(_usage(name, "judge", judge.get("model"), judge, tokens.get("prompt_tokens"),
                               tokens.get("completion_tokens")))
        elif e["kind"] == "eval" and config.get("judge") is not None:
            judge = config["judge"]
            judged = (read_json(run_dir / e["output"] / "summary.json").get("judge") or {}).get("tokens")
            rows.append({**_usage(name, "judge", judge.get("model") or "embedded", judge, None, None), "tokens": judged})
    return rows


def _annotation_model(run_dir: Path, entry: dict[str, Any]) -> str | None:
    """The model the annotated files name (the embedded teacher's alias when the config names none)."""
    manifest = run_dir / entry["path"] / "annotated" / "manifest.json"
    return ((read_json(manifest).get("config") or {}).get("model")) if manifest.is_file() else None


def _usage(name: str, role: str, model: str | None, teacher: dict[str, Any], prompt: int | None,
           completion: int | None) -> dict[str, Any]:
    price = (teacher.get("prices") or {}).get(model or "")
    cost = (prompt * price[0] + completion * price[1]) / 1e6 if price and prompt is not None and completion is not None else None
    tokens = prompt + completion if prompt is not None and completion is not None else None
    return {"stage": name, "role": role, "model": model or "embedded", "prompt_tokens": prompt,
            "completion_tokens": completion, "tokens": tokens, "cost_usd": cost}


def curation(stages: dict[str, Any]) -> list[dict[str, Any]]:
    """Per curate stage: the chosen classifier head's held-out metrics and the rating histogram."""
    found = []
    for name, e in _done(stages, "curate"):
        summary = e.get("summary", {})
        head = ((e["config"] or {}).get("classify") or {}).get("model")
        metrics = (summary.get("classifier") or {}).get(head) or {}
        found.append({"stage": name, "classifier": head, "roc_auc": metrics.get("roc_auc"), "f1": metrics.get("f1"),
                      "histogram": (summary.get("annotation") or {}).get("histogram") or {}})
    return found


def exercise_yield(stages: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for name, e in _done(stages, "synth-exercises"):
        synth = (e.get("made_by") or {}).get("synth") or {}
        if synth.get("requests"):
            found.append({"stage": name, "kept": synth.get("kept", 0), "requests": synth["requests"]})
    return found


def rejected_examples(run_dir: Path, stages: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A few files the classifier left out and exercises the checks rejected, with the reason."""
    files, exercises = [], []
    for name, e in _done(stages, "curate"):
        report = run_dir / e["path"] / "report.json"
        if report.is_file():
            ends = read_json(report)
            keep_from = ends.get("keep_from_quality")
            files += [{"stage": name, "path": x["path"], "reason": f"quality {x['quality']:.3f} below the keep line "
                       f"{keep_from:.3f}"} for x in ends.get("bottom", []) if keep_from is not None and x["quality"] < keep_from]
    for name, e in _done(stages, "synth-exercises"):
        synth = (e.get("made_by") or {}).get("synth") or {}
        exercises += [{"stage": name, **x} for x in synth.get("rejected_examples") or []]
    return {"files": files[:REJECTED_SHOWN], "exercises": exercises[:REJECTED_SHOWN]}


# --- warnings ----------------------------------------------------------------------------------

def teacher_parameters(model: str) -> float | None:
    """Parameters a model's name states (`SmolLM2-135M-Instruct`, `Qwen2.5-Coder-32B`), or None."""
    found = re.findall(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", model.lower())
    if not found:
        return None
    number, unit = found[-1]
    return float(number) * (1e6 if unit == "m" else 1e9)


def warnings(summary: dict[str, Any]) -> list[str]:
    """One line per weak part of the run, each with its number and what to do about it."""
    found = []
    for c in summary.get("curation", []):
        auc, f1 = c.get("roc_auc"), c.get("f1")
        if (auc is not None and auc < MIN_ROC_AUC) or (f1 is not None and f1 < MIN_F1):
            found.append(f"{c['stage']}: the quality classifier ({c['classifier']}) is weak on held-out files: ROC-AUC "
                         f"{auc:.2f}, F1 {f1:.2f} (want >= {MIN_ROC_AUC}, >= {MIN_F1}); rate more files "
                         "(annotate.sample), use a stronger teacher, or try the other head (classify.model)")
        histogram = c.get("histogram") or {}
        rated = sum(histogram.values())
        if rated:
            score, top = max(histogram.items(), key=lambda kv: kv[1])
            if top / rated > MAX_ONE_SCORE_SHARE:
                found.append(f"{c['stage']}: the teacher gave {top} of {rated} rated files a {score} ({top / rated:.0%}); "
                             "its ratings barely separate files: use a stronger teacher")
    for y in summary.get("exercise_yield", []):
        if y["kept"] / y["requests"] < MIN_EXERCISE_YIELD:
            found.append(f"{y['stage']}: {y['kept']} of {y['requests']} exercises kept ({y['kept'] / y['requests']:.0%}, "
                         f"want >= {MIN_EXERCISE_YIELD:.0%}); see why in the report's rejection chart; a stronger "
                         "teacher or structured output keeps more")
    for model in sorted({t["model"] for t in summary.get("teacher", []) if t["role"] != "judge"}):
        size = teacher_parameters(model)
        if size is None:
            found.append(f"teacher {model}: its size is unknown (no parameter count in its name); the paper's "
                         "teachers were GPT-3.5 and GPT-4: check that it is a strong model")
        elif size < MIN_TEACHER_PARAMETERS:
            stated = f"{size / 1e6:g}M" if size < 1e9 else f"{size / 1e9:g}B"
            found.append(f"teacher {model}: {stated} parameters (under 7B): expect weak ratings and exercises; "
                         "point teacher.endpoints at a larger model")
    zero = [p for p in summary.get("pass_at_1", []) if p["solved"] == 0]
    if zero:
        losses = ", ".join(h["stage"] for h in summary.get("heldout_loss", []))
        found.append("pass@1 is 0 (" + "; ".join(f"{p['stage']}: 0 of {p['tasks']} {p['benchmark']} tasks" for p in zero)
                     + "): read the held-out loss" + (f" ({losses})" if losses else "; add a heldout-loss stage")
                     + ", the number that moves at this size")
    for p in summary.get("pass_at_1", []):
        level = p.get("isolation")
        if level and not PROMISES.get(level, frozenset()) >= FULL_ISOLATION:
            found.append(f"{p['stage']}: the sandbox ran at level {level}, weaker than full isolation "
                         f"({' or '.join(GUARANTEED)}): install bubblewrap or allow user namespaces before "
                         "scoring untrusted models")
    return found
