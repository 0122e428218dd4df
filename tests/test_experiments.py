"""`textbooks experiment data-quality|pruning`: every arm trains and is scored, arms may differ only in
their data, and the pruning experiment's split is the decontamination output it read."""

from __future__ import annotations

import json
import shutil
import sysconfig
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from textbooks.benchmarks import benchmark_problems
from textbooks.data.datasets import import_jsonl
from textbooks.decontam.planted import clean_exercises
from textbooks.errors import UserError
from textbooks.experiments.data_quality import run_data_quality
from textbooks.experiments.pruning import run_pruning
from textbooks.experiments.report import experiment_path
from textbooks.experiments.stats import Spread, compare

STDLIB = Path(sysconfig.get_paths()["stdlib"])
NANO_TRAIN = {"max_steps": 2, "model": {"preset": "nano"}, "data": {"seq_len": 64},
              "batch": {"global_batch": 2, "micro_batch": 2}, "eval": {"every": 0}, "checkpoint": {"every": 0},
              "log": {"tensorboard": False, "progress_bar": False, "plot": False}}


@pytest.fixture(scope="module")
def data_dir(shared_assets) -> Path:
    return shared_assets / "benchmarks"


def tree(root: Path, package: str, files: int) -> Path:
    """A few real standard-library files as a source tree."""
    root.mkdir(parents=True)
    for source in sorted((STDLIB / package).glob("*.py"))[:files]:
        shutil.copy(source, root / source.name)
    return root


def measure(data_dir: Path, models: list[str]) -> dict:
    return {"models": models, "heldout_loss": {"benchmarks": ["humaneval", "mbpp"], "limit": 3, "progress": False,
                                               "data_dir": str(data_dir)},
            "pass_at_1": ["humaneval"],
            "eval": {"data_dir": str(data_dir), "progress": False, "settings": {"limit": 3, "max_new_tokens": 8}}}


def data_quality_config(tmp_path: Path, data_dir: Path) -> dict:
    return {
        "description": "reduced data-quality experiment",
        "seeds": [0, 1],
        "measure": measure(data_dir, ["pretrain", "finetune"]),
        "arms": {"json": {"stages.pack.inputs.datasets": ["json"]},
                 "email": {"stages.pack.inputs.datasets": ["email"]},
                 "json+email": {"stages.pack.inputs.datasets": ["json", "email:2"]}},
        "pipeline": {"stages": {
            "json": {"kind": "import", "config": {"roots": [str(tree(tmp_path / "json", "json", 3))]}},
            "email": {"kind": "import", "config": {"roots": [str(tree(tmp_path / "email", "email", 4))]}},
            "unused": {"kind": "import", "config": {"roots": [str(tmp_path / "json")]}},
            "pack": {"kind": "tokenize", "inputs": {"datasets": ["json"]}, "config": {"val_fraction": 0.2}},
            "pretrain": {"kind": "train", "base": "tiny-pretrain", "inputs": {"data": "pack"}, "config": NANO_TRAIN},
            "finetune": {"kind": "train", "base": "tiny-finetune", "inputs": {"data": "exercises-pack", "init": "pretrain"},
                         "config": NANO_TRAIN},
            "exercises-pack": {"kind": "tokenize", "inputs": {"datasets": ["email"]}, "config": {"val_fraction": 0.2}},
        }},
    }


def save(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_data_quality_trains_and_scores_every_arm_and_seed_and_shares_the_data_stages(tmp_path, data_dir):
    config = save(tmp_path / "dq.yaml", data_quality_config(tmp_path, data_dir))
    run_dir = tmp_path / "run"
    done = run_cli("experiment", "data-quality", str(config), "--run-dir", str(run_dir), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith(f"report: {run_dir / 'report.html'}")

    results = json.loads((run_dir / "results.json").read_text())
    cells = {(r["arm"], r["seed"], r["model"]): r for r in results["rows"]}
    assert set(cells) == {(arm, seed, model) for arm in ("json", "email", "json+email") for seed in (0, 1)
                          for model in ("pretrain", "finetune")}
    for row in cells.values():
        assert set(row["heldout_loss"]) == {"humaneval", "mbpp"}
        assert all(0 < loss < 20 for loss in row["heldout_loss"].values())
        assert row["pass@1"]["humaneval"]["tasks"] == 3
    # Seeds change the model, not the data: two seeds of an arm give two different losses.
    assert cells["json", 0, "pretrain"]["heldout_loss"] != cells["json", 1, "pretrain"]["heldout_loss"]
    assert cells["json", 0, "pretrain"]["heldout_loss"] != cells["json", 0, "finetune"]["heldout_loss"]
    summary = results["summary"]["held-out loss humaneval"]["json+email/pretrain"]
    assert summary["n"] == 2 and summary["sd"] is not None

    # Every data stage ran once and is shared; every (arm, seed) trained its own model.
    stages = [p.name.rsplit("-", 1)[0] for p in (run_dir / "stages").iterdir() if (p / "stage.json").is_file()]
    assert stages.count("json") == 1 and stages.count("email") == 1 and "unused" not in stages
    assert stages.count("pack") == 3 and stages.count("exercises-pack") == 1
    assert stages.count("pretrain") == 6 and stages.count("finetune") == 6
    for model in ("pretrain", "finetune"):
        assert stages.count(f"measure-{model}-loss") == 6 and stages.count(f"measure-{model}-humaneval") == 6
    assert (run_dir / "arms" / "json+email" / "seed-1" / "report.html").is_file()

    report = (run_dir / "report.md").read_text()
    table = [line for line in report.splitlines() if line.startswith("| json")]
    assert len(table) >= 3 * 2 * 2 and all("|  |" not in line for line in table), table  # every cell filled
    assert "tests the experiment's machinery, not the paper's claim" in report
    assert "inside the noise" in report or "outside the noise" in report
    for model in ("pretrain", "finetune"):
        assert (run_dir / "report-files" / f"data-quality-{model}.png").stat().st_size > 1000


def test_arms_that_differ_in_the_model_are_refused_naming_the_key(tmp_path, data_dir):
    data = data_quality_config(tmp_path, data_dir)
    data["arms"]["email"]["stages.pretrain.config.model.preset"] = "tiny"
    with pytest.raises(UserError, match=r"arm email: stages\.pretrain\.config\.model\.preset: 'tiny' here, 'nano' in "
                                        r"arm json; arms may differ only in their data"):
        run_data_quality(save(tmp_path / "dq.yaml", data), dry_run=True, echo=lambda line: None)
    data["arms"]["email"] = {"stages.pack.inputs.datasets": ["email"],
                             "stages.pretrain.config.optim.lr": 0.5}
    with pytest.raises(UserError, match=r"stages\.pretrain\.config\.optim\.lr: 0\.5 here"):
        run_data_quality(save(tmp_path / "dq.yaml", data), dry_run=True, echo=lambda line: None)


def test_arms_may_differ_in_settings_that_do_not_change_a_model(tmp_path, data_dir):
    data = data_quality_config(tmp_path, data_dir)
    data["arms"]["email"] = {"stages.pack.inputs.datasets": ["email"], "stages.pretrain.config.log.every": 7}
    assert run_data_quality(save(tmp_path / "dq.yaml", data), dry_run=True, echo=lambda line: None) is None


def test_a_dry_run_plans_every_arm_and_shares_what_is_the_same(tmp_path, data_dir):
    lines: list[str] = []
    assert run_data_quality(save(tmp_path / "dq.yaml", data_quality_config(tmp_path, data_dir)),
                            run_dir=tmp_path / "run", dry_run=True, echo=lines.append) is None
    assert "json (import) " in "\n".join(lines) and any("shared with arm json, seed 0" in line for line in lines)
    # 2 imports, 4 packs, 6 runs x (2 trains, 2 losses, 2 evals)
    assert lines[-1] == "42 stage run(s) in all; nothing is run (--dry-run)"
    assert not (tmp_path / "run").exists()


def test_config_errors_name_the_key(tmp_path, data_dir):
    data = data_quality_config(tmp_path, data_dir)
    one_arm = {**data, "arms": {"json": data["arms"]["json"]}}
    with pytest.raises(UserError, match="arms: 1 arm"):
        run_data_quality(save(tmp_path / "a.yaml", one_arm), dry_run=True)
    with pytest.raises(UserError, match=r"measure\.models: 'pack' is not a train stage of the pipeline; expected one "
                                        r"of pretrain, finetune"):
        run_data_quality(save(tmp_path / "b.yaml", {**data, "measure": measure(data_dir, ["pack"])}), dry_run=True)
    with pytest.raises(UserError, match=r"arms\.a/b: not a usable arm name"):
        run_data_quality(save(tmp_path / "c.yaml", {**data, "arms": {**data["arms"], "a/b": {}}}), dry_run=True)
    with pytest.raises(UserError, match=r"unknown key 'seed'"):
        run_data_quality(save(tmp_path / "d.yaml", {**data, "seed": 1}), dry_run=True)
    failed = run_cli("experiment", "data-quality", str(tmp_path / "missing.yaml"))
    assert failed.returncode == 2 and failed.stderr.strip().startswith("error: ")
    assert "no such experiment file or shipped experiment" in failed.stderr and "Traceback" not in failed.stderr


def test_the_shipped_configs_plan(tmp_path):
    lines: list[str] = []
    run_data_quality("data-quality-demo", run_dir=tmp_path / "dq", dry_run=True, echo=lines.append)
    assert sum("pretrain (train)" in line for line in lines) == 6  # 3 arms x 2 seeds
    run_pruning("pruning-demo", run_dir=tmp_path / "pr", dry_run=True, echo=lines.append)
    assert sum("finetune (train)" in line and "would run" in line for line in lines) == 2
    lines.clear()
    run_data_quality("data-quality-phi-1-small", run_dir=tmp_path / "dq-small", dry_run=True, echo=lines.append)
    assert sum("pretrain (train)" in line for line in lines) == 9 and "EDIT" in experiment_path("data-quality-phi-1-small").read_text()
    with pytest.raises(UserError, match=r"stages\.code\.config: roots: /data/filtered-python: directory not found"):
        run_pruning("pruning-phi-1-small", dry_run=True)
    run_pruning("pruning-phi-1-small", [f"pipeline.stages.code.config.roots=[{tree(tmp_path / 'code', 'json', 1)}]"],
                run_dir=tmp_path / "pr-small", dry_run=True, echo=lines.append)


def test_a_difference_is_inside_the_noise_only_when_it_is_under_two_standard_errors():
    base = Spread((2.00, 2.02))
    assert compare(Spread((2.01, 2.03)), base).inside_noise is True
    assert compare(Spread((1.50, 1.52)), base).inside_noise is False
    assert compare(Spread((1.5,)), Spread((2.0,))).verdict() == "noise unknown (one seed)"
    # pass@1: the benchmark's size is noise even with one seed (3 of 164 vs 5 of 164 is not a finding).
    assert compare(Spread((3 / 164,), tasks=164), Spread((5 / 164,), tasks=164)).inside_noise is True
    assert compare(Spread((0.0,), tasks=164), Spread((0.0,), tasks=164)).verdict() == "no difference"


# --- pruning ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exercises(tmp_path_factory, data_dir) -> Path:
    """Clean exercises and one verbatim copy of HumanEval/0: the decontamination must flag it."""
    root = tmp_path_factory.mktemp("exercises")
    copy = next(p for p in benchmark_problems(["humaneval"], data_dir) if p.task_id == "HumanEval/0")
    records = [*clean_exercises(8, seed=3),
               {"id": "copy-of-0", "prompt": copy.prompt, "solution": copy.solution, "text": copy.prompt + copy.solution}]
    (root / "ex.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return import_jsonl(root / "ex.jsonl", root / "exercises", "exercise").path


def pruning_config(tmp_path: Path, data_dir: Path, exercises: Path) -> dict:
    return {
        "seeds": [0], "decontam": "exercises-clean", "data": "finetune-pack", "tau": 0.9,
        "measure": measure(data_dir, ["finetune"]),
        "pipeline": {"stages": {
            "code": {"kind": "import", "config": {"roots": [str(tree(tmp_path / "code", "json", 3))]}},
            "exercises-clean": {"kind": "decontam", "inputs": {"dataset": str(exercises)},
                                "config": {"benchmarks": ["humaneval", "mbpp"], "data_dir": str(data_dir)}},
            "pretrain-pack": {"kind": "tokenize", "inputs": {"datasets": ["code"]}, "config": {"val_fraction": 0.2}},
            "finetune-pack": {"kind": "tokenize", "inputs": {"datasets": ["exercises-clean"]},
                              "config": {"val_fraction": 0.2}},
            "pretrain": {"kind": "train", "base": "tiny-pretrain", "inputs": {"data": "pretrain-pack"}, "config": NANO_TRAIN},
            "finetune": {"kind": "train", "base": "tiny-finetune", "inputs": {"data": "finetune-pack", "init": "pretrain"},
                         "config": NANO_TRAIN},
        }},
    }


@pytest.mark.slow
def test_pruning_scores_both_arms_on_the_split_the_decontamination_wrote(tmp_path, data_dir, exercises):
    config = save(tmp_path / "pr.yaml", pruning_config(tmp_path, data_dir, exercises))
    run_dir = tmp_path / "run"
    done = run_cli("experiment", "pruning", str(config), "--run-dir", str(run_dir), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    results = json.loads((run_dir / "results.json").read_text())
    decontam = Path(results["decontam"])
    assert decontam.parent == run_dir / "arms" / "unpruned" / "seed-0" / "stages"
    split = json.loads((decontam / "split.json").read_text())
    assert results["split"] == split["benchmarks"] and results["tau"] == split["tau"] == 0.9
    assert split["benchmarks"]["humaneval"]["similar"] == ["HumanEval/0"] and results["removed"] == 1
    assert len(split["benchmarks"]["humaneval"]["not_similar"]) == 163

    cells = {(r["arm"], r["metric"], r["group"]): r for r in results["results"] if r["benchmark"] == "humaneval"}
    for arm in ("unpruned", "pruned"):
        for metric in ("pass@1", "held-out loss"):
            # The eval and the loss scored HumanEval/0..2: one similar problem, two not similar.
            assert [cells[arm, metric, g]["problems"] for g in ("similar", "not_similar", "total")] == [1, 2, 3]
            assert all(cells[arm, metric, g]["value"] is not None for g in ("similar", "not_similar", "total"))
    assert cells["unpruned", "held-out loss", "similar"]["value"] != cells["pruned", "held-out loss", "similar"]["value"]

    # The unpruned arm finetuned on every exercise, the pruned one on the rest; one pretraining for both.
    packs = {p.name: json.loads((p / "stage.json").read_text()) for p in (run_dir / "stages").glob("finetune-pack-*")}
    sources = sorted(s["inputs"]["datasets"][0]["ref"] for s in packs.values())
    assert sources == sorted([str(exercises), "exercises-clean"])
    assert [p.name.rsplit("-", 1)[0] for p in (run_dir / "stages").glob("pretrain-*")].count("pretrain") == 1
    report = (run_dir / "report.md").read_text()
    assert "| similar | 1 |" in report and "| not similar | 2 |" in report and "| total | 3 |" in report


def test_pruning_stops_when_the_decontamination_output_is_missing(tmp_path, data_dir, exercises):
    data = pruning_config(tmp_path, data_dir, exercises)
    missing = tmp_path / "no-decontam-here"
    missing.mkdir()
    data["decontam"] = str(missing)
    with pytest.raises(UserError, match=r"decontam: .*no-decontam-here: no decontamination output \(summary\.json "
                                        r"missing\); expected the directory `textbooks decontam"):
        run_pruning(save(tmp_path / "a.yaml", data), dry_run=True)
    data["decontam"] = "pretrain-pack"
    with pytest.raises(UserError, match=r"decontam: 'pretrain-pack' is no decontam stage of the pipeline"):
        run_pruning(save(tmp_path / "b.yaml", data), dry_run=True)
    data["decontam"], data["data"] = "exercises-clean", "pretrain-pack"
    with pytest.raises(UserError, match=r"stages\.pretrain-pack does not read the decontam stage 'exercises-clean'"):
        run_pruning(save(tmp_path / "c.yaml", data), dry_run=True)


def test_pruning_reads_a_finished_decontamination_directory_and_checks_its_tau(tmp_path, data_dir, exercises):
    from textbooks.decontam.config import DecontamConfig
    from textbooks.decontam.pipeline import decontaminate

    out = decontaminate(exercises, tmp_path / "decontam", DecontamConfig(data_dir=data_dir), progress=False).out
    data = pruning_config(tmp_path, data_dir, exercises)
    del data["pipeline"]["stages"]["exercises-clean"]
    data["pipeline"]["stages"]["finetune-pack"]["inputs"]["datasets"] = [str(out / "pruned")]
    data["decontam"] = str(out)
    lines: list[str] = []
    run_pruning(save(tmp_path / "a.yaml", data), run_dir=tmp_path / "run", dry_run=True, echo=lines.append)
    assert sum("finetune-pack (tokenize)" in line and "would run" in line for line in lines) == 2
    data["tau"] = 0.8
    with pytest.raises(UserError, match=r"tau: 0\.8, but .* was decontaminated at tau 0\.9"):
        run_pruning(save(tmp_path / "b.yaml", data), dry_run=True)
