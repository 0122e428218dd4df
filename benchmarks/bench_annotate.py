"""The demo's annotation on llama.cpp's server with given flags: where each request's seconds go.

    python benchmarks/bench_annotate.py DEDUP_DATASET --tag A [--files 20] [--in-flight 2] \
        [--annotate '{"max_file_tokens": 256}'] [--out-dir DIR] -- [SERVER FLAGS...]
    e.g. ... runs/demo/stages/code-*/dedup --tag B -- --n_threads 1 --logits_all false

The first FILES of the demo's annotate sample (sample 100, max_file_tokens 384) are sent as the
curate stage sends them, to the server `EmbeddedTeacher` starts (`textbooks.teacher.llama_server`)
with the SERVER FLAGS added. Prints one JSON line: wall seconds, and the server's own prompt-eval
and eval seconds and token counts (from its llama_perf lines). Writes the answers to
OUT_DIR/answers-TAG.json and the server log to OUT_DIR/server-TAG.log, to compare variants'
answers. Not a side-by-side table: a profile of one variant per run. Run variants interleaved:
other jobs share the CPU.
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from textbooks.curate.annotate import AnnotateConfig, build_request, parse_score, sample_ids
from textbooks.data.datasets import Dataset
from textbooks.teacher import TeacherClient, TeacherConfig
from textbooks.teacher.server import cpu_has_amx, find_smollm2_gguf, free_port

DEMO_SAMPLE = 100
DEMO_MAX_FILE_TOKENS = 384


def start_server(port: int, flags: list[str], log_path: Path) -> subprocess.Popen:
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "textbooks.teacher.llama_server", "--extra_buffers",
                                   str(not cpu_has_amx()).lower(), "--model", str(find_smollm2_gguf()), "--model_alias", "m",
                                   "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", *flags],
                                  stdout=log, stderr=subprocess.STDOUT)
    for _ in range(400):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.25)
    server.kill()
    sys.exit(f"the server did not start; its log: {log_path}")


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
    port, log_path = free_port(), out_dir / f"server-{args.tag}.log"
    server = start_server(port, flags, log_path)
    answers = {}

    async def ask() -> None:
        teacher = TeacherConfig(endpoints=[f"http://127.0.0.1:{port}/v1"], model="m", max_in_flight=args.in_flight)
        async with TeacherClient(teacher) as client:
            await client.run(requests, on_answer=lambda answer: answers.__setitem__(answer.key, answer))

    try:
        started = time.perf_counter()
        asyncio.run(ask())
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
    rows = [None if (a := answers.get(r.key)) is None else
            {"text": a.text, "prompt_tokens": a.prompt_tokens, "completion_tokens": a.completion_tokens,
             "score": parse_score(a.text)} for r in requests]
    summary = {"tag": args.tag, "wall_s": round(wall, 1), "files": len(requests), **server_seconds(log_path.read_text()),
               "prompt_tokens": sum(r["prompt_tokens"] for r in rows if r),
               "completion_tokens": sum(r["completion_tokens"] for r in rows if r), "load": os.getloadavg()[0],
               "answers": str(out_dir / f"answers-{args.tag}.json")}
    (out_dir / f"answers-{args.tag}.json").write_text(json.dumps({"summary": summary, "answers": rows}))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
