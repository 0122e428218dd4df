"""--recheck: doubtful samples run again; a sample that passes or fails by chance is flagged."""

from __future__ import annotations

import json

import pytest

from textbooks.benchmarks import load_benchmark
from textbooks.errors import UserError
from textbooks.eval.recheck import is_doubtful, recheck
from textbooks.eval.runner import EvalSettings, evaluate

# One coin per run (check() calls the function several times), then the reference body.
COIN_FLIP = ("    import builtins, os\n"
             "    if not hasattr(builtins, 'coin'):\n"
             "        builtins.coin = os.urandom(1)[0] < 128\n"
             "    assert builtins.coin, 'tails'\n")


def result(passed: bool, duration_s: float) -> dict:
    return {"passed": passed, "duration_s": duration_s}


def test_failures_and_passes_close_to_the_time_limit_are_doubtful():
    assert is_doubtful(result(False, 0.01), timeout_s=3.0)
    assert is_doubtful(result(True, 2.5), timeout_s=3.0)  # 0.5 s left: less than 20% of 3 s
    assert not is_doubtful(result(True, 2.3), timeout_s=3.0)
    assert not is_doubtful(result(True, 0.01), timeout_s=3.0)
    assert not is_doubtful({**result(False, 0.0), "status": "extraction_failed"}, timeout_s=3.0)  # nothing ran


def test_recheck_flags_a_sample_that_passes_at_random_and_no_deterministic_one(tmp_path):
    bench = load_benchmark("novel")
    task = bench.tasks["Novel/4"]
    samples = tmp_path / "samples.jsonl"
    completions = [task.reference, "    return None\n", COIN_FLIP + task.reference, "    raise SystemExit(3)\n"]
    samples.write_text("".join(json.dumps({"task_id": task.task_id, "completion": c}) + "\n" for c in completions))
    settings = EvalSettings(limit=5, workers=2)
    out = tmp_path / "out"
    evaluate(bench, out, samples_file=samples, settings=settings, progress=False)
    results = [json.loads(line) for line in open(out / "results.jsonl")]
    # Whatever the coin said the first time, make it doubtful: the rule under test is the rerun's.
    results = [{**r, "passed": False, "status": "failed"} if r["sample"] == 2 else r for r in results]

    # 20 reruns: a fair coin gives the same side 21 times in a row once in a million.
    section = recheck(bench, results, settings, 20, out, progress=False)

    assert section["rechecked"] == 3  # the fast pass is not doubtful
    assert section["flaky"] == 1
    assert section["changed"][0]["sample"] == 2 and set(section["changed"][0]["reruns"]) == {"passed", "failed"}
    assert section["pass@1_range"] == [0.25, 0.5]
    rows = {r["sample"]: r for r in map(json.loads, open(out / "rechecks.jsonl"))}
    assert set(rows) == {1, 2, 3}
    assert not rows[1]["flaky"] and not rows[3]["flaky"] and rows[2]["flaky"]
    assert all(len(r["reruns"]) == 20 and r["runs"] == 21 for r in rows.values())
    assert all(run["cpu_time_s"] is not None for r in rows.values() for run in r["reruns"])


def test_evaluate_with_recheck_records_the_section_in_the_summary(tmp_path):
    bench = load_benchmark("novel")
    task = bench.tasks["Novel/0"]
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": task.task_id, "completion": "    return []\n"}) + "\n")
    summary = evaluate(bench, tmp_path / "out", samples_file=samples, settings=EvalSettings(limit=1, workers=1, recheck=2),
                       progress=False)
    assert summary["recheck"]["rechecked"] == 1 and summary["recheck"]["flaky"] == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["recheck"] == summary["recheck"]


def test_a_negative_recheck_count_is_a_user_error():
    with pytest.raises(UserError, match="--recheck -1"):
        EvalSettings(recheck=-1)


def test_the_sandbox_measures_cpu_time_beside_wall_time():
    from textbooks.sandbox import Sandbox

    with Sandbox(workers=1) as sandbox:
        sleeper = sandbox.run("import time\ntime.sleep(0.5)")
        spinner = sandbox.run("import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass")
        stuck = sandbox.run("while True:\n    pass", timeout_s=0.5)
    assert sleeper.duration_s >= 0.5 and sleeper.cpu_time_s < 0.1  # waiting costs no CPU
    assert 0.3 <= spinner.cpu_time_s <= spinner.duration_s + 0.05
    assert stuck.status == "timeout" and stuck.cpu_time_s is None  # killed at its wall clock: not measured
