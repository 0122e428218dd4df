"""The demo's annotation on llama.cpp's server with given flags: where each request's seconds go.

    python benchmarks/bench_annotate.py DEDUP_DATASET TAG FILES IN_FLIGHT '{ANNOTATE OVERRIDES}' [SERVER FLAGS...]
    e.g. ... runs/demo/stages/code-*/dedup A 20 2 '{}' --n_threads 1 --logits_all false

The first FILES of the demo's annotate sample (sample 100, max_file_tokens 384) are sent as the
curate stage sends them. Prints one JSON line: wall seconds, the server's own prompt-eval and
eval seconds and token counts (from its llama_perf lines); writes the answers to
/tmp/ds/res-TAG.json and the server log to /tmp/ds/server-TAG.log, to compare variants' answers.
Run variants interleaved: other jobs share the CPU.
"""
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from textbooks.curate.annotate import AnnotateConfig, build_request, parse_score, sample_ids
from textbooks.data.datasets import Dataset
from textbooks.teacher import TeacherClient, TeacherConfig
from textbooks.teacher.server import find_smollm2_gguf, free_port


def run(tag, extra, n, in_flight, cfg_over, out):
    ds = Dataset.open(sys.argv[1])
    cfg = AnnotateConfig(sample=100, max_file_tokens=384, **cfg_over)
    wanted = set(sample_ids(ds, 100, 0))
    records = [r for r in ds.iter_records() if r["id"] in wanted][:n]
    reqs = [build_request(cfg, "m", r["text"]) for r in records]
    port = free_port()
    log = open(f"/tmp/ds/server-{tag}.log", "w")
    p = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(find_smollm2_gguf()), "--model_alias", "m",
                          "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", *extra], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(400):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200: break
            except httpx.HTTPError: pass
            time.sleep(0.25)
        answers = {}
        async def main():
            async with TeacherClient(TeacherConfig(endpoints=[f"http://127.0.0.1:{port}/v1"], model="m", max_in_flight=in_flight)) as c:
                await c.run(reqs, on_answer=lambda a: answers.__setitem__(a.key, a))
        t = time.perf_counter()
        asyncio.run(main())
        wall = time.perf_counter() - t
    finally:
        p.terminate(); p.wait()
    text = Path(f"/tmp/ds/server-{tag}.log").read_text()
    pe = [float(x) for x in re.findall(r"prompt eval time =\s+([\d.]+) ms", text)]
    ev = [float(x) for x in re.findall(r"\s eval time =\s+([\d.]+) ms", text)]
    tot = [float(x) for x in re.findall(r"total time =\s+([\d.]+) ms", text)]
    pt = [int(x) for x in re.findall(r"prompt eval time =\s+[\d.]+ ms /\s+(\d+) tokens", text)]
    res = []
    for r in reqs:
        a = answers.get(r.key)
        res.append(None if a is None else {"text": a.text, "pt": a.prompt_tokens, "ct": a.completion_tokens, "score": parse_score(a.text)})
    summary = dict(tag=tag, wall=round(wall, 1), n=len(reqs), prompt_eval_s=round(sum(pe)/1000, 1), prompt_eval_tokens=sum(pt),
                   eval_s=round(sum(ev)/1000, 1), total_s=round(sum(tot)/1000, 1),
                   completion_tokens=sum(x["ct"] for x in res if x), prompt_tokens=sum(x["pt"] for x in res if x),
                   load=os.getloadavg()[0])
    print(json.dumps(summary), flush=True)
    json.dump({"summary": summary, "answers": res}, open(out, "w"))

if __name__ == "__main__":
    tag = sys.argv[2]; n = int(sys.argv[3]); inflight = int(sys.argv[4]); cfg_over = json.loads(sys.argv[5]); extra = sys.argv[6:]
    run(tag, extra, n, inflight, cfg_over, f"/tmp/ds/res-{tag}.json")
