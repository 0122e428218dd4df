"""How close is each novel problem to a HumanEval or MBPP problem? Writes benchmarks/data/novel.md.

For every novel problem, the nearest benchmark problem by its description (the docstring against
HumanEval's prompt or MBPP's text, words compared order-free: rapidfuzz's token_sort_ratio) and by
its code (the reference solution against the benchmark's, characters compared: rapidfuzz's ratio),
each 0-100. A stand-in until the decontamination stage (`textbooks decontam`, n-gram, embedding and
AST tiers) can be run over the set.

    python scripts/novel_nearest.py [--benchmarks DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import re
from pathlib import Path

from rapidfuzz import fuzz, process

REPO = Path(__file__).resolve().parents[1]
NOVEL = REPO / "src" / "textbooks" / "eval" / "data" / "novel.jsonl"
DEFAULT_BENCHMARKS = REPO.parent / "shared" / "assets" / "benchmarks"
DEFAULT_OUT = NOVEL.with_name("novel.md")


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def code(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def docstring(prompt: str) -> str:
    function = next(n for n in ast.parse(prompt + "    pass\n").body if isinstance(n, ast.FunctionDef))
    return ast.get_docstring(function) or ""


def benchmark_problems(directory: Path) -> list[tuple[str, str, str]]:
    """(id, description, code) of HumanEval's 164 problems and all 974 of MBPP."""
    problems = []
    with gzip.open(directory / "HumanEvalPlus.jsonl.gz", "rt", encoding="utf-8") as f:  # HumanEval's prompts and solutions
        for row in map(json.loads, f):
            problems.append((row["task_id"], row["prompt"], row["canonical_solution"]))
    with open(directory / "mbpp.jsonl", encoding="utf-8") as f:
        for row in map(json.loads, f):
            problems.append((f"MBPP/{row['task_id']}", row["text"], row["code"]))
    return problems


def nearest(novel: list[dict], problems: list[tuple[str, str, str]]) -> list[dict]:
    ids = [p[0] for p in problems]
    descriptions = [words(p[1]) for p in problems]
    codes = [code(p[2]) for p in problems]
    rows = []
    for task in novel:
        _, by_words, i = process.extractOne(words(docstring(task["prompt"])), descriptions, scorer=fuzz.token_sort_ratio)
        _, by_code, j = process.extractOne(code(task["canonical_solution"]), codes, scorer=fuzz.ratio)
        rows.append({"task_id": task["task_id"], "entry_point": task["entry_point"],
                     "description": (ids[i], round(by_words)), "code": (ids[j], round(by_code))})
    return rows


def calibration(problems: list[tuple[str, str, str]]) -> dict[str, tuple[int, int]]:
    """The same two nearest-match scores of HumanEval's problems among MBPP's: (median, max) of each,
    what two benchmarks written apart, over the same ordinary concepts, look like."""
    humaneval = [p for p in problems if p[0].startswith("HumanEval/")]
    mbpp = [p for p in problems if p[0].startswith("MBPP/")]
    descriptions, codes = [words(p[1]) for p in mbpp], [code(p[2]) for p in mbpp]
    by_words = sorted(process.extractOne(words(p[1]), descriptions, scorer=fuzz.token_sort_ratio)[1] for p in humaneval)
    by_code = sorted(process.extractOne(code(p[2]), codes, scorer=fuzz.ratio)[1] for p in humaneval)
    return {"description": (round(by_words[len(by_words) // 2]), round(by_words[-1])),
            "code": (round(by_code[len(by_code) // 2]), round(by_code[-1]))}


def table(rows: list[dict], n_problems: int, baseline: dict[str, tuple[int, int]]) -> str:
    worst_words = max(r["description"][1] for r in rows)
    worst_code = max(r["code"][1] for r in rows)
    median_words = sorted(r["description"][1] for r in rows)[len(rows) // 2]
    median_code = sorted(r["code"][1] for r in rows)[len(rows) // 2]
    lines = [
        "# The `novel` benchmark: nearest HumanEval and MBPP problems",
        "",
        "Written by `scripts/novel_nearest.py` (rerun it after changing a problem). For each of the 50",
        f"problems, the nearest of {n_problems} benchmark problems (HumanEval's 164, MBPP's 974) by its",
        "description (docstring against HumanEval's prompt or MBPP's text, words order-free:",
        "rapidfuzz `token_sort_ratio`) and by its reference code (rapidfuzz `ratio` over the code with",
        "whitespace collapsed), 0-100; 100 is a copy.",
        "",
        f"- novel against both: description median {median_words}, max {worst_words}; code median {median_code}, max {worst_code}.",
        f"- for scale, HumanEval's 164 against MBPP's 974: description median {baseline['description'][0]}, "
        f"max {baseline['description'][1]}; code median {baseline['code'][0]}, max {baseline['code'][1]}.",
        "",
        "This is a stand-in: run the set through `textbooks decontam` (n-gram, embedding and AST tiers)",
        "once that stage exists, and record its report here.",
        "",
        "| task | function | nearest by description | score | nearest by code | score |",
        "| --- | --- | --- | ---: | --- | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['task_id']} | `{r['entry_point']}` | {r['description'][0]} | {r['description'][1]} "
                     f"| {r['code'][0]} | {r['code'][1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS, help="HumanEvalPlus.jsonl.gz and mbpp.jsonl")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    novel = [json.loads(line) for line in open(NOVEL, encoding="utf-8")]
    problems = benchmark_problems(args.benchmarks)
    args.out.write_text(table(nearest(novel, problems), len(problems), calibration(problems)), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
