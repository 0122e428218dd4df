"""The demo's annotation on llama.cpp's server with given flags: where each request's seconds go.

    python benchmarks/bench_annotate.py DEDUP_DATASET --tag A [--files 20] [--in-flight 2] \
        [--annotate '{"max_file_tokens": 256}'] [--out-dir DIR] -- [SERVER FLAGS...]
    e.g. ... runs/demo/stages/code-*/dedup --tag B -- --n_threads 1 --logits_all false

The first FILES of the demo's annotate sample (sample 100, max_file_tokens 384) are sent as the
curate stage sends them, to the server `EmbeddedTeacher` starts, with the SERVER FLAGS added. Prints one JSON line: wall seconds, and the server's own prompt-eval
and eval seconds and token counts (from its llama_perf lines). Writes the answers to
OUT_DIR/answers-TAG.json and the server log to OUT_DIR/server-TAG.log, to compare variants'
answers. Not a side-by-side table: a profile of one variant per run. Run variants interleaved:
other jobs share the CPU.
"""

import argparse
import asyncio
import dataclasses
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from textbooks.curate.annotate import AnnotateConfig, build_request, parse_score, sample_ids
from textbooks.data.datasets import Dataset
from textbooks.teacher import TeacherClient
from textbooks.teacher.server import EmbeddedTeacher

DEMO_SAMPLE = 100
DEMO_MAX_FILE_TOKENS = 384


def server_seconds(log: str) -> dict:
    """Sums of the server's llama_perf lines, one set per request."""
    def floats(pattern: str) -> list[float]:
        return [float(x) for x in re.findall(pattern, log)]

    return {"prompt_eval_s": round(sum(floats(r"prompt eval time =\s+([\d.]+) ms")) / 1000, 1),
            "prompt_eval_tokens": int(sum(floats(r"prompt eval time =\s+[\d.]+ ms /\s+(\d+) tokens"))),
            "eval_s": round(sum(floats(r"\s eval time =\s+([\d.]+) ms")) / 1000, 1),
            "total_s": round(sum(floats(r"total time =\s+([\d.]+) ms")) / 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="the demo curate stage's dedup output")
    parser.add_argument("--tag", required=True, help="names this variant's output files")
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=2)
    parser.add_argument("--annotate", type=json.loads, default={}, help="AnnotateConfig overrides, JSON")
    parser.add_argument("--out-dir", type=Path, default=None, help="default: a new temporary folder")
    argv = sys.argv[1:]
    ours, flags = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    args = parser.parse_args(ours)  # after `--`: the server's own flags
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="bench-annotate-"))
    out_dir.mkdir(parents=True, exist_ok=True)

    dataset = Dataset.open(args.dataset)
    config = AnnotateConfig(sample=DEMO_SAMPLE, max_file_tokens=DEMO_MAX_FILE_TOKENS, **args.annotate)
    wanted = set(sample_ids(dataset, DEMO_SAMPLE, config.seed))
    records = [r for r in dataset.iter_records() if r["id"] in wanted][: args.files]
    requests = [build_request(config, "m", r["text"]) for r in records]
    answers = {}

    async def ask(teacher: EmbeddedTeacher) -> None:
        config = dataclasses.replace(teacher.config(), max_in_flight=args.in_flight)
        async with TeacherClient(config) as client:
            await client.run(requests, on_answer=lambda answer: answers.__setitem__(answer.key, answer))

    # The server's flags are EmbeddedTeacher's (n_threads: its default unless given after --), then SERVER FLAGS.
    with EmbeddedTeacher(model_name="m", server_args=tuple(flags)) as teacher:
        started = time.perf_counter()
        asyncio.run(ask(teacher))
        wall = time.perf_counter() - started
        log = teacher.log_tail(chars=10**8)
    log_path = out_dir / f"server-{args.tag}.log"
    log_path.write_text(log)
    rows = [None if (a := answers.get(r.key)) is None else
            {"text": a.text, "prompt_tokens": a.prompt_tokens, "completion_tokens": a.completion_tokens,
             "score": parse_score(a.text)} for r in requests]
    summary = {"tag": args.tag, "wall_s": round(wall, 1), "files": len(requests), **server_seconds(log),
               "prompt_tokens": sum(r["prompt_tokens"] for r in rows if r),
               "completion_tokens": sum(r["completion_tokens"] for r in rows if r), "load": os.getloadavg()[0],
               "answers": str(out_dir / f"answers-{args.tag}.json")}
    (out_dir / f"answers-{args.tag}.json").write_text(json.dumps({"summary": summary, "answers": rows}))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
