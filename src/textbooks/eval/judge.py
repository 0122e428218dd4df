"""An LLM judge: each completion graded 0-10 with partial credit, beside its pass/fail verdict.

phi-1's third piece of evidence graded its models on 50 new problems with GPT-4 on a rubric and
found them ranked as on HumanEval. Here any OpenAI-compatible chat model can be that judge:

    section = judge_results(bench, results, TeacherConfig(["http://host:8000/v1"], "judge-model"), out_dir)

The judge is shown the problem, the reference solution and the completion, and answers JSON
{"score": 0-10, "reason": "..."}. Requests go through the teacher client: cached in
`judge-cache.sqlite` (a rerun asks nothing twice), retried, and stopped at a token budget.
Per-sample grades land in `judgments.jsonl`; an answer without a readable score is counted
("unparsed") and kept for inspection, never fatal. Agreement with the sandbox is Spearman's rank
correlation, over tasks, between the pass rate and the mean grade.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import defaultdict
from pathlib import Path
from statistics import fmean
from typing import Any

from textbooks.benchmarks.tasks import Benchmark
from textbooks.errors import UserError
from textbooks.io import atomic_write_text
from textbooks.teacher.client import TeacherConfig

EMBEDDED = "embedded"  # --judge-endpoint value that starts the embedded SmolLM2 teacher (`judge: {}`)
WEAK_JUDGE_WARNING = ("the judge is SmolLM2-135M, the embedded teacher: far too weak to grade code; its scores "
                      "exercise the pipeline and mean nothing. Use a strong model (--judge-endpoint URL --judge-model NAME)")
SCORES = list(range(11))
GRADE_SCHEMA = {
    "type": "object",
    # enum, not minimum/maximum: llama.cpp's grammar ignores the bounds (FACTS.md)
    "properties": {"score": {"type": "integer", "enum": SCORES}, "reason": {"type": "string"}},
    "required": ["score", "reason"],
}
RUBRIC = """You grade a student's Python function against a reference solution, as a teacher would.
Score from 0 to 10 with partial credit:
10: correct for every input the problem allows, including edge cases.
7-9: right approach; one edge case or small detail wrong.
4-6: partly right: the main idea is there but a rule of the problem is missed or misread.
1-3: relevant attempt with a wrong idea, or code that could not run as written.
0: empty, unrelated, or only restates the problem.
Judge correctness against the problem's statement; the reference shows one correct answer, other
correct approaches deserve full marks. Ignore style.
Answer with JSON only: {"score": <integer 0-10>, "reason": "<one sentence>"}"""
ANSWER_CHARS_KEPT = 500  # of an unparsed answer, in judgments.jsonl
MAX_JUDGE_TOKENS = 256


def judge_messages(prompt: str, reference: str, completion: str) -> list[dict[str, str]]:
    user = (f"Problem:\n```python\n{prompt}```\n\n"
            f"Reference solution (the code that follows the problem):\n```python\n{reference}```\n\n"
            f"Student's solution (the code that follows the problem):\n```python\n{completion}```\n\n"
            "Grade the student's solution.")
    return [{"role": "system", "content": RUBRIC}, {"role": "user", "content": user}]


_SCORE_FIELD = re.compile(r'"score"\s*:\s*"?(\d+)')


def parse_grade(text: str) -> int | None:
    """The 0-10 score in a judge's answer, or None when there is none to read."""
    from textbooks.teacher import parse_json_answer

    try:
        value = parse_json_answer(text)
        score = value.get("score") if isinstance(value, dict) else None
    except ValueError:
        found = _SCORE_FIELD.search(text)  # JSON cut short by max_tokens still names its score first
        score = found.group(1) if found else None
    if isinstance(score, str) and score.strip().isdigit():
        score = int(score)
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        return None
    return score


def judge_results(bench: Benchmark, results: list[dict], judge: TeacherConfig, out_dir: str | Path,
                  progress: bool = True) -> dict[str, Any]:
    """Grade every checked sample (rows of results.jsonl) with `judge` (no endpoints: the embedded
    teacher); write judgments.jsonl; return the summary section."""
    if not judge.endpoints:
        from textbooks.teacher import EmbeddedTeacher

        warnings.warn(WEAK_JUDGE_WARNING, stacklevel=2)
        with EmbeddedTeacher() as teacher:
            return _judge(bench, results, teacher.config(judge), Path(out_dir), progress)
    if not judge.model:
        raise UserError("judge.model: required with judge.endpoints (--judge-model with --judge-endpoint URL); "
                        "expected the name the judge server serves")
    if is_embedded_model(judge.model):
        warnings.warn(WEAK_JUDGE_WARNING, stacklevel=2)
    return _judge(bench, results, judge, Path(out_dir), progress)


def is_embedded_model(name: str) -> bool:
    from textbooks.teacher.server import DEFAULT_MODEL_NAME

    return name == DEFAULT_MODEL_NAME or "135m" in name.lower()


def _judge(bench: Benchmark, results: list[dict], config: TeacherConfig, out: Path, progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    from textbooks.teacher import json_schema_format, make_request, run_requests

    requests = {}
    for row in results:
        task = bench.tasks[row["task_id"]]
        requests[row["task_id"], row["sample"]] = make_request(
            config.model, messages=judge_messages(task.prompt, task.reference, row["completion"]),
            temperature=0.0, max_tokens=MAX_JUDGE_TOKENS, response_format=json_schema_format(GRADE_SCHEMA, name="grade"))
    answers = {}
    bar = tqdm(total=len({r.key for r in requests.values()}), desc=f"{bench.name} judge", unit="grade", disable=not progress)

    def keep(answer) -> None:
        answers[answer.key] = answer
        bar.update()

    report = run_requests(config, requests.values(), out / "judge-cache.sqlite", keep)
    bar.close()
    failures = {f.key: f.error for f in report.failed}
    judgments = [_judgment(row, requests[row["task_id"], row["sample"]].key, answers, failures) for row in results]
    atomic_write_text(out / "judgments.jsonl", "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in judgments))
    tokens = sum(a.prompt_tokens + a.completion_tokens for a in answers.values())  # cached answers too
    return summarize_judgments(judgments, results, config.model, report.stopped, tokens)


def _judgment(row: dict, key: str, answers: dict, failures: dict) -> dict[str, Any]:
    judgment = {"task_id": row["task_id"], "sample": row["sample"], "passed": row["passed"], "score": None}
    answer = answers.get(key)
    if answer is None:
        # The request failed, or a budget stopped the run before it was sent.
        return {**judgment, "verdict": "failed" if key in failures else "not sent", "error": failures.get(key)}
    score = parse_grade(answer.text)
    judgment |= {"score": score, "verdict": "graded" if score is not None else "unparsed", "judge_model": answer.model}
    if score is None:
        judgment["answer"] = answer.text[:ANSWER_CHARS_KEPT]
    return judgment


def summarize_judgments(judgments: list[dict], results: list[dict], judge_model: str, stopped: str | None,
                        tokens: int) -> dict[str, Any]:
    verdicts = defaultdict(int)
    for j in judgments:
        verdicts[j["verdict"]] += 1
    graded = [j for j in judgments if j["score"] is not None]
    pass_rate, grade = defaultdict(list), defaultdict(list)
    for r in results:
        pass_rate[r["task_id"]].append(r["passed"])
    for j in graded:
        grade[j["task_id"]].append(j["score"])
    tasks = [t for t in pass_rate if grade[t]]
    return {
        "judge_model": judge_model,
        "served_by": sorted({j["judge_model"] for j in judgments if j.get("judge_model")}),
        "mean_score": round(fmean(j["score"] for j in graded), 3) if graded else None,
        "graded": verdicts["graded"],
        "unparsed": verdicts["unparsed"],
        "failed": verdicts["failed"],
        "not_sent": verdicts["not sent"],
        "stopped": stopped,  # why a budget stopped the judge early, else None
        "tokens": tokens,  # what the grades cost the judge, prompt and completion
        "agreement": {
            "spearman": spearman([fmean(pass_rate[t]) for t in tasks], [fmean(grade[t]) for t in tasks]),
            "tasks": len(tasks),
        },
        "weak_judge_warning": WEAK_JUDGE_WARNING if is_embedded_model(judge_model) else None,
    }


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rank correlation (ties get their average rank); None when it is undefined (fewer
    than two pairs, or one side constant). Written here rather than taken from scipy, which is not a
    dependency of the base package, for twenty lines."""
    if len(x) != len(y):
        raise ValueError("spearman: x and y differ in length")
    rx, ry = _ranks(x), _ranks(y)
    if len(x) < 2:
        return None
    mx, my = fmean(rx), fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return round(sxy / (sxx * syy) ** 0.5, 4)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks

