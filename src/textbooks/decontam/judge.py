"""The optional LLM tier: a teacher model judges whether a training record rephrases a benchmark
problem (llm-decontaminator's idea: rewordings and translations pass every n-gram and AST test).

Only the top candidate pairs are asked (the pipeline picks them), through the project's teacher
client: OpenAI-compatible endpoint, retries, an SQLite answer cache (a rerun asks nothing again)
and a token budget. The answer is read as yes/no from its first word; anything else counts as no
and is reported as unclear.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from textbooks.teacher import Answer, TeacherConfig, make_request, run_requests

# The record is cut to this many characters: enough for an exercise or a function, and a bound on
# the tokens a long code file would spend.
MAX_RECORD_CHARS = 4000
MAX_IN_FLIGHT = 8  # unless the judge's section says otherwise

INSTRUCTION = (
    "You check training data for benchmark contamination. Two programming problems follow. "
    "Answer True if the first is the same problem as the second, or a rephrasing of it (reworded, "
    "renamed, reformatted, translated, or with the same solution), and False if it is a different "
    "problem. Answer with one word: True or False."
)


@dataclass(frozen=True)
class Verdicts:
    rephrased: list[bool | None]  # per pair; None: not answered (budget, failure)
    unclear: int
    summary: str
    tokens: dict[str, int]  # prompt and completion tokens of every answer, cached ones included


def judge_messages(record_text: str, problem_text: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": INSTRUCTION},
        {"role": "user", "content": f"First (training data):\n{record_text[:MAX_RECORD_CHARS]}\n\n"
                                    f"Second (benchmark problem):\n{problem_text}\n\nSame problem? True or False:"},
    ]


def read_verdict(text: str) -> bool | None:
    words = text.strip().strip("*`\"'.").split()
    first = words[0].strip(".,:;!*`\"'").lower() if words else ""
    return True if first in ("true", "yes") else False if first in ("false", "no") else None


def judge(pairs: list[tuple[str, str]], config: TeacherConfig, cache: Path) -> Verdicts:
    """Ask about each (record text, problem text) pair; answers come from `cache` when it has them."""
    requests = [make_request(config.model, messages=judge_messages(r, p), temperature=0.0, max_tokens=8) for r, p in pairs]
    answers: dict[str, Answer] = {}
    config = replace(config, max_in_flight=config.max_in_flight or MAX_IN_FLIGHT)
    report = run_requests(config, requests, cache=cache, on_answer=lambda answer: answers.__setitem__(answer.key, answer))
    rephrased: list[bool | None] = []
    unclear = 0
    for request in requests:
        if request.key not in answers:  # not sent (budget) or failed
            rephrased.append(None)
            continue
        verdict = read_verdict(answers[request.key].text)
        unclear += verdict is None
        rephrased.append(bool(verdict))
    tokens = {"prompt_tokens": sum(a.prompt_tokens for a in answers.values()),
              "completion_tokens": sum(a.completion_tokens for a in answers.values())}
    return Verdicts(rephrased, unclear, report.summary(), tokens)
