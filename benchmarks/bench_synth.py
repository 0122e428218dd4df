"""Throughput of the shared text tools the synth and curation stages lean on, side by side.

    python benchmarks/bench_synth.py [--files 200] [--repeats 3]

Inputs: real Python files from the standard library (2-20 KB each), and exercise-sized texts
(about 200 characters). Rows: the two embedders, near-dedup, MinHash with permutations drawn per
text (datasketch's default) versus once (what NearDedup does), and the exercise check (parse,
lay out, run in the sandbox). Each number is the median of `repeats` runs.
"""

from __future__ import annotations

import argparse
import statistics
import sysconfig
import time
from pathlib import Path

from datasketch import MinHash

from textbooks.data.dedup import SCHEME, NearDedup, shingles
from textbooks.data.embed import HashingEmbedder, MiniLMEmbedder
from textbooks.sandbox import Sandbox
from textbooks.synth.exercises import layout_exercise


def stdlib_texts(count: int) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py") if 2_000 < p.stat().st_size < 20_000)[:count]
    return [p.read_text(encoding="utf-8") for p in files]


def rate(work, items: int, repeats: int) -> float:
    """Items per second, median over `repeats`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return items / statistics.median(times)


def dedup_all(texts: list[str]) -> None:
    dedup = NearDedup()
    for i, text in enumerate(texts):
        dedup.add(str(i), text)


def minhash(texts: list[str], permutations=None) -> None:
    for text in texts:
        MinHash(num_perm=128, seed=1, scheme=SCHEME, permutations=permutations).update_batch(list(shingles(text, 5)))


EXERCISE = '''from typing import List


def running_total(values: List[int]) -> List[int]:
    """Prefix sums.

    >>> running_total([1, 2, 3])
    [1, 3, 6]
    """
    total, out = 0, []
    for v in values:
        total += v
        out.append(total)
    return out
'''


def check_exercises(sandbox: Sandbox, count: int) -> None:
    programs = []
    for i in range(count):
        prompt, solution, tests = layout_exercise(EXERCISE, "running_total", [f"assert running_total([{i}]) == [{i}]"])
        programs.append((i, prompt + solution + "\n" + "\n".join(tests) + "\n"))
    assert all(outcome.passed for _, outcome in sandbox.run_many(programs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    texts = stdlib_texts(args.files)
    n = len(texts)
    hashing = HashingEmbedder()
    minilm = MiniLMEmbedder()
    short = [f"def add_{i}(x: int) -> int:\n    \"\"\"Return x plus {i}.\"\"\"\n    return x + {i}\n" * 2 for i in range(2000)]
    permutations = MinHash(num_perm=128, seed=1, scheme=SCHEME).permutations
    # (input, what, items/s, the row it is compared with)
    rows = [
        ("stdlib files", "embed: HashingEmbedder", rate(lambda: hashing.embed(texts), n, args.repeats), None),
        ("stdlib files", "embed: MiniLMEmbedder (256 word pieces)", rate(lambda: minilm.embed(texts), n, args.repeats), 0),
        ("stdlib files", "dedup: NearDedup.add (exact + MinHash LSH)", rate(lambda: dedup_all(texts), n, args.repeats), None),
        ("short texts", "MinHash, permutations drawn per text", rate(lambda: minhash(short), len(short), args.repeats), None),
        ("short texts", "MinHash, permutations drawn once", rate(lambda: minhash(short, permutations), len(short), args.repeats), 3),
        ("short texts", "dedup: NearDedup.add (exact + MinHash LSH)", rate(lambda: dedup_all(short), len(short), args.repeats), 4),
    ]
    with Sandbox(workers=2) as sandbox:
        rows.append(("exercises", f"check: layout + sandbox ({sandbox.isolation_level}, 2 workers)",
                     rate(lambda: check_exercises(sandbox, 50), 50, args.repeats), None))
    print(f"{n} stdlib files, {len(short)} short texts; median of {args.repeats}\n")
    print(f"| {'input':<12} | {'what':<52} | {'items/s':>9} | {'ratio':>14} |")
    print(f"| {'-' * 12} | {'-' * 52} | {'-' * 8}: | {'-' * 13}: |")
    for number, (inputs, name, value, baseline) in enumerate(rows):
        ratio = f"{value / rows[baseline][2]:.2f}x row {baseline + 1}" if baseline is not None else ""
        print(f"| {inputs:<12} | {f'{number + 1}. {name}':<52} | {value:>9.1f} | {ratio:>14} |")


if __name__ == "__main__":
    main()
