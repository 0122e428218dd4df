"""Throughput of the warm-worker sandbox against a fresh interpreter per program.

    python benchmarks/bench_sandbox.py [--programs 200] [--workers 2] [--repeats 3]

Ways to run the same small HumanEval-like programs (a function and its asserts), each with
`--workers` programs at a time:
  warm sandbox             textbooks.eval.sandbox.Sandbox: fork a warm sandboxed worker per program
  warm sandbox, unshare    the same at the weaker levels (what a machine without bwrap gets)
  warm sandbox, rlimits
  fresh bwrap              a new `bwrap ... python -I -c PROGRAM` per program (our bwrap options)
  plain subprocess         `python -I -c PROGRAM` per program, no isolation at all
Prints programs/s (median of the repeats), each one's ratio to the warm sandbox, and the CPU time
each program cost all processes together (ours and every child, pool start-up included): on a
shared machine the wall clock depends on the neighbours, the CPU time much less.
"""

import argparse
import resource
import statistics
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

from textbooks.eval.sandbox import Limits, Sandbox, _plan


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


def warm_sandbox(programs: list[str], workers: int, isolation: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the weaker levels warn; here that is the point
        sandbox = Sandbox(workers=workers, isolation=isolation)
    with sandbox:  # starting the pool is not part of the timing
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
    """CPU time of this process and of every child it has waited for (and theirs, recursively)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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
    contenders = {"warm sandbox": lambda: warm_sandbox(programs, args.workers, "auto")}
    for isolation in ("unshare", "rlimits"):
        contenders[f"warm sandbox, {isolation}"] = lambda i=isolation: warm_sandbox(programs, args.workers, i)
    if bwrap is not None:
        contenders["fresh bwrap"] = lambda: one_process_each(list(bwrap.prefix), programs, args.workers)
    contenders["plain subprocess"] = lambda: one_process_each([], programs, args.workers)
    rates, cpu_ms = {}, {}
    for name, contender in contenders.items():
        seconds, cpu = zip(*(measure(contender) for _ in range(args.repeats)))
        rates[name] = args.programs / statistics.median(seconds)
        cpu_ms[name] = 1000 * statistics.median(cpu) / args.programs
    level = f", isolation {bwrap.level}" if bwrap else ""
    print(f"{args.programs} programs, {args.workers} workers, median of {args.repeats}{level}\n")
    print("| way | programs/s | vs warm sandbox | CPU ms per program |")
    print("| --- | ---: | ---: | ---: |")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.0f} | {rate / rates['warm sandbox']:.2f}x | {cpu_ms[name]:.1f} |")


if __name__ == "__main__":
    main()
