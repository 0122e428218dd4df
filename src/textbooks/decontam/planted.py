"""A planted set to measure recall: clean exercises with known copies of benchmark problems among them.

No tool in this space measures its own recall; this makes it measurable. `clean_exercises` writes
procedurally generated CodeExercises (HumanEval layout: signature, docstring, a body of several
random statements), `plant` turns benchmark problems into contaminated records of a known kind:

  verbatim     the problem's program as is
  renamed      every identifier it defines renamed (layout kept)
  reformatted  re-laid out by `ast.unparse` (quotes, spacing, blank lines, comments gone)
  paraphrased  the docstring (or MBPP's problem text) reworded; the code kept
  partial      the program inside a longer file, between unrelated functions
"""

from __future__ import annotations

import ast
import builtins
import keyword
import random
import re
from collections.abc import Collection, Sequence
from typing import Any

from textbooks.benchmarks import Problem
from textbooks.decontam.ast_match import parse_quietly

PLANT_KINDS = ("verbatim", "renamed", "reformatted", "paraphrased", "partial")

_WORDS = ("value item count total index element number string list word letter key score weight price "
          "record entry row column table pair window prefix suffix digit vowel").split()
_VERBS = "compute find return count collect merge filter rotate scale shift group rank".split()
_STATEMENTS = (
    "{acc} = {k}",
    "for {x} in {seq}:\n    if {x} {cmp} {k}:\n        {acc} += {x}",
    "{res} = [{x} * {k} for {x} in {seq} if {x} % {k2} == 0]",
    "while {acc} > {k}:\n    {acc} //= {k2} + 1",  # + 1: k2 may be 1, which would loop forever
    "{d} = {{}}\nfor {x} in {seq}:\n    {d}[{x}] = {d}.get({x}, 0) + 1",
    "{res} = sorted({seq}, reverse={flag})",
    "if not {seq}:\n    return {k}",
    "{acc} = max({acc}, len({seq}) - {k})",
    "for {i}, {x} in enumerate({seq}):\n    if {i} % {k} == {k2}:\n        {acc} -= {x}",
    "{res} = {seq}[{k}:] + {seq}[:{k}]",
    "{acc} = sum({x} ** 2 for {x} in {seq}) % {k2}",
    "try:\n    {acc} = {seq}.index({k})\nexcept ValueError:\n    {acc} = -1",
)
_PARAPHRASE = {
    "return": "give back", "returns": "gives back", "write": "create", "function": "routine", "find": "determine",
    "given": "provided", "list": "sequence", "lists": "sequences", "string": "text", "strings": "texts",
    "number": "value", "numbers": "values", "check": "test", "whether": "if", "the": "the", "of": "from among",
    "an": "one", "a": "one", "all": "every", "elements": "items", "element": "item", "integer": "whole number",
    "integers": "whole numbers", "input": "argument", "count": "tally", "each": "every", "first": "initial",
}


def _name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}" if rng.random() < 0.6 else rng.choice(_WORDS) + str(rng.randrange(10))
        if name not in taken:
            taken.add(name)
            return name


def clean_exercise(rng: random.Random, index: int) -> dict[str, Any]:
    taken: set[str] = set()
    function = f"{rng.choice(_VERBS)}_{rng.choice(_WORDS)}_{index}"
    seq, acc = _name(rng, taken), _name(rng, taken)
    slots = {"seq": seq, "acc": acc, "res": _name(rng, taken), "d": _name(rng, taken), "x": _name(rng, taken),
             "i": _name(rng, taken)}
    body = [f"{acc} = {rng.randrange(10)}"]
    for template in rng.sample(_STATEMENTS, rng.randrange(3, 7)):
        body.append(template.format(**slots, k=rng.randrange(1, 9), k2=rng.randrange(1, 5), cmp=rng.choice("<>"),
                                    flag=rng.choice((True, False))))
    body.append(f"return {acc}")
    doc = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(8, 20)))
    prompt = (f"from typing import List\n\n\ndef {function}({seq}: List[int]) -> int:\n"
              f'    """{rng.choice(_VERBS).capitalize()} the {doc}.\n    """\n')
    solution = "".join("    " + line + "\n" for statement in body for line in statement.split("\n"))
    return {"id": f"clean-{index}", "prompt": prompt, "solution": solution, "text": prompt + solution}


def clean_exercises(count: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [clean_exercise(rng, i) for i in range(count)]


RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins))  # names a rename must leave alone


def defined_names(tree: ast.AST, kept: Collection[str] = RESERVED) -> list[str]:
    """The names a program defines (functions, classes, arguments, assigned names), first seen first."""
    names: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = None
        elif isinstance(node, ast.arg):
            names[node.arg] = None
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names[node.id] = None
    return [name for name in names if name not in kept]


def renamed(program: str, rng: random.Random) -> str:
    defined = defined_names(parse_quietly(program))
    taken = set(defined)
    mapping = {name: _name(rng, taken) for name in defined}
    if not mapping:
        return program
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(mapping, key=len, reverse=True))) + r")\b")
    return pattern.sub(lambda m: mapping[m.group()], program)


def paraphrased(text: str) -> str:
    return re.sub(r"\b[A-Za-z]+\b", lambda m: _PARAPHRASE.get(m.group(), m.group()), text)


def _reworded_docstrings(program: str) -> str:
    for node in ast.walk(parse_quietly(program)):
        doc = ast.get_docstring(node, clean=False) if isinstance(node, (ast.FunctionDef, ast.Module)) else None
        if doc and doc in program:
            program = program.replace(doc, paraphrased(doc), 1)
    return program


def plant(problem: Problem, kind: str, rng: random.Random, index: int) -> dict[str, Any]:
    """A contaminated exercise record made from `problem`; its id names the problem and the kind."""
    program = problem.program  # HumanEval: the docstring is in it
    if not program.startswith(problem.prompt):  # MBPP: the problem text becomes the module's docstring
        documented = (problem.prompt if problem.prompt.startswith('"""') else f'"""{problem.prompt}"""') + "\n" + program
        program = documented if parse_quietly(documented) is not None else program
    if kind == "renamed":
        program = renamed(program, rng)
    elif kind == "reformatted":
        program = ast.unparse(parse_quietly(program)) + "\n"
    elif kind == "paraphrased":
        program = _reworded_docstrings(program)
    elif kind == "partial":
        # Numbered past any clean set, so the functions around the copy have names of their own.
        before, after = clean_exercise(rng, 10**6 + 2 * index), clean_exercise(rng, 10**6 + 2 * index + 1)
        program = before["text"] + "\n\n" + problem.program + "\n\n" + after["text"]
    elif kind != "verbatim":
        raise ValueError(f"plant kind {kind!r}: expected one of {PLANT_KINDS}")
    return {"id": f"planted-{index}-{kind}-{problem.benchmark}-{problem.task_id}", "prompt": program, "solution": "",
            "text": program}


def planted_set(problems: Sequence[Problem], clean: int, per_kind: int, seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """`clean` clean exercises and `per_kind` plants of every kind (problems drawn with `seed`),
    shuffled; and {planted record id: its kind}. Problems that do not parse are not planted."""
    rng = random.Random(seed)
    parseable = [p for p in problems if parse_quietly(p.program) is not None]
    records = clean_exercises(clean, seed)
    kinds: dict[str, str] = {}
    for kind in PLANT_KINDS:
        for problem in rng.sample(parseable, per_kind):
            record = plant(problem, kind, rng, len(kinds))
            kinds[record["id"]] = kind
            records.append(record)
    rng.shuffle(records)
    return records, kinds

