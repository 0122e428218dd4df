"""`textbooks decontam`: planted copies of benchmark problems are found, clean data is kept, and the
outputs (matches, split, pruned dataset, report) say so exactly."""

from __future__ import annotations

import json
import random
import re

import pyarrow.parquet as pq
import pytest

from conftest import run_cli
from decontam_judge import StandInJudge
from textbooks.benchmarks import PROBLEM_SETS, benchmark_problems
from textbooks.config import from_dict
from textbooks.data.datasets import Dataset, import_jsonl
from textbooks.decontam import pipeline
from textbooks.decontam.ast_match import match_rate, normalise, units
from textbooks.decontam.behaviour import PASSED, behaviour_program, passes, problem_tests
from textbooks.decontam.calibrate import calibrate
from textbooks.decontam.config import PAPER_TAUS, DecontamConfig
from textbooks.decontam.judge import read_verdict
from textbooks.decontam.planted import clean_exercises, plant, planted_set, renamed
from textbooks.decontam.report import flags
from textbooks.errors import UserError
from textbooks.sandbox import Sandbox
from textbooks.teacher import TeacherConfig


@pytest.fixture(scope="module")
def data_dir(shared_assets):
    return shared_assets / "benchmarks"


@pytest.fixture(scope="module")
def problems(data_dir):
    return benchmark_problems(data_dir=data_dir)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def first_line_only(prompt):
    """`prompt` with its docstring cut to its first line."""
    head, quotes, rest = prompt.partition('"""')
    first, _, tail = rest.partition("\n")
    return head + quotes + first + "\n    " + quotes + tail.partition('"""')[2]


@pytest.fixture(scope="module")
def planted(tmp_path_factory, data_dir, problems):
    """300 clean exercises and 4 plants of each kind, as a dataset, decontaminated in chunks of 100."""
    root = tmp_path_factory.mktemp("planted")
    records, kinds = planted_set([p for p in problems if p.benchmark in ("humaneval", "mbpp")], clean=300, per_kind=4, seed=1)
    # Near misses: a HumanEval signature and the first line of its docstring (not most of the problem's
    # statement, which the statement tier would flag) over an unrelated body: a candidate, AST well below 1.
    bodies = clean_exercises(3, seed=2)
    records += [{"id": f"near-{i}", "prompt": first_line_only(p.prompt), "solution": b["solution"],
                 "text": first_line_only(p.prompt) + b["solution"]}
                for i, (p, b) in enumerate(zip([problems[11], problems[12], problems[17]], bodies))]
    dataset = import_jsonl(write_jsonl(root / "planted.jsonl", records), root / "exercises", "exercise")
    result = pipeline.decontaminate(dataset.path, root / "out", DecontamConfig(data_dir=data_dir, chunk_size=100), progress=False)
    return dataset, kinds, result


def test_benchmark_problems_are_every_task_of_every_set_with_unix_line_endings(problems):
    counts = {name: sum(p.benchmark == name for p in problems) for name in PROBLEM_SETS}
    assert counts == {"humaneval": 164, "humaneval+": 164, "mbpp": 974, "mbpp-sanitized": 427, "mbpp+": 378, "novel": 50}
    assert not [p.task_id for p in problems if "\r" in p.prompt + p.solution]
    assert all(p.text.startswith(p.prompt) and p.solution in p.text for p in problems)


def test_an_unknown_benchmark_is_a_user_error_naming_the_choices(data_dir):
    with pytest.raises(UserError, match="'humaneval-x': unknown; expected one of humaneval, humaneval\\+"):
        benchmark_problems(["humaneval-x"], data_dir)


def test_renamed_and_reformatted_copies_score_one_and_unrelated_code_less():
    program = 'def add_all(xs: list) -> int:\n    """Sum."""\n    total = 0\n    for x in xs:\n        total += x * 2\n    return total\n'
    copy = renamed(program, random.Random(0))
    assert copy != program and match_rate(normalise(copy), normalise(program)) == 1.0
    reformatted = "def add_all(xs:list)->int:\n  'Add them up, a different docstring.'\n  total=0\n  for x in xs: total+=x*2\n  return total"
    assert match_rate(normalise(reformatted), normalise(program)) == 1.0
    other = "def f(s):\n    return ''.join(reversed(s.split(',')))\n"
    assert match_rate(normalise(other), normalise(program)) < 0.6


def test_a_program_pasted_into_a_longer_file_is_matched_by_its_own_statements():
    program = "import re\nPATTERN = 'a+'\ndef helper(s):\n    return re.findall(PATTERN, s)\ndef count(s):\n    return len(helper(s))\n"
    longer = "import os\n\ndef other(x):\n    return os.path.join(x, 'y')\n\n" + program + "\nprint(count('aaa'))\n"
    assert match_rate(normalise(longer), normalise(program)) < 0.9
    assert max(match_rate(unit, normalise(program)) for unit in units(longer)) == 1.0


def test_code_that_does_not_parse_is_compared_as_text():
    broken = normalise("def f(:\n    return 1")
    assert not broken.parsed and broken.text == "def f(: return 1"
    assert match_rate(broken, normalise("def f(:\n  return 1")) == 1.0
    assert [u.parsed for u in units("import os\n\ndef g():\n    pass\n\nclass C:\n    pass\n")] == [True, True, True]


def test_default_tau_flags_at_most_one_percent_of_unrelated_humaneval_pairs(data_dir):
    calibration = calibrate(data_dir)
    assert len(calibration.rates) == 164 * 163 // 2
    tau = DecontamConfig().tau
    assert calibration.share_at_or_above(tau) <= 0.01
    assert calibration.share_at_or_above(tau, similar_length_only=True) <= 0.01
    shares = [calibration.share_at_or_above(t) for t in sorted(PAPER_TAUS)]
    assert shares == sorted(shares, reverse=True) and shares[0] > shares[-1]


def test_every_planted_copy_is_flagged_and_no_clean_exercise_is(planted):
    _, kinds, result = planted
    matches = pq.read_table(result.out / "matches.parquet").to_pandas()
    flagged = set(matches.loc[matches.flagged, "record_id"])
    assert flagged == set(kinds)
    # Each plant is flagged for the problem it was made from (copies in HumanEval+/MBPP+ too).
    for record_id, kind in kinds.items():
        benchmark, task_id = record_id.split("-", 3)[3].rsplit("-", 1)
        mine = matches[(matches.record_id == record_id) & (matches.benchmark == benchmark) & (matches.task_id == task_id)]
        assert len(mine) == 1 and mine.flagged.all(), (record_id, kind)
        if kind == "renamed":
            assert mine.ast_match.iloc[0] >= 0.95


def test_thresholds_are_monotone(planted):
    matches = pq.read_table(planted[2].out / "matches.parquet")
    ids = matches["record_id"].to_pylist()
    flagged_at = {tau: {i for i, f in zip(ids, flags(matches, tau)) if f} for tau in (0.01, 0.5, *sorted(PAPER_TAUS), 1.0)}
    taus = sorted(flagged_at)
    assert all(flagged_at[high] <= flagged_at[low] for low, high in zip(taus, taus[1:]))
    assert {"near-0", "near-1", "near-2"} <= flagged_at[0.01] - flagged_at[0.8]


def test_the_pruned_dataset_is_the_input_minus_exactly_the_flagged_ids(planted):
    dataset, kinds, result = planted
    pruned = Dataset.open(result.pruned)
    kept = [r["id"] for r in pruned.iter_records()]
    assert kept == [r["id"] for r in dataset.iter_records() if r["id"] not in kinds]
    assert pruned.manifest["removed_ids"] == sorted(kinds)
    assert pruned.kind == "exercise" and pruned.manifest["inputs"][0]["fingerprint"] == dataset.fingerprint


def test_split_and_report_name_the_similar_problems(planted, problems):
    _, kinds, result = planted
    split = json.loads((result.out / "split.json").read_text())
    planted_problems = {tuple(i.split("-", 3)[3].rsplit("-", 1)) for i in kinds}
    for name in PROBLEM_SETS:
        entry = split["benchmarks"][name]
        assert sorted(entry["similar"] + entry["not_similar"]) == sorted(p.task_id for p in problems if p.benchmark == name)
    similar = {(name, t) for name, entry in split["benchmarks"].items() for t in entry["similar"]}
    assert planted_problems <= similar
    report = (result.out / "report.md").read_text()
    assert "| 0.95 |" in report and "| 0.8 |" in report and f"{len(kinds)} records removed" in report


class Killed(Exception):
    """Stands for the process dying mid-run."""


def test_a_rerun_is_a_no_op_and_a_killed_run_resumes_to_the_same_files(tmp_path, data_dir, monkeypatch):
    records = clean_exercises(40, seed=3) + [plant(p, "renamed", random.Random(0), 0) for p in benchmark_problems(["humaneval"], data_dir)[:2]]
    source = write_jsonl(tmp_path / "ex.jsonl", records)
    config = DecontamConfig(data_dir=data_dir, chunk_size=10, benchmarks=["humaneval"])
    fresh = pipeline.decontaminate(source, tmp_path / "fresh", config, progress=False)

    calls, crash_at = [], {20}
    real_score = pipeline.Scorer.score

    def score_or_die(self, batch, offset):
        calls.append(offset)
        if offset in crash_at:
            raise Killed
        return real_score(self, batch, offset)

    monkeypatch.setattr(pipeline.Scorer, "score", score_or_die)
    with pytest.raises(Killed):
        pipeline.decontaminate(source, tmp_path / "out", config, progress=False)
    assert not (tmp_path / "out").exists()
    calls.clear()
    crash_at.clear()
    resumed = pipeline.decontaminate(source, tmp_path / "out", config, progress=False)
    assert calls == [20, 30, 40]  # chunks 0 and 1 were kept
    for name in ("matches.parquet", "split.json", "report.md"):
        assert (resumed.out / name).read_bytes() == (fresh.out / name).read_bytes(), name
    assert [r for r in Dataset.open(resumed.pruned).iter_records()] == [r for r in Dataset.open(fresh.pruned).iter_records()]
    assert resumed.summary["removed"] == 2
    again = pipeline.decontaminate(source, tmp_path / "out", config, progress=False)
    assert again.already_done


def test_the_judge_flags_a_rephrasing_the_other_tiers_miss_and_its_answers_are_cached(tmp_path, data_dir):
    problem = benchmark_problems(["humaneval"], data_dir)[0]
    # Same problem, reworded, solved another way: the AST tier is below tau, the embedding finds it;
    # the statement is reworded whole (the statement tier flags a copied one) and the behaviour tier,
    # which would flag this correct solution, is off: the judge is the tier under test.
    signature = problem.prompt.split('"""')[0]
    rephrased = (signature + '"""REPHRASED: tell whether two entries of the list lie nearer to one another than the limit."""\n'
                 "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n")
    records = [{"id": "rephrased", "prompt": rephrased, "solution": "", "text": rephrased}, *clean_exercises(20, seed=4)]
    source = write_jsonl(tmp_path / "ex.jsonl", records)
    with StandInJudge() as judge_server:
        config = DecontamConfig(data_dir=data_dir, benchmarks=["humaneval"], min_cosine=0.3, neighbours=10, behaviour=False,
                                judge=TeacherConfig([judge_server.url], judge_server.model))
        result = pipeline.decontaminate(source, tmp_path / "out", config, progress=False)
        asked = len(judge_server.hits)
        matches = pq.read_table(result.out / "matches.parquet").to_pandas()
        mine = matches[(matches.record_id == "rephrased") & (matches.task_id == "HumanEval/0")].iloc[0]
        assert mine.ast_match < config.tau and mine.judge and mine.flagged
        assert not matches[matches.record_id != "rephrased"].judge.fillna(False).any()
        assert set(matches.loc[matches.flagged, "record_id"]) == {"rephrased"}
        assert asked >= 2 and "rephrased" in result.summary["judge"]
        # Another tau: new verdicts, the same questions, all answered from the cache.
        pipeline.decontaminate(source, tmp_path / "out", DecontamConfig(**{**config.__dict__, "tau": 0.95}), progress=False)
        assert len(judge_server.hits) == asked


def test_records_without_code_and_code_that_does_not_parse_are_counted(tmp_path, data_dir):
    records = [{"id": "prose", "text": "A section about loops, with no code at all."},
               {"id": "fenced", "text": "Look:\n```python\ndef f(:\n    return 1\n```\n"}]
    dataset = import_jsonl(write_jsonl(tmp_path / "tb.jsonl", records), tmp_path / "textbooks", "textbook")
    config = DecontamConfig(data_dir=data_dir, benchmarks=["mbpp"], min_cosine=0.0, neighbours=1)
    result = pipeline.decontaminate(dataset.path, tmp_path / "out", config, progress=False)
    assert result.summary["records_without_code"] == 1
    assert result.summary["ast_records"] == 1 and result.summary["ast_records_unparsed"] == 1
    assert "records without code (no AST tier): 1" in (result.out / "report.md").read_text()


def test_an_empty_dataset_is_a_clear_error(tmp_path, data_dir):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(UserError, match="empty.jsonl: empty dataset"):
        pipeline.decontaminate(empty, tmp_path / "out", DecontamConfig(data_dir=data_dir), progress=False)


@pytest.mark.slow
def test_cli_decontaminates_a_jsonl_file_and_rejects_an_unknown_benchmark_in_one_line(tmp_path, data_dir):
    source = write_jsonl(tmp_path / "ex.jsonl", clean_exercises(5, seed=5))
    bad = run_cli("decontam", "--input", str(source), "--out", str(tmp_path / "bad"), "--benchmarks", "humaneval,gsm8k",
                  "--data-dir", str(data_dir))
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: benchmark 'gsm8k': unknown; expected one of humaneval, humaneval+, mbpp, mbpp-sanitized, mbpp+, novel"]
    config = tmp_path / "decontam.yaml"
    config.write_text("tau: 0.8\nembedder: none\n")
    good = run_cli("decontam", "--input", str(source), "--out", str(tmp_path / "out"), "--benchmarks", "humaneval",
                   "--data-dir", str(data_dir), "--config", str(config), "code_ngram=20")
    assert good.returncode == 0, good.stderr
    assert "0 of 5 records flagged at tau 0.8" in good.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["records"] == 5 and (tmp_path / "out" / "pruned" / "manifest.json").is_file()


@pytest.mark.slow
def test_synth_exercises_decontaminate_keeps_the_pruned_dataset_and_report_beside_it(tmp_path, data_dir):
    from synth_fake_teacher import FakeTeacher

    with FakeTeacher() as teacher:
        result = run_cli("synth", "exercises", "--endpoint", teacher.url, "--model", "fake", "--num", "12",
                         "--decontaminate", "--out", str(tmp_path / "ex"), env={"TEXTBOOKS_BENCHMARK_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr
    written = Dataset.open(tmp_path / "ex")
    pruned = Dataset.open(tmp_path / "ex.decontam" / "pruned")
    assert pruned.num_rows == written.num_rows - len(pruned.manifest["removed_ids"])
    assert (tmp_path / "ex.decontam" / "report.md").is_file()
    assert "records flagged at tau 0.9" in result.stdout.splitlines()[-1]


@pytest.mark.parametrize(("answer", "verdict"), [("True", True), ("**Yes**.", True), ("false", False), ("No, different.", False),
                                                 ("Maybe", None), ("", None)])
def test_the_judge_answer_is_read_from_its_first_word(answer, verdict):
    assert read_verdict(answer) is verdict


def test_the_judges_flat_keys_of_old_are_read_as_its_endpoint_section():
    old = from_dict(DecontamConfig, {"judge_endpoint": "http://h:8000/v1", "judge_model": "m", "api_key_env": "KEY",
                                     "judge_max_tokens_total": 500, "judge_top": 7})
    assert old.judge == TeacherConfig(["http://h:8000/v1"], "m", api_key_env="KEY", max_tokens_total=500)
    assert old.judge_top == 7
    assert from_dict(DecontamConfig, {"judge_model": "m", "api_key_env": "KEY"}).judge is None  # no endpoint: no judge
    # The command's flags (flat keys) win over the section of a --config file.
    section = {"judge": {"endpoints": ["http://file/v1"], "model": "m", "api_key_env": "FILE_KEY"}}
    flagged = from_dict(DecontamConfig, {**section, "judge_endpoint": "http://flag/v1", "api_key_env": "FLAG_KEY"})
    assert flagged.judge == TeacherConfig(["http://flag/v1"], "m", api_key_env="FLAG_KEY")
    with pytest.raises(UserError, match="judge.model: required"):
        from_dict(DecontamConfig, {"judge": {"endpoints": ["http://h/v1"]}})
    with pytest.raises(UserError, match="judge.endpoints: empty"):
        from_dict(DecontamConfig, {"judge": {"model": "m"}})


def test_scores_are_reused_across_tau_and_judge_and_verdicts_follow_only_output_settings():
    base = DecontamConfig()
    judged = DecontamConfig(tau=0.8, judge_top=5, judge=TeacherConfig(["http://h/v1"], "m"))
    assert judged.scoring() == base.scoring() and judged.verdicts() != base.verdicts()
    # Where the files are, the judge's server and key: the same verdicts.
    moved = DecontamConfig(tau=0.8, judge_top=5, data_dir="/elsewhere", input="/in", out="/out",
                           judge=TeacherConfig(["http://other/v1"], "m", api_key_env="K", max_in_flight=3))
    assert moved.verdicts() == judged.verdicts()
    # Another judge model, another verdict; another n-gram size, other scores; another chunk size,
    # another layout of the saved chunks.
    assert DecontamConfig(tau=0.8, judge_top=5, judge=TeacherConfig(["http://h/v1"], "n")).verdicts() != judged.verdicts()
    assert DecontamConfig(code_ngram=16).scoring() != base.scoring()
    assert DecontamConfig(chunk_size=10).scoring() != base.scoring()


def test_a_copied_problem_statement_is_flagged_whatever_the_solution_and_clean_exercises_are_not(tmp_path, data_dir):
    """Issue 24, finding 5: HumanEval/10-19's prompts verbatim, each solved by evalplus's reference (not
    HumanEval's), among 40 clean exercises: all ten flagged at the default tau by the statement tier,
    which report.md and matches.parquet show as a tier of its own."""
    plus = {p.task_id: p for p in benchmark_problems(["humaneval+"], data_dir)}
    copies = [{"id": f"copied-{n}", "prompt": plus[f"HumanEval/{n}"].prompt, "solution": plus[f"HumanEval/{n}"].solution,
               "text": plus[f"HumanEval/{n}"].prompt + plus[f"HumanEval/{n}"].solution} for n in range(10, 20)]
    records = copies + clean_exercises(40, seed=5)
    random.Random(0).shuffle(records)
    config = DecontamConfig(data_dir=data_dir, benchmarks=["humaneval", "mbpp"])
    result = pipeline.decontaminate(write_jsonl(tmp_path / "ex.jsonl", records), tmp_path / "out", config, progress=False)
    matches = pq.read_table(result.out / "matches.parquet").to_pandas()
    for n in range(10, 20):
        mine = matches[(matches.record_id == f"copied-{n}") & (matches.task_id == f"HumanEval/{n}")]
        assert len(mine) == 1 and mine.statement.iloc[0] >= config.min_statement_containment and mine.flagged.all(), n
    assert set(matches.loc[matches.flagged, "record_id"]) == {r["id"] for r in copies}
    assert set(matches.loc[matches.statement >= config.min_statement_containment, "record_id"]) == {r["id"] for r in copies}
    report = (result.out / "report.md").read_text()
    assert f"| statement (>= {config.min_statement_containment:.0%} of its word n-grams): records / problems |" in report
    assert "- statement tier: 35 of the 1,293,906 ordered pairs of different HumanEval and MBPP problems" in report
    # The AST tier alone finds 2 of them (the issue's measurement); HumanEval/10's prompt also holds a
    # working is_palindrome, which passes HumanEval/48's tests (11 problems similar).
    assert re.search(rf"\| {config.tau:g} \| 10 \| \d+ \| 2 / 2 \| 10 / 10 \|", report)


def test_the_statement_tier_needs_most_of_the_statement_not_a_shared_phrase(tmp_path, data_dir):
    problem = benchmark_problems(["humaneval"], data_dir)[0]
    statement = "Check if in given list of numbers, are any two numbers closer to each other than given threshold."
    assert statement in " ".join(problem.prompt.split())
    phrase = '"""Check if in given list of numbers, are any two numbers closer"""\ndef f(xs):\n    return xs[::-1]\n'
    # HumanEval/0's docstring, its examples reformatted, over an unrelated body.
    docstring = problem.prompt.split('"""')[1]
    whole = f'"""{" ".join(docstring.split())}"""\ndef f(xs):\n    return xs[::-1]\n'
    records = [{"id": "phrase", "text": phrase}, {"id": "whole", "text": whole}]
    config = DecontamConfig(data_dir=data_dir, benchmarks=["humaneval"])
    result = pipeline.decontaminate(write_jsonl(tmp_path / "code.jsonl", records), tmp_path / "out", config, progress=False)
    matches = pq.read_table(result.out / "matches.parquet").to_pandas()
    assert set(matches.loc[matches.flagged, "record_id"]) == {"whole"}


# Written by hand (benchmarks/data/rephrase/handwritten.py): new names, words and algorithm.
REPHRASED_HUMANEVAL_4 = '''
def average_distance_from_mean(data):
    """The average absolute gap between each data point and the arithmetic mean of the data."""
    centre = sum(data) / len(data)
    gaps = [abs(point - centre) for point in data]
    return sum(gaps) / len(gaps)
'''
# After an import that fails here: the rest of a file is still defined, statement by statement.
REPHRASED_MBPP_23 = '''
from somewhere_else import helper

def best_row_sum(rows):
    """Largest total among the inner lists."""
    return max(sum(row) for row in rows)
'''
# The same topic as HumanEval/0 with another behaviour.
NEAR_MISS = '''
def has_far_elements(numbers, threshold):
    """Check whether some two numbers are further apart than threshold."""
    return bool(numbers) and max(numbers) - min(numbers) > threshold
'''
HOSTILE = '''
import os
def spin(values, gap):
    while True:
        pass
os._exit(3)
'''


def test_a_rephrasing_that_passes_its_problems_tests_in_the_sandbox_is_flagged_and_a_near_miss_is_not(tmp_path, data_dir):
    """Issue 24, finding 4: new names, new words, new algorithm; only the behaviour is the problem's."""
    records = [{"id": "rephrased-he4", "text": REPHRASED_HUMANEVAL_4}, {"id": "rephrased-mbpp23", "text": REPHRASED_MBPP_23},
               {"id": "near-miss", "text": NEAR_MISS}, {"id": "hostile", "text": HOSTILE}]
    config = DecontamConfig(data_dir=data_dir, benchmarks=["humaneval", "mbpp", "mbpp+"])
    result = pipeline.decontaminate(write_jsonl(tmp_path / "code.jsonl", records), tmp_path / "out", config, progress=False)
    matches = pq.read_table(result.out / "matches.parquet").to_pandas()
    flagged = matches[matches.flagged]
    assert set(zip(flagged.record_id, flagged.benchmark, flagged.task_id)) == {
        ("rephrased-he4", "humaneval", "HumanEval/4"), ("rephrased-mbpp23", "mbpp", "23")}
    assert flagged.behaviour.all() and (flagged.ast_match < config.tau).all()
    assert result.summary["behaviour_records"] == 4 and result.summary["behaviour_tests"] > 4
    assert "| behaviour (passes the problem's tests): records / problems |" in (result.out / "report.md").read_text()
    off = pipeline.decontaminate(result.out.parent / "code.jsonl", tmp_path / "off", DecontamConfig(**{**config.__dict__, "behaviour": False}),
                                 progress=False)
    assert off.summary["removed"] == 0 and off.summary["behaviour_records"] == 0


def test_a_function_that_never_returns_is_stopped_per_test_and_the_records_copy_is_still_found(tmp_path, data_dir):
    """Each test runs under its own alarm: the endless loop, tried first against every test, is cut
    short each time, and the copy defined after it is still tested (the planted set's clean exercises all end)."""
    looping = "def spin(values):\n    while True:\n        pass\n" + REPHRASED_HUMANEVAL_4
    config = DecontamConfig(data_dir=data_dir, benchmarks=["humaneval"], behaviour_test_s=0.05)
    result = pipeline.decontaminate(write_jsonl(tmp_path / "code.jsonl", [{"id": "loops", "text": looping}]), tmp_path / "out",
                                    config, progress=False)
    matches = pq.read_table(result.out / "matches.parquet").to_pandas()
    flagged = matches[matches.flagged]
    assert list(zip(flagged.task_id, flagged.behaviour)) == [("HumanEval/4", True)]


def test_a_function_passing_many_problems_tests_is_generic_and_not_counted():
    stdout = "\n".join([f"{PASSED} Mbpp/{n} 0 3" for n in (168, 204, 250, 666)] + [f"{PASSED} HumanEval/4 1 9", "noise"])
    assert {(p.key, p.function, p.line) for p in passes(stdout, max_problems=4)} == {("HumanEval/4", 1, 9)}
    assert {p.key for p in passes(stdout, max_problems=5)} == {"HumanEval/4", "Mbpp/168", "Mbpp/204", "Mbpp/250", "Mbpp/666"}


def test_mbpp_asserts_for_true_and_false_are_not_passed_by_ones_and_zeros(data_dir):
    problems = [p for p in benchmark_problems(["mbpp"], data_dir) if p.task_id == "790"]
    tests = problem_tests(problems, data_dir)[0]
    ones_and_zeros = "def f(nums):\n    return int(nums[0] == 2)\n"
    booleans = "def f(nums):\n    return nums[0] == 2\n"
    with Sandbox(workers=1) as sandbox:
        outputs = [sandbox.run(behaviour_program(code, [tests], 2.0, 10.0)).stdout for code in (ones_and_zeros, booleans)]
    assert [{p.key for p in passes(out, max_problems=4)} for out in outputs] == [set(), {"Mbpp/790"}]
