"""Throughput of the warm-worker sandbox against a fresh interpreter per program.

    python benchmarks/bench_sandbox.py [--programs 200] [--workers 2] [--repeats 3]

Ways to run the same small HumanEval-like programs (a function and its asserts), each with
`--workers` programs at a time:
  warm, bwrap+uid ...      textbooks.sandbox.Sandbox: fork a warm sandboxed worker per program,
                           at each isolation level that starts here (bwrap, namespaces -- what a
                           machine without bubblewrap gets --, unshare, rlimits)
  fresh bwrap              a new `bwrap ... python -I -c PROGRAM` per program (our bwrap options)
  plain subprocess         `python -I -c PROGRAM` per program, no isolation at all
Prints programs/s (median of the repeats), each one's ratio to the first warm level, and the CPU
time each program cost all processes together (ours and every child; starting the pool is not
included): on a shared machine the wall clock depends on the neighbours, the CPU time much less.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from textbooks.errors import UserError
from textbooks.sandbox.pool import ISOLATIONS, Limits, Sandbox, _plan


def make_programs(count: int) -> list[str]:
    template = (
        "def running_max(numbers):\n"
        "    best, out = None, []\n"
        "    for n in numbers:\n"
        "        best = n if best is None else max(best, n)\n"
        "        out.append(best)\n"
        "    return out\n"
        "assert running_max([{i}, 1, {j}]) == [{i}, max({i}, 1), max({i}, 1, {j})]\n"
    )
    return [template.format(i=i, j=i * 7 % 13) for i in range(count)]


def start_sandbox(workers: int, isolation: str) -> Sandbox | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the weaker levels warn; here that is the point
        try:
            return Sandbox(workers=workers, isolation=isolation)
        except UserError as error:
            print(f"skipped: {error}")
            return None


def warm_sandbox(sandbox: Sandbox, programs: list[str]) -> float:
    started = time.perf_counter()
    outcomes = [outcome for _, outcome in sandbox.run_many(enumerate(programs))]
    elapsed = time.perf_counter() - started
    assert all(outcome.passed for outcome in outcomes), [o for o in outcomes if not o.passed][:1]
    return elapsed


def one_process_each(prefix: list[str], programs: list[str], workers: int) -> float:
    def run(program: str) -> int:
        argv = [*prefix, sys.executable, "-I", "-c", program]
        return subprocess.run(argv, capture_output=True, timeout=60).returncode

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        codes = list(pool.map(run, programs))
    elapsed = time.perf_counter() - started
    assert codes == [0] * len(programs), codes
    return elapsed


def cpu_seconds_used() -> float:
    """CPU time of this process, of every child it has waited for, and of every live descendant
    (the warm workers and what they reaped: they outlive a measurement)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + sum(map(tree_cpu, descendants()))


def descendants(pid: int | None = None) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid or os.getpid()}/task").iterdir():
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def tree_cpu(pid: int) -> float:
    """utime + stime + cutime + cstime of a live process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def measure(contender) -> tuple[float, float]:
    """(wall seconds as the contender reports them, CPU seconds used meanwhile)."""
    cpu_before = cpu_seconds_used()
    seconds = contender()
    return seconds, cpu_seconds_used() - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    programs = make_programs(args.programs)
    bwrap = _plan("bwrap", Limits(), scratch="/tmp")
    sandboxes = {isolation: start_sandbox(args.workers, isolation) for isolation in ISOLATIONS if isolation != "auto"}
    # Started once and kept: the pool's start-up is not part of the timing.
    contenders = {f"warm, {box.isolation_level}": lambda box=box: warm_sandbox(box, programs)
                  for box in sandboxes.values() if box is not None}
    if not isinstance(bwrap, str):
        contenders["fresh bwrap"] = lambda: one_process_each(list(bwrap.prefix), programs, args.workers)
    contenders["plain subprocess"] = lambda: one_process_each([], programs, args.workers)
    rates, cpu_ms = {}, {}
    try:
        for _ in range(args.repeats):  # interleaved, so that a change in the load hits every contender
            for name, contender in contenders.items():
                seconds, cpu = measure(contender)
                rates.setdefault(name, []).append(args.programs / seconds)
                cpu_ms.setdefault(name, []).append(1000 * cpu / args.programs)
    finally:
        for box in sandboxes.values():
            if box is not None:
                box.close()
    rate = {name: statistics.median(values) for name, values in rates.items()}
    cpu = {name: statistics.median(values) for name, values in cpu_ms.items()}
    first = next(iter(rate))
    print(f"\n{args.programs} programs, {args.workers} workers, median of {args.repeats}\n")
    print(f"| way | programs/s | vs {first} | CPU ms per program | CPU vs {first} |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in rate:
        print(f"| {name} | {rate[name]:.0f} | {rate[name] / rate[first]:.2f}x | {cpu[name]:.1f} | {cpu[name] / cpu[first]:.2f}x |")


if __name__ == "__main__":
    main()
