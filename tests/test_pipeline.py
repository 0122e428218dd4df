"""`textbooks run`: caching by key, re-running exactly what changed, pointers, --gc/--until/--only/
--force/--dry-run, and every bad pipeline file stopped before any stage runs.

The stages here are real (dataset import, tokenize) on a small tree of Python files; the slow
tests train and run the `ci` pipeline end to end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from textbooks.errors import UserError
from textbooks.pipeline.runner import RunOptions, run_pipeline
from textbooks.pipeline.spec import load_spec, shipped_pipelines


def write_tree(root: Path, files: int = 6) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        body = "\n".join(f"    total += {j} * value  # step {j}" for j in range(i + 3))
        (root / f"module_{i}.py").write_text(f'def add_{i}(value):\n    """Sum a few multiples."""\n    total = 0\n{body}\n'
                                             f"    return total\n")
    return root


def two_branches(tmp_path: Path) -> dict:
    """code-a -> pack-a and code-b -> pack-b -> mix (both packs' datasets): independent branches."""
    return {
        "run_dir": str(tmp_path / "run"),
        "stages": {
            "code-a": {"kind": "import", "config": {"roots": [str(write_tree(tmp_path / "a"))]}},
            "code-b": {"kind": "import", "config": {"roots": [str(write_tree(tmp_path / "b", 4))]}},
            "pack-a": {"kind": "tokenize", "inputs": {"datasets": ["code-a"]}, "config": {"workers": 1, "val_fraction": 0.2}},
            "pack-b": {"kind": "tokenize", "inputs": {"datasets": ["code-b:2"]}, "config": {"workers": 1, "val_fraction": 0.2}},
            "mix": {"kind": "tokenize", "inputs": {"datasets": ["code-a", "code-b"]}, "config": {"workers": 1}},
        },
    }


def save(tmp_path: Path, data: dict, name: str = "pipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(path: Path, *overrides: str, **options):
    return run_pipeline(load_spec(path, overrides), None, RunOptions(**options), echo=lambda line: None)


def test_a_second_run_does_no_work_and_every_pointer_names_the_stage_output(tmp_path):
    path = save(tmp_path, two_branches(tmp_path))
    first = run(path)
    assert first.ran == ["code-a", "code-b", "pack-a", "pack-b", "mix"] and first.cached == []
    run_dir = tmp_path / "run"
    stamps = {p: p.stat().st_mtime_ns for p in (run_dir / "stages").rglob("*") if p.is_file()}
    second = run(path)
    assert second.ran == [] and second.cached == first.ran
    assert {p: p.stat().st_mtime_ns for p in (run_dir / "stages").rglob("*") if p.is_file() and p.name != "README.md"} \
        == {p: t for p, t in stamps.items() if p.name != "README.md"}
    for name in first.ran:
        link = run_dir / name
        record = json.loads((link / "stage.json").read_text())
        assert link.is_symlink() and link.resolve().name == f"{name}-{record['key'][:12]}"
    assert (run_dir / "pack-b" / "pack.json").is_file() and (run_dir / "code-a" / "manifest.json").is_file()


def test_a_config_change_reruns_that_stage_and_its_downstream_only_and_keeps_the_old_output(tmp_path):
    path = save(tmp_path, two_branches(tmp_path))
    run(path)
    old_pack_b = (tmp_path / "run" / "pack-b").resolve()
    changed = run(path, "stages.code-b.config.pattern=module_[0-2].py")
    assert changed.ran == ["code-b", "pack-b", "mix"]
    assert changed.cached == ["code-a", "pack-a"]
    assert old_pack_b.is_dir() and (tmp_path / "run" / "pack-b").resolve() != old_pack_b
    # Pacing keys are not part of a stage's key: more workers re-run nothing.
    assert run(path, "stages.code-b.config.pattern=module_[0-2].py", "stages.mix.config.workers=2").ran == []


def test_an_edited_source_file_reruns_its_import_and_what_follows(tmp_path):
    path = save(tmp_path, two_branches(tmp_path))
    run(path)
    time.sleep(0.01)
    (tmp_path / "a" / "module_0.py").write_text("def edited():\n    return 1\n")
    assert run(path).ran == ["code-a", "pack-a", "mix"]


def test_gc_removes_only_outputs_no_pointer_and_no_stage_uses(tmp_path):
    path = save(tmp_path, two_branches(tmp_path))
    run(path)
    old = (tmp_path / "run" / "code-b").resolve()
    result = run(path, "stages.code-b.config.pattern=module_1.py", gc=True)
    assert old in result.removed and not old.exists()
    assert all((tmp_path / "run" / name).resolve().is_dir() for name in ("code-a", "code-b", "pack-a", "pack-b", "mix"))


def test_until_runs_a_stage_and_what_it_needs(tmp_path):
    result = run(save(tmp_path, two_branches(tmp_path)), until="pack-a")
    assert result.ran == ["code-a", "pack-a"]
    assert not (tmp_path / "run" / "code-b").exists()


def test_only_runs_one_stage_whose_inputs_are_done_and_refuses_otherwise(tmp_path):
    path = save(tmp_path, two_branches(tmp_path))
    with pytest.raises(UserError, match="--only pack-a: its input stage 'code-a' has not run"):
        run(path, only="pack-a")
    run(path, until="code-a")
    assert run(path, only="pack-a").ran == ["pack-a"]


def test_force_reruns_a_stage_and_its_downstream_moving_old_outputs_aside(tmp_path):
    path = save(tmp_path, two_branches(tmp_path))
    run(path)
    result = run(path, force=["code-b"])
    assert result.ran == ["code-b", "pack-b", "mix"] and result.cached == ["code-a", "pack-a"]
    aside = [p.name for p in (tmp_path / "run" / "stages").iterdir() if ".replaced-" in p.name]
    assert len(aside) == 3 and all(name.startswith(("code-b-", "pack-b-", "mix-")) for name in aside)


def test_dry_run_says_what_would_run_and_runs_nothing(tmp_path):
    path = save(tmp_path, two_branches(tmp_path))
    run(path, until="code-a")
    lines: list[str] = []
    run_pipeline(load_spec(path), None, RunOptions(dry_run=True), echo=lines.append)
    text = "\n".join(lines)
    assert "code-a (import)" in text and ": cached" in text.split("code-a")[1].splitlines()[0]
    assert "pack-a (tokenize)" in text and "would run" in text.split("pack-a")[1].splitlines()[0]
    assert not (tmp_path / "run" / "pack-a").exists()


def test_lineage_report_and_data_cards_are_written_at_the_end_of_a_run(tmp_path):
    path = save(tmp_path, two_branches(tmp_path))
    result = run(path)
    run_dir = tmp_path / "run"
    lineage = json.loads((run_dir / "lineage.json").read_text())
    assert lineage["stages"]["mix"]["inputs"]["datasets"][1]["key"] == lineage["stages"]["code-b"]["key"]
    assert lineage["stages"]["code-a"]["made_by"]["fingerprint"] == json.loads(
        (run_dir / "code-a" / "manifest.json").read_text())["fingerprint"]
    page = result.report.read_text()
    assert result.report == run_dir / "report.html" and "Data funnel" in page
    assert "<img" in page and 'src="http' not in page and page.count('src="data:image/png;base64,') == page.count("<img")
    card = (run_dir / "code-a" / "README.md").read_text()
    assert card.startswith("---\n") and "# Dataset card: code-a" in card and "rows: 6" in card


def test_a_dataset_given_by_path_is_keyed_by_its_manifest_fingerprint(tmp_path):
    first = two_branches(tmp_path)
    run(save(tmp_path, first))
    dataset = (tmp_path / "run" / "code-a").resolve()
    data = {"run_dir": str(tmp_path / "run2"),
            "stages": {"pack": {"kind": "tokenize", "inputs": {"datasets": [str(dataset)]}, "config": {"workers": 1}}}}
    result = run(save(tmp_path, data, "second.yaml"))
    assert result.ran == ["pack"]
    inputs = json.loads((tmp_path / "run2" / "pack" / "stage.json").read_text())["inputs"]["datasets"]
    assert inputs[0]["key"] == json.loads((dataset / "manifest.json").read_text())["fingerprint"]


# --- bad pipeline files: one error naming the file and the key, before any stage runs ---------

BAD = {
    "unknown top-level key": (lambda d: d.update(stagez={}), "stagez: unknown key"),
    "unknown stage kind": (lambda d: d["stages"]["code-a"].update(kind="curate-all"), "stages.code-a.kind: unknown stage kind 'curate-all'"),
    "unknown stage key": (lambda d: d["stages"]["pack-a"].update(input={}), "stages.pack-a.input: unknown key"),
    "unknown config key": (lambda d: d["stages"]["pack-a"]["config"].update(val_fracton=0.1), "stages.pack-a.config: unknown key 'val_fracton'"),
    "wrong config type": (lambda d: d["stages"]["pack-a"]["config"].update(seed="seven"), "stages.pack-a.config: seed: expected int"),
    "missing kind": (lambda d: d["stages"]["code-a"].pop("kind"), "stages.code-a.kind: missing"),
    "missing input": (lambda d: d["stages"]["pack-a"].pop("inputs"), "stages.pack-a.inputs.datasets: missing"),
    "a cycle": (lambda d: d["stages"].update(x={"kind": "tokenize", "inputs": {"datasets": ["y"]}},
                                             y={"kind": "tokenize", "inputs": {"datasets": ["x"]}}), "a cycle"),
    "an input naming nothing": (lambda d: d["stages"]["pack-a"].update(inputs={"datasets": ["cod-a"]}),
                                "stages.pack-a.inputs.datasets: 'cod-a' names no stage"),
    "a path that is no dataset": (lambda d: d["stages"]["pack-a"].update(inputs={"datasets": ["./nowhere/data"]}),
                                  "stages.pack-a.inputs.datasets: './nowhere/data' names no stage and no existing dataset"),
    "an input of the wrong kind": (lambda d: d["stages"]["mix"].update(inputs={"datasets": ["pack-a"]}),
                                   "stages.mix.inputs.datasets: 'pack-a' is a pack; expected a dataset"),
    "a pipeline-owned key": (lambda d: d["stages"]["pack-a"]["config"].update(out="x"), "stages.pack-a.config.out: set by the pipeline"),
    "a missing source tree": (lambda d: d["stages"]["code-a"]["config"].update(roots=["/no/such/tree"]), "stages.code-a.config: roots: /no/such/tree: directory not found"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_pipeline_file_is_one_error_naming_file_and_key_before_anything_runs(tmp_path, case):
    data = two_branches(tmp_path)
    mutate, message = BAD[case]
    mutate(data)
    path = save(tmp_path, data)
    with pytest.raises(UserError) as err:
        run(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value), str(err.value)
    assert not (tmp_path / "run").exists()


def test_an_unreachable_teacher_endpoint_stops_the_run_before_any_stage(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = two_branches(tmp_path)
    data["teacher"] = {"endpoints": [f"http://127.0.0.1:{port}/v1"], "model": "m"}
    data["stages"]["book"] = {"kind": "synth-textbooks", "config": {"num": 1}}
    path = save(tmp_path, data)
    with pytest.raises(UserError, match=r"stages\.book\.config\.teacher\.endpoints: .*127\.0\.0\.1") as err:
        run(path)
    assert str(err.value).startswith(str(path))
    assert not (tmp_path / "run").exists()


def test_an_unreachable_judge_given_in_the_old_flat_keys_stops_the_run_before_any_stage(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = two_branches(tmp_path)
    data["stages"]["clean"] = {"kind": "decontam", "inputs": {"dataset": "code-a"},
                               "config": {"judge_endpoint": f"http://127.0.0.1:{port}/v1", "judge_model": "m"}}
    path = save(tmp_path, data)
    with pytest.raises(UserError, match=r"stages\.clean\.config\.judge\.endpoints: .*127\.0\.0\.1"):
        run(path)
    assert not (tmp_path / "run").exists()


def test_the_cli_prints_one_line_and_exits_2_on_a_bad_file(tmp_path):
    data = two_branches(tmp_path)
    data["stages"]["pack-a"]["inputs"] = {"datasets": ["nothing"]}
    result = run_cli("run", str(save(tmp_path, data)))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "stages.pack-a.inputs.datasets" in result.stderr


def test_every_shipped_pipeline_parses_and_names_its_edit_points(tmp_path):
    assert {"demo", "ci", "phi-1-small", "phi-1"} <= set(shipped_pipelines())
    for name in ("demo", "ci"):
        plan = run_pipeline(load_spec(name), tmp_path / name, RunOptions(dry_run=True), echo=lambda line: None).plan
        assert "humaneval" in plan.stages and plan.stages["finetune"].inputs["init"][0].stage == "pretrain"
    for name in ("phi-1-small", "phi-1"):  # their endpoints are placeholders to edit: nothing starts
        with pytest.raises(UserError, match=r"stages\.code\.config\.teacher\.endpoints: .*http://vllm-0:8000/v1"):
            run_pipeline(load_spec(name), tmp_path / name, RunOptions(dry_run=True))


# --- training stages: the launcher, a kill mid-stage -------------------------------------------

def train_pipeline(tmp_path: Path, steps: int) -> dict:
    data = two_branches(tmp_path)
    data["stages"]["model"] = {
        "kind": "train", "base": "tiny-pretrain", "inputs": {"data": "pack-a"},
        "config": {"max_steps": steps, "model": {"preset": "nano"}, "data": {"seq_len": 32},
                   "checkpoint": {"every": 2}, "eval": {"every": 0},
                   "log": {"tensorboard": False, "progress_bar": False, "plot": False}},
    }
    return data


@pytest.mark.slow
def test_a_pipeline_killed_mid_training_resumes_from_the_checkpoint_and_skips_finished_stages(tmp_path):
    path = save(tmp_path, train_pipeline(tmp_path, steps=12))
    command = [sys.executable, "-m", "textbooks", "run", str(path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    run_dir = tmp_path / "run"
    try:
        deadline = time.monotonic() + 240
        while not list(run_dir.glob("stages/model-*/checkpoints/step-0000004*")) and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the runner and its training process
        process.wait()
    assert not list(run_dir.glob("stages/model-*/stage.json")), "killed before the stage finished"
    resumed = run_cli("run", str(path))
    assert resumed.returncode == 0, resumed.stderr
    assert "model (train): running" in resumed.stdout and "code-a (import): cached" in resumed.stdout
    # The training process prints to the stage's log, appended to by the killed run and the resumed one.
    assert "resuming from" in (run_dir / "logs" / "model.log").read_text() and "resuming from" not in resumed.stdout
    steps = [json.loads(line)["step"] for line in (run_dir / "model" / "metrics.jsonl").read_text().splitlines()
             if "loss" in json.loads(line)]
    assert steps[-1] == 12 and steps.count(1) == 1, "the resumed run continued instead of starting over"
    assert resumed.stdout.strip().splitlines()[-1] == f"report: {run_dir / 'report.html'}"


@pytest.mark.slow
def test_train_stages_start_through_the_launcher_prefix(tmp_path):
    data = train_pipeline(tmp_path, steps=2)
    log = tmp_path / "launched.txt"
    # A user's prefix (like `srun ...`) is run with the training command after it.
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text(f'#!/bin/sh\necho "$@" > {log}\nexec "$@"\n')
    wrapper.chmod(0o755)
    data["launcher"] = {"prefix": str(wrapper)}
    result = run(save(tmp_path, data), until="model")
    assert result.ran[-1] == "model"
    assert "-m textbooks train --config" in log.read_text() and "--data" in log.read_text()


def test_textbooks_report_rebuilds_the_page_and_cards_from_the_run_directory(tmp_path):
    run(save(tmp_path, two_branches(tmp_path)))
    run_dir = tmp_path / "run"
    (run_dir / "report.html").unlink()
    (run_dir / "code-b" / "README.md").unlink()
    result = run_cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"report: {run_dir / 'report.html'}"
    assert "Data funnel" in (run_dir / "report.html").read_text() and (run_dir / "code-b" / "README.md").is_file()
    markdown = (run_dir / "report.md").read_text()
    assert "| code-b | import |" in markdown and "](report-files/funnel.png)" in markdown


def test_the_pass_rate_interval_does_not_collapse_when_every_task_fails():
    from textbooks.pipeline.kinds.evaluate import wilson_interval

    low, high = wilson_interval(0, 2)  # 0 of 2 solved says little: the rate could well be 65%
    assert low == 0.0 and high == pytest.approx(0.6576, abs=1e-4)
    low, high = wilson_interval(82, 164)  # phi-1's scale: about +-7.6 points around 50%
    assert (low, high) == (pytest.approx(0.4240, abs=1e-3), pytest.approx(0.5760, abs=1e-3))


def test_a_stage_that_fails_is_named_and_what_finished_before_it_is_kept(tmp_path):
    data = two_branches(tmp_path)
    data["stages"]["pack-a"]["config"]["tokenizer"] = str(tmp_path / "no-tokenizer.json")
    path = save(tmp_path, data)
    with pytest.raises(UserError, match=r"stage pack-a \(tokenize\): .*no-tokenizer\.json.*next run resumes"):
        run(path)
    assert (tmp_path / "run" / "code-a" / "stage.json").is_file()


def test_starting_a_run_or_an_experiment_leaves_torch_unimported():
    # torch's import takes seconds: a pipeline without a train stage never needs it, and the
    # training processes import their own.
    code = ("import sys\nfrom textbooks.pipeline.runner import run_pipeline\nfrom textbooks.pipeline.cli import register\n"
            "from textbooks.experiments.data_quality import run_data_quality\nfrom textbooks.experiments.pruning import run_pruning\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
