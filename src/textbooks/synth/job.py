"""`textbooks synth textbooks|exercises` as a library call: the command's typed config and its run.

    job = command_config(SynthConfig, "synth.yaml", ["num=100", "teacher.max_cost_usd=20"])
    result = run_synth("exercises", job)

`SynthConfig.teacher` is the whole `TeacherConfig` (endpoints, limits, budget, prices, retries,
timeouts); with no endpoints the embedded SmolLM2 teacher is started for the run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from textbooks.config import output, pacing
from textbooks.errors import UserError
from textbooks.synth.constraints import Pools
from textbooks.synth.exercises import exercise_generator
from textbooks.synth.generate import GenerationConfig, SynthResult, default_cache_path, dry_run, generate
from textbooks.synth.textbooks import textbook_generator
from textbooks.teacher import Estimate, TeacherConfig

Kind = Literal["textbooks", "exercises"]
# Answers per request: a textbook section is long, an exercise (signature, docstring, body, asserts) short.
DEFAULT_MAX_TOKENS = {"textbooks": 1024, "exercises": 512}


@dataclass
class SynthConfig:
    """One synthetic dataset: where it goes, the teacher, and what decides its records."""

    out: Path | None = pacing(None)
    teacher: TeacherConfig = output(default_factory=TeacherConfig)
    num: int | None = output(None)  # requests (documents) to make; or:
    tokens: int | None = output(None)  # stop once kept records hold this many completion tokens
    seed: int = output(0)  # seeds every draw of topic, audience, style and function name
    temperature: float = output(0.8)
    max_tokens_per_doc: int | None = output(None)  # None: DEFAULT_MAX_TOKENS of the kind
    # Exercises: JSON through structured output, or a ```python block (small teachers follow it better).
    structured: bool = output(True)
    # Exercises: where no isolating sandbox starts, check the teacher's code with less (recorded
    # in the manifest's `isolation`); off: the run refuses.
    unsafe_no_isolation: bool = output(False)
    batch_size: int = pacing(256)  # requests per round (pacing only; the dataset does not depend on it)
    rows_per_shard: int = output(10_000)
    cache: Path | None = pacing(None)  # teacher answer cache (SQLite); None: OUT.teacher-cache.sqlite beside OUT
    template: Path | None = output(None)  # prompt template file; None: the shipped one
    topics: Path | None = output(None)  # topic taxonomy CSV (topic,subtopic); None: the shipped one

    def generation_config(self, kind: Kind, model: str) -> GenerationConfig:
        return GenerationConfig(
            model=model, num=self.num, tokens=self.tokens, seed=self.seed, temperature=self.temperature,
            max_tokens_per_doc=self.max_tokens_per_doc or DEFAULT_MAX_TOKENS[kind], batch_size=self.batch_size,
            rows_per_shard=self.rows_per_shard, structured_output=self.structured,
        )


SynthJob = SynthConfig  # its name before every command's config was named <Command>Config


def _generator(kind: Kind, job: SynthConfig, model: str):
    config, pools = job.generation_config(kind, model), Pools.load(topics=job.topics)
    if kind == "textbooks":
        return textbook_generator(config, template=job.template, pools=pools)
    return exercise_generator(config, template=job.template, pools=pools, unsafe_no_isolation=job.unsafe_no_isolation)


def _model_name(job: SynthConfig) -> str:
    from textbooks.teacher.server import DEFAULT_MODEL_NAME

    if job.teacher.endpoints and not job.teacher.model:
        raise UserError("--model: required with --endpoint (teacher.model); expected the name the server serves")
    return job.teacher.model or DEFAULT_MODEL_NAME


def estimate_synth(kind: Kind, job: SynthConfig) -> tuple[Estimate, str]:
    """What `run_synth` would send (requests, tokens, cost) and a note; sends nothing."""
    out = _out(job)
    return dry_run(_generator(kind, job, _model_name(job)), job.cache or default_cache_path(out))


def run_synth(kind: Kind, job: SynthConfig) -> SynthResult:
    """Generate the dataset at `job.out` (resumable), starting the embedded teacher when no endpoint is set."""
    out = _out(job)
    model = _model_name(job)
    generator = _generator(kind, job, model)
    cache_path = job.cache or default_cache_path(out)
    if job.teacher.endpoints:
        return generate(generator, dataclasses.replace(job.teacher, model=model), out, cache_path)
    from textbooks.teacher.server import EmbeddedTeacher

    with EmbeddedTeacher(model_name=model) as teacher:
        return generate(generator, teacher.config(job.teacher), out, cache_path)


def _out(job: SynthConfig) -> Path:
    if job.out is None:
        raise UserError("synth: --out is required (or `out:` in the config); expected the dataset directory")
    return job.out
