"""The loop both generators share: draw constraints, ask the teacher, judge answers, write a dataset.

Request i is built from `Pools.draw(seed, i)` alone, and every answer is committed to the
teacher's SQLite cache as it arrives, so the dataset is a function of (config, teacher answers):
a run killed at any moment and started again re-asks only what was in flight, then rebuilds the
very same records. Requests go out in rounds of `batch_size`; after each round its answers are
judged in index order (rejections counted by reason), exact and near duplicates dropped, and
full shards written through `DatasetWriter` (atomic; a half dataset never looks complete).

A `tokens` target stops at the first index where the kept records' completion tokens reach it,
so where the rounds happen to end never changes the dataset.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textbooks.config import output, output_data, pacing
from textbooks.data.datasets import Dataset, DatasetWriter
from textbooks.data.dedup import NearDedup
from textbooks.errors import UserError
from textbooks.synth.constraints import Constraints, Pools, request_seed
from textbooks.synth.templates import Template
from textbooks.teacher import Answer, Estimate, Request, TeacherClient, TeacherConfig, estimate, make_request
from textbooks.teacher.cache import AnswerCache

# With a `tokens` target and no `max_requests`, give up after this many times the requests the
# target would take if every answer were kept at full length (a teacher whose answers are
# nearly all rejected must not run forever).
MAX_REQUESTS_FACTOR = 10
REJECTED_EXAMPLES, EXAMPLE_CHARS = 3, 400  # rejected answers kept in the manifest, and how much of each


@dataclass(frozen=True)
class GenerationConfig:
    """What decides a synthetic dataset (its `output` fields go into the dataset's fingerprint)."""

    model: str = output()
    num: int | None = output(None)  # documents (requests) to ask for; or:
    tokens: int | None = output(None)  # completion tokens of kept records to reach
    max_requests: int | None = output(None)  # cap with `tokens`; default MAX_REQUESTS_FACTOR x the minimum
    seed: int = output(0)
    max_tokens_per_doc: int = output(1024)
    temperature: float = output(0.8)
    top_p: float = output(0.95)
    dedup_threshold: float = output(0.8)
    # Ask for JSON through the server's structured output (json_schema / grammar); off: a
    # ```python block, which small teachers that put prose in JSON fields follow better.
    structured_output: bool = output(True)
    rows_per_shard: int = output(10_000)
    batch_size: int = pacing(256)  # requests per round; changes only pacing, never the dataset

    def __post_init__(self) -> None:
        if (self.num is None) == (self.tokens is None):
            raise UserError("synth: give exactly one of --num (documents) or --tokens (a token target)")
        for name in ("num", "tokens", "max_requests", "max_tokens_per_doc", "rows_per_shard", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"synth: --{name.replace('_', '-')} is {value}; expected a positive number")
        if not self.model:
            raise UserError("synth: --model is empty; expected the served model's name")

    @property
    def request_cap(self) -> int:
        """The most requests this run may make."""
        if self.num is not None:
            return self.num
        if self.max_requests is not None:
            return self.max_requests
        return MAX_REQUESTS_FACTOR * math.ceil(self.tokens / self.max_tokens_per_doc)

    def fingerprint_fields(self) -> dict[str, Any]:
        return output_data(self)


@dataclass
class Item:
    """One request of a run and what came back."""

    index: int
    constraints: Constraints
    request: Request
    answer: Answer | None  # None: the teacher failed on it after its retries


@dataclass
class SynthStats:
    """Counts over the requests that decided the dataset (cached answers included)."""

    requests: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason: count
    finish_reasons: Counter = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    kept_completion_tokens: int = 0
    # The first few rejected answers and why: what the report shows a reader deciding whether to trust the data.
    rejected_examples: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "kept": self.kept,
            "rejected": dict(sorted(self.rejected.items())),
            "finish_reasons": dict(sorted((str(k), v) for k, v in self.finish_reasons.items())),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "kept_completion_tokens": self.kept_completion_tokens,
            "rejected_examples": self.rejected_examples,
        }

    def summary(self) -> str:
        rejected = ", ".join(f"{k} {v}" for k, v in self.rejected.most_common()) or "none"
        return (
            f"{self.kept} of {self.requests} kept; rejected: {rejected}; tokens: "
            f"{self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion "
            f"({self.kept_completion_tokens:,} completion tokens kept)"
        )


class Generator:
    """What differs between textbooks and exercises; subclasses set `stage`, `kind`,
    `placeholders` and implement `judge`."""

    stage = ""
    kind = ""
    placeholders: tuple[str, ...] = ()
    isolation: str | None = None  # the sandbox's, where the stage runs teacher-written code

    def __init__(self, config: GenerationConfig, pools: Pools, template: Template):
        self.config = config
        self.pools = pools
        self.template = template

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def fingerprint(self) -> dict[str, Any]:
        return {
            **self.config.fingerprint_fields(),
            "template_sha256": self.template.sha256,
            "pools_sha256": self.pools.sha256(),
        }

    def response_format(self) -> dict[str, Any] | None:
        return None

    def request(self, index: int) -> tuple[Constraints, Request]:
        drawn = self.pools.draw(self.config.seed, index)
        values = {name: getattr(drawn, name) for name in self.placeholders}
        params: dict[str, Any] = {
            "temperature": self.config.temperature,
            "top_p": self.config.top_p,
            "max_tokens": self.config.max_tokens_per_doc,
            # Servers that honour `seed` then sample each request repeatably (FACTS: llama.cpp does).
            "seed": request_seed(self.config.seed, index) % 2**31,
        }
        if self.response_format() is not None:
            params["response_format"] = self.response_format()
        messages = [{"role": "user", "content": self.template.render(**values)}]
        return drawn, make_request(self.config.model, messages=messages, sample_index=index, **params)

    def judge(self, items: list[Item]) -> list[dict[str, Any] | str]:
        """Per item (answered ones only): a record, or the reason it is rejected."""
        raise NotImplementedError

    def base_record(self, item: Item) -> dict[str, Any]:
        """The columns every synthetic record carries."""
        answer = item.answer
        return {
            "id": item.request.key[:24],
            "topic": item.constraints.topic,
            "subtopic": item.constraints.subtopic,
            "teacher": answer.model,
            "prompt_sha": hashlib.sha256(item.request.messages[-1]["content"].encode("utf-8")).hexdigest(),
            "usage_tokens": answer.prompt_tokens + answer.completion_tokens,
        }


@dataclass
class SynthResult:
    dataset: Dataset
    stats: dict[str, Any]  # SynthStats.as_dict() as stored in the manifest
    already_done: bool
    spent_tokens: int = 0  # new tokens paid for by this run (cache hits are free)


def default_cache_path(out: str | Path) -> Path:
    """Beside the output directory (inside it would be replaced when the dataset is published)."""
    out = Path(out)
    return out.parent / f"{out.name}.teacher-cache.sqlite"


# Requests a dry run builds at most: phi-1's 1.3M textbook requests took 5.5 minutes to walk
# one by one here; a seeded sample of 20,000 bills them in seconds (tokens within about 1%).
DRY_RUN_SAMPLE = 20_000


def dry_run(generator: Generator, cache_path: str | Path, sample: int = DRY_RUN_SAMPLE) -> tuple[Estimate, str]:
    """What the run would send, and a note on it; sends nothing, starts no teacher. Beyond
    `sample` requests, a seeded sample of them is built and the estimate extrapolated."""
    config = generator.config
    planned = config.num if config.num is not None else math.ceil(config.tokens / config.max_tokens_per_doc)
    indices = range(planned) if planned <= sample else sorted(random.Random(0).sample(range(planned), sample))
    requests = (generator.request(i)[1] for i in indices)
    cache = AnswerCache(cache_path) if Path(cache_path).is_file() else None
    try:
        result = estimate(requests, cache)
    finally:
        if cache is not None:
            cache.close()
    notes = []
    if len(indices) < planned:
        result = result.scaled(planned)
        notes.append(f"extrapolated from a seeded sample of {len(indices):,} of the {planned:,} requests")
    if config.tokens is not None:
        notes.append(f"--tokens {config.tokens:,}: at least {planned:,} requests (every answer kept at full length), "
                     f"at most {config.request_cap:,}")
    return result, "; ".join(notes)


def generate(
    generator: Generator,
    teacher: TeacherConfig,
    out: str | Path,
    cache_path: str | Path | None = None,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> SynthResult:
    """Run (or resume) one synthetic-data stage into the dataset directory `out`."""
    out = Path(out)
    cache_path = Path(cache_path) if cache_path is not None else default_cache_path(out)
    writer = DatasetWriter(out, stage=generator.stage, kind=generator.kind, config=generator.fingerprint())
    if writer.done:
        dataset = Dataset.open(out)
        return SynthResult(dataset, dataset.manifest.get("synth", {}), already_done=True)
    with writer, generator:
        stats, spent = asyncio.run(_generate(generator, teacher, writer, cache_path, log))
        # Read by `__exit__` when it writes the manifest; the diversity report reads it back.
        writer.extra_manifest["synth"] = {**stats.as_dict(), "taxonomy": generator.pools.sizes(),
                                          **({"isolation": generator.isolation} if generator.isolation else {})}
    dataset = Dataset.open(out)
    return SynthResult(dataset, dataset.manifest["synth"], already_done=False, spent_tokens=spent)


class _Collector:
    """Takes judged items in index order: counts them, drops duplicates, fills and writes shards."""

    def __init__(self, config: GenerationConfig, writer: DatasetWriter):
        self.config = config
        self.writer = writer
        self.stats = SynthStats()
        self.dedup = NearDedup(threshold=config.dedup_threshold)
        self.shard: list[dict[str, Any]] = []
        self.shard_index = 0

    def add(self, item: Item, verdict: dict[str, Any] | str) -> bool:
        """Count one item; True once the token target is reached."""
        stats = self.stats
        stats.requests += 1
        if item.answer is not None:
            stats.finish_reasons[item.answer.finish_reason] += 1
            stats.prompt_tokens += item.answer.prompt_tokens
            stats.completion_tokens += item.answer.completion_tokens
        duplicate = self.dedup.match(verdict["id"], verdict["text"]) if isinstance(verdict, dict) else None
        if isinstance(verdict, str) or duplicate is not None:
            reason = verdict if isinstance(verdict, str) else f"{duplicate.kind}_duplicate"
            stats.rejected[reason] += 1
            if len(stats.rejected_examples) < REJECTED_EXAMPLES:
                text = item.answer.text if item.answer is not None else ""
                stats.rejected_examples.append({"reason": reason, "text": text[:EXAMPLE_CHARS]})
        else:
            stats.kept += 1
            stats.kept_completion_tokens += item.answer.completion_tokens
            self.shard.append(verdict)
            if len(self.shard) == self.config.rows_per_shard:
                self.flush()
        return self.config.tokens is not None and stats.kept_completion_tokens >= self.config.tokens

    def flush(self) -> None:
        if not self.writer.shard_done(self.shard_index):  # done by a run that was killed later
            self.writer.write_shard(self.shard_index, self.shard)
        self.shard, self.shard_index = [], self.shard_index + 1

    def finish(self) -> SynthStats:
        if self.shard or self.shard_index == 0:
            self.flush()
        return self.stats


async def _generate(generator: Generator, teacher: TeacherConfig, writer: DatasetWriter, cache_path: Path,
                    log: Callable[[str], None]) -> tuple[SynthStats, int]:
    config = generator.config
    collector = _Collector(config, writer)
    spent = 0
    async with TeacherClient(teacher, cache=cache_path) as client:
        for start in range(0, config.request_cap, config.batch_size):
            drawn = [generator.request(i) for i in range(start, min(start + config.batch_size, config.request_cap))]
            answers: dict[str, Answer] = {}
            report = await client.run([r for _, r in drawn], on_answer=lambda a: answers.__setitem__(a.key, a))
            spent = report.prompt_tokens + report.completion_tokens  # the client's total so far
            if report.stopped:
                raise UserError(
                    f"teacher {report.stopped}; {len(client.cache)} answers are kept in {cache_path}: "
                    "run the same command again to go on (each run may spend up to --max-tokens-total), or raise the limit"
                )
            transient = [f for f in report.failed if f.status is None or f.status == 429 or f.status >= 500]
            if transient:
                # A server down or overloaded is not an answer: publishing without those records
                # would make the re-run a no-op. (A 4xx about one request is: it is counted.)
                raise UserError(
                    f"{len(transient)} teacher requests failed ({transient[0].error}); {len(client.cache)} answers are "
                    f"kept in {cache_path}: run the same command again to retry the rest"
                )
            items = [Item(start + n, c, r, answers.get(r.key)) for n, (c, r) in enumerate(drawn)]
            answered = [item for item in items if item.answer is not None]
            verdicts = dict(zip((item.index for item in answered), generator.judge(answered)))
            # any() stops at the item that reaches the token target: the rest of the round is unused.
            reached = any(collector.add(item, verdicts.get(item.index, "teacher_failed")) for item in items)
            stats = collector.stats
            log(f"synth {generator.kind}: {stats.requests:,} requests, {stats.kept:,} kept; this round "
                f"{report.answered} answered, {report.cached} from cache, {len(report.failed)} failed")
            if reached:
                return collector.finish(), spent
    if config.tokens is not None:
        log(f"synth {generator.kind}: stopped at the {config.request_cap:,}-request cap before the {config.tokens:,}-token target")
    return collector.finish(), spent
