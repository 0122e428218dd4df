"""Annotation: the teacher rates a seeded sample of files for their educational value.

phi-1 asked GPT-4 to "determine its educational value for a student whose goal is to learn basic
coding concepts"; the prompt here puts that criterion into FineWeb-Edu's additive 0-5 rubric (a
point per criterion met), which weak teachers follow more steadily than a bare number.

    result = annotate(Dataset.open("dedup"), "annotated", AnnotateConfig(sample=100), teacher_config, "cache.sqlite")

The sample is the `sample` records whose sha256(seed, id) is smallest: a function of the seed and
the ids alone, whatever the order of shards. Each file is cut to `max_file_tokens` tokens. Every
answer is committed to the teacher's SQLite cache as it arrives, so a killed run pays for nothing
twice. An answer that holds no score 0-5 is rejected and counted by reason, never a crash. The
dataset keeps every input column plus `edu_score`, `edu_rationale`, `teacher`, `prompt_sha` and
`usage_tokens`, for the scored files; the manifest holds the counts and the score histogram.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textbooks.config import output, output_data
from textbooks.data.datasets import Dataset, DatasetWriter
from textbooks.errors import UserError
from textbooks.teacher import (
    Answer,
    Request,
    TeacherClient,
    TeacherConfig,
    json_schema_format,
    make_request,
    parse_json_answer,
)

MAX_SCORE = 5
ROWS_PER_SHARD = 10_000
PROMPT = """Below is an extract from a Python file. Evaluate whether it has a high educational value \
for a student whose goal is to learn basic coding concepts, using the additive 5-point scoring \
system described below. Points are accumulated based on the satisfaction of each criterion:

- Add 1 point if the file contains valid Python code, even if it is not educational, like \
boilerplate code, configurations or niche concepts.
- Add another point if the file addresses practical concepts, even if it lacks comments.
- Award a third point if the file is suitable for educational use and introduces key concepts in \
programming, even if the topic is advanced. The code should be well-structured and contain some comments.
- Give a fourth point if the file is self-contained and highly relevant to teaching programming. \
It should be similar to a school exercise, a tutorial or a textbook section, with clear explanations.
- Grant a fifth point if the file is outstanding in its educational value and perfectly suited \
for teaching programming. It should be well-written, easy to understand and contain step-by-step \
explanations and comments.

The extract:
```python
{code}
```

After examining the extract, justify your total points in at most 50 words, then give the score.
Answer in JSON: {{"rationale": "<your justification>", "score": <total points, 0 to 5>}}"""
SCORE_SCHEMA = {
    "type": "object",
    "properties": {"rationale": {"type": "string"}, "score": {"type": "integer", "enum": list(range(MAX_SCORE + 1))}},
    "required": ["rationale", "score"],
}
# What a teacher writes instead of JSON: `"score": 3`, `Score: 3`, `Educational score: 3`.
_SCORE_TEXT = re.compile(r"score\W{0,3}\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class AnnotateConfig:
    """What decides the annotated dataset (YAML section `annotate:`)."""

    sample: int = output(1000)  # files to rate (the paper: about 100K)
    seed: int = output(0)
    max_file_tokens: int = output(1024)  # each file is cut to this many tokens before it is shown
    max_tokens: int = output(256)  # the answer's length limit
    temperature: float = output(0.0)
    structured_output: bool = output(True)  # JSON schema via the server's structured output; off: the prompt alone

    def __post_init__(self) -> None:
        for name in ("sample", "max_file_tokens", "max_tokens"):
            if getattr(self, name) < 1:
                raise UserError(f"annotate.{name}: {getattr(self, name)}; expected a positive number")


@dataclass
class AnnotateResult:
    dataset: Dataset
    stats: dict[str, Any]  # as stored in the manifest under "annotate"
    already_done: bool


def sample_ids(dataset: Dataset, size: int, seed: int) -> list[str]:
    """The `size` ids with the smallest sha256(seed, id), smallest first (bounded memory)."""
    def rank(record_id: str) -> str:
        return hashlib.sha256(f"{seed}\0{record_id}".encode()).hexdigest()

    ids = (record["id"] for record in dataset.iter_records(columns=["id"]))
    return heapq.nsmallest(size, ids, key=rank)


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """The longest prefix of `text` that phi-1's tokenizer encodes in `max_tokens` tokens."""
    from textbooks.tokenizer import load_tokenizer

    encoding = load_tokenizer().encode(text)
    if len(encoding.ids) <= max_tokens:
        return text
    return text[: encoding.offsets[max_tokens - 1][1]]


def build_request(config: AnnotateConfig, model: str, text: str) -> Request:
    params: dict[str, Any] = {"temperature": config.temperature, "max_tokens": config.max_tokens, "seed": config.seed}
    if config.structured_output:
        params["response_format"] = json_schema_format(SCORE_SCHEMA)  # the client adapts it per server
    prompt = PROMPT.format(code=truncate_to_tokens(text, config.max_file_tokens))
    return make_request(model, messages=[{"role": "user", "content": prompt}], **params)


def parse_score(text: str) -> tuple[int, str] | str:
    """(score, rationale) from an answer, or the reason it is rejected."""
    try:
        value = parse_json_answer(text)
    except ValueError:
        value = None
    if isinstance(value, dict) and "score" in value:
        score, rationale = value["score"], str(value.get("rationale", ""))
    else:
        match = _SCORE_TEXT.search(text)
        if match is None:
            return "no_score"
        score, rationale = match.group(1), text.strip()
    try:
        score = int(score)
    except (TypeError, ValueError):
        return "no_score"
    if not 0 <= score <= MAX_SCORE:
        return "score_out_of_range"
    return score, rationale


def balanced_cutoff(scores: Sequence[int]) -> float:
    """The median split, moved off ties: of the cutoffs that leave both classes non-empty, the one
    whose positive share is closest to half. (A weak teacher rating 68 of 100 files 0 has median
    0, and `score >= 0` labels every file alike; here the cutoff becomes 2.)"""
    values = sorted(set(scores))[1:]  # the lowest score as cutoff would label every file 1
    if not values:
        return float(scores[0])
    return float(min(values, key=lambda v: (abs(sum(s >= v for s in scores) / len(scores) - 0.5), v)))


def labels_from_scores(scores: Sequence[int], threshold: float | str) -> tuple[list[int], float]:
    """Label 1 = `score >= threshold`; `threshold` a number or "auto" (`balanced_cutoff`, the
    median split, for weak teachers).

    A sample whose labels are all one class teaches a classifier nothing: that is a user error
    naming the score histogram.
    """
    if not scores:
        raise UserError("annotation: no scored files; the teacher's answers held no score (see the annotated manifest)")
    if threshold == "auto":
        cutoff = balanced_cutoff(scores)
    else:
        try:
            cutoff = float(threshold)
        except ValueError:
            raise UserError(f"--threshold {threshold!r}: expected a number 0-{MAX_SCORE} or 'auto'") from None
    labels = [int(score >= cutoff) for score in scores]
    if len(set(labels)) < 2:
        histogram = ", ".join(f"{score}: {n}" for score, n in sorted(Counter(scores).items()))
        hint = "" if threshold == "auto" else "; try --threshold auto (the median score) for a weak teacher"
        raise UserError(f"annotation: every file is labelled {labels[0]} at threshold {cutoff:g} "
                        f"(score histogram {histogram}){hint}")
    return labels, cutoff


def fingerprint_config(config: AnnotateConfig, model: str) -> dict[str, Any]:
    """What decides the annotated dataset besides its input."""
    return {**output_data(config), "model": model, "prompt_sha256": hashlib.sha256(PROMPT.encode()).hexdigest()}


def annotate(
    dataset: Dataset,
    out: str | Path,
    config: AnnotateConfig,
    teacher: TeacherConfig,
    cache_path: str | Path,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> AnnotateResult:
    """Rate the sample of `dataset` with the teacher into the dataset `out` (resumable)."""
    writer = DatasetWriter(out, stage="curate-annotate", kind="code", config=fingerprint_config(config, teacher.model),
                           inputs=[dataset])
    if writer.done:
        done = Dataset.open(out)
        return AnnotateResult(done, done.manifest.get("annotate", {}), already_done=True)
    wanted = set(sample_ids(dataset, config.sample, config.seed))
    records = [r for r in dataset.iter_records() if r["id"] in wanted]
    requests = [build_request(config, teacher.model, record["text"]) for record in records]
    answers = asyncio.run(_ask(teacher, requests, cache_path, log))
    rows, rejected = [], Counter()
    for record, request in zip(records, requests):
        answer = answers.get(request.key)
        verdict = "teacher_failed" if answer is None else parse_score(answer.text)
        if isinstance(verdict, str):
            rejected[verdict] += 1
            continue
        score, rationale = verdict
        rows.append({**record, "edu_score": score, "edu_rationale": rationale, "teacher": answer.model,
                     "prompt_sha": hashlib.sha256(request.messages[-1]["content"].encode()).hexdigest(),
                     "usage_tokens": answer.prompt_tokens + answer.completion_tokens})
    histogram = Counter(row["edu_score"] for row in rows)
    # Every answer that decided the ratings, cached ones included: what the annotation costs at the teacher's prices.
    stats = {"requests": len(requests), "scored": len(rows), "rejected": dict(sorted(rejected.items())),
             "histogram": {str(k): histogram[k] for k in range(MAX_SCORE + 1)},
             "prompt_tokens": sum(a.prompt_tokens for a in answers.values()),
             "completion_tokens": sum(a.completion_tokens for a in answers.values())}
    if not rows:
        raise UserError(f"annotation: none of {len(requests)} answers held a score 0-{MAX_SCORE} "
                        f"(rejected: {dict(rejected)}); is the teacher answering the prompt? answers are cached in {cache_path}")
    with writer:
        writer.write_records(rows, ROWS_PER_SHARD)
        writer.extra_manifest["annotate"] = stats
    return AnnotateResult(Dataset.open(out), stats, already_done=False)


async def _ask(teacher: TeacherConfig, requests: list[Request], cache_path: str | Path,
               log: Callable[[str], None]) -> dict[str, Answer]:
    from tqdm import tqdm

    answers: dict[str, Answer] = {}

    def keep(answer: Answer) -> None:
        answers[answer.key] = answer
        bar.update()

    with tqdm(total=len(requests), desc="annotate", unit="file", dynamic_ncols=True) as bar:
        async with TeacherClient(teacher, cache=cache_path) as client:
            report = await client.run(requests, on_answer=keep)
    log(f"annotate: {report.summary()}")
    # A server down or overloaded is no answer: publishing without those files would make the
    # re-run a no-op. A 4xx about one request (a prompt too long for the context) is: it is counted.
    transient = [f for f in report.failed if f.status is None or f.status == 429 or f.status >= 500]
    if report.stopped or transient:
        reason = report.stopped or transient[0].error
        raise UserError(f"annotation stopped: {reason}; {len(answers)} of {len(requests)} answers are kept in "
                        f"{cache_path}: run the same command again to go on")
    return answers
