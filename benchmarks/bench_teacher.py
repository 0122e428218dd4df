"""Teacher client throughput against a server that answers every request after 100 ms.

The server (tests/fault_server.py, asyncio) runs in its own process so it does not share the
client's event loop. The ideal rate at c requests in flight is c / 0.1 s. Baselines: a plain
sequential loop with the `openai` SDK, and the SDK's async client under an asyncio semaphore.

    python benchmarks/bench_teacher.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textbooks.teacher import TeacherClient, TeacherConfig, make_request

ROOT = Path(__file__).resolve().parents[1]
DELAY_S = 0.1
MODEL = "fault-model"


def messages(tag: str, i: int) -> list[dict]:
    return [{"role": "user", "content": f"{tag}-{i}"}]


def measured(run: Callable[[], None], n: int) -> tuple[float, float]:
    """(requests/s, client CPU ms per request): on a shared machine the CPU shows what the wall hides."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return n / (time.perf_counter() - wall), 1000 * (time.process_time() - cpu) / n


def ours(url: str, in_flight: int, n: int, tag: str, cache: Path | None = None) -> tuple[float, float]:
    requests = [make_request(MODEL, messages=messages(tag, i), max_tokens=16) for i in range(n)]

    async def main() -> None:
        config = TeacherConfig(endpoints=[url], model=MODEL, max_in_flight=in_flight)
        async with TeacherClient(config, cache=cache) as client:
            report = await client.run(requests)
            assert report.answered == n, report.summary()

    return measured(lambda: asyncio.run(main()), n)


def openai_sequential(url: str, in_flight: int, n: int, tag: str) -> tuple[float, float]:
    import openai

    client = openai.OpenAI(base_url=url, api_key="unused")

    def loop() -> None:
        for i in range(n):
            client.chat.completions.create(model=MODEL, messages=messages(tag, i), max_tokens=16)

    return measured(loop, n)


def openai_async(url: str, in_flight: int, n: int, tag: str) -> tuple[float, float]:
    import httpx
    import openai

    async def main() -> None:
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        client = openai.AsyncOpenAI(base_url=url, api_key="unused", http_client=httpx.AsyncClient(limits=limits))
        slots = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with slots:
                await client.chat.completions.create(model=MODEL, messages=messages(tag, i), max_tokens=16)

        await asyncio.gather(*(one(i) for i in range(n)))
        await client.close()

    return measured(lambda: asyncio.run(main()), n)


def start_server() -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_server.py"), "--delay", str(DELAY_S)], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().split()[1])
    return server, f"http://127.0.0.1:{port}/v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    server, url = start_server()
    tmp = Path(tempfile.mkdtemp(prefix="bench-teacher-"))
    # (name, function, in flight, requests): about 10 s of ideal time at low concurrency.
    cases = [
        ("openai SDK, sequential loop", openai_sequential, 1, 100),
        ("textbooks TeacherClient", ours, 1, 100),
        ("textbooks TeacherClient", ours, 8, 800),
        ("textbooks TeacherClient", ours, 64, 2000),
        ("textbooks TeacherClient + SQLite cache", lambda u, c, n, t: ours(u, c, n, t, tmp / f"{t}.sqlite"), 64, 2000),
        ("openai AsyncOpenAI + semaphore", openai_async, 64, 2000),
    ]
    rows = []
    try:
        for name, run, in_flight, n in cases:
            results = [run(url, in_flight, n, f"{name}-{in_flight}-{r}") for r in range(args.repeats)]
            rate, cpu_ms = (statistics.median(column) for column in zip(*results))
            rows.append((name, in_flight, n, rate, cpu_ms))
            print(f"  {name} @ {in_flight}: {[round(r, 1) for r, _ in results]} req/s", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait()
    sequential = rows[0][3]
    print(f"server answers after {DELAY_S * 1000:.0f} ms; medians of {args.repeats} runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| client | in flight | requests | req/s | ideal req/s | % of ideal | x openai sequential | client CPU ms/request |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, in_flight, n, rate, cpu_ms in rows:
        ideal = in_flight / DELAY_S
        print(f"| {name} | {in_flight} | {n} | {rate:.1f} | {ideal:.0f} | {100 * rate / ideal:.1f}% | {rate / sequential:.1f}x | {cpu_ms:.2f} |")


if __name__ == "__main__":
    main()
