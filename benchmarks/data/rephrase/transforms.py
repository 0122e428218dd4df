"""Rewrites that keep a program's behaviour and change its text: what a rephrased copy of a
benchmark problem looks like (LMSYS's llm-decontaminator: renamed, reworded, restructured).

  rename_all        every name the program defines (functions, arguments, locals) gets a new one
  loops_to_while    `for` loops without `continue` become index-driven `while` loops
  comps_to_loops    list comprehensions assigned or returned become explicit loops
  reword            a docstring's prose reworded word by word, its doctest examples rewritten as prose
"""

from __future__ import annotations

import ast
import builtins
import keyword
import random
import re

from textbooks.decontam import planted

_KEPT = set(keyword.kwlist) | set(dir(builtins)) | {"self", "cls"}
# Word-level synonyms for identifier parts and docstring prose (hand-picked, meaning-preserving).
SYNONYMS = {
    "number": "value", "numbers": "values", "num": "val", "nums": "vals", "list": "seq", "lst": "items", "arr": "items",
    "string": "text", "strings": "texts", "str": "txt", "s": "txt", "word": "token", "words": "tokens", "count": "tally",
    "result": "out", "res": "acc", "ans": "outcome", "i": "idx", "j": "pos", "k": "step", "n": "size", "x": "elem",
    "y": "other", "a": "first", "b": "second", "c": "third", "l": "values", "arr1": "left", "arr2": "right",
    "total": "running", "sum": "summed", "max": "top", "min": "low", "index": "position", "idx": "cursor",
    "find": "locate", "get": "fetch", "check": "test", "is": "looks", "has": "holds", "sort": "order", "sorted": "ordered",
    "remove": "drop", "count_": "tally_", "first": "initial", "last": "final", "char": "symbol", "chars": "symbols",
    "text": "phrase", "element": "entry", "elements": "entries", "threshold": "limit", "delimiter": "separator",
    "prefix": "head", "suffix": "tail", "substring": "fragment", "length": "size", "len": "size", "value": "amount",
    "values": "amounts", "key": "label", "dict": "mapping", "tup": "group", "tuple": "group", "test": "probe",
    "even": "paired", "odd": "unpaired", "prime": "indivisible", "digits": "figures", "digit": "figure",
    "temp": "scratch", "tmp": "scratch", "item": "thing", "items": "things", "m": "width", "p": "base", "q": "other",
    "operations": "steps", "balance": "funds", "paren": "bracket", "groups": "clusters", "group": "cluster",
    "sequence": "series", "vowels": "vowel_set", "upper": "capital", "lower": "small", "start": "begin", "end": "stop",
}
PROSE = {
    "return": "give back", "returns": "gives back", "Return": "Give back", "Returns": "Gives back", "given": "supplied",
    "Given": "Supplied", "list": "sequence", "lists": "sequences", "string": "text", "strings": "texts",
    "number": "value", "numbers": "values", "Check": "Determine", "check": "determine", "whether": "if",
    "function": "routine", "Write": "Implement", "write": "implement", "find": "work out", "Find": "Work out",
    "element": "item", "elements": "items", "integer": "whole number", "integers": "whole numbers",
    "input": "argument", "each": "every", "first": "initial", "last": "final", "largest": "biggest",
    "smallest": "tiniest", "maximum": "greatest", "minimum": "least", "count": "tally", "number of": "how many",
    "contains": "holds", "contain": "hold", "example": "instance", "For": "As", "two": "2", "three": "3",
    "positive": "strictly positive", "sum": "total", "product": "multiplication result", "remove": "drop",
    "characters": "letters", "character": "letter", "words": "terms", "word": "term", "array": "sequence",
    "between": "among", "closer": "nearer", "than": "compared with", "any": "some", "all": "every",
    "if": "when", "If": "When", "otherwise": "else", "Otherwise": "Else", "should": "must", "you": "we",
    "You": "We", "are": "get", "is": "gets", "the": "that", "The": "That", "a": "one", "an": "one",
}
_FILLER = ("helper", "calc", "compute", "do", "get", "make", "solve")


def _new_name(name: str, rng: random.Random, taken: set[str], function: bool) -> str:
    parts = [SYNONYMS.get(part, part) for part in name.split("_") if part]
    candidate = "_".join(parts) or name
    if candidate == name or candidate in taken:
        candidate = (f"{rng.choice(_FILLER)}_{candidate}" if function else f"{candidate}_{rng.choice(('v', 'val', 'x', 'it'))}")
    while candidate in taken or keyword.iskeyword(candidate) or candidate in _KEPT:
        candidate += "_"
    taken.add(candidate)
    return candidate


def defined_names(tree: ast.AST) -> list[str]:
    return planted.defined_names(tree, _KEPT)


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def visit_Name(self, node):
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.mapping.get(node.arg, node.arg)
        return self.generic_visit(node)

    def visit_FunctionDef(self, node):
        node.name = self.mapping.get(node.name, node.name)
        return self.generic_visit(node)

    def visit_keyword(self, node):
        node.arg = self.mapping.get(node.arg, node.arg) if node.arg else node.arg
        return self.generic_visit(node)


def rename_all(tree: ast.Module, rng: random.Random) -> dict[str, str]:
    """Renames in place; returns the mapping (old -> new)."""
    functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    taken = set(defined_names(tree))
    mapping = {name: _new_name(name, rng, taken, name in functions) for name in defined_names(tree)}
    _Rename(mapping).visit(tree)
    return mapping


class _LoopsToWhile(ast.NodeTransformer):
    def __init__(self) -> None:
        self.counter = 0
        self.changed = 0

    def visit_For(self, node):
        self.generic_visit(node)
        if any(isinstance(n, ast.Continue) for n in ast.walk(node)) or not isinstance(node.target, ast.Name):
            return node
        self.counter += 1
        self.changed += 1
        pos = f"pos{self.counter}"
        call = node.iter
        is_range = (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"
                    and not call.keywords and 1 <= len(call.args) <= 2)
        if is_range:
            start, stop = (call.args if len(call.args) == 2 else [ast.Constant(0), call.args[0]])
            bound = f"stop{self.counter}"
            code = (f"{pos} = START\n{bound} = STOP\nwhile {pos} < {bound}:\n    {node.target.id} = {pos}\n"
                    f"    BODY\n    {pos} += 1\n")
            setup = ast.parse(code).body
            setup[0].value, setup[1].value = start, stop
        else:
            seq = f"seq{self.counter}"
            code = f"{seq} = list(ITER)\n{pos} = 0\nwhile {pos} < len({seq}):\n    {node.target.id} = {seq}[{pos}]\n    BODY\n    {pos} += 1\n"
            setup = ast.parse(code).body
            setup[0].value.args[0] = node.iter
        loop = setup[-1]
        loop.body = [loop.body[0], *node.body, loop.body[-1]]
        loop.orelse = node.orelse
        return setup


def loops_to_while(tree: ast.Module) -> int:
    transformer = _LoopsToWhile()
    transformer.visit(tree)
    return transformer.changed


def _comp_loop(target: str, comp: ast.ListComp) -> list[ast.stmt]:
    body: list[ast.stmt] = [ast.parse(f"{target}.append(0)").body[0]]
    body[0].value.args[0] = comp.elt
    for generator in reversed(comp.generators):
        for condition in reversed(generator.ifs):
            body = [ast.If(test=condition, body=body, orelse=[])]
        body = [ast.For(target=generator.target, iter=generator.iter, body=body, orelse=[])]
    return [ast.parse(f"{target} = []").body[0], *body]


class _CompsToLoops(ast.NodeTransformer):
    def __init__(self) -> None:
        self.changed = 0

    def visit_Assign(self, node):
        if (len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.ListComp)
                and not any(g.is_async for g in node.value.generators)):
            self.changed += 1
            return _comp_loop(node.targets[0].id, node.value)
        return node

    def visit_Return(self, node):
        if isinstance(node.value, ast.ListComp):
            self.changed += 1
            return [*_comp_loop("collected", node.value), ast.parse("return collected").body[0]]
        return node


def comps_to_loops(tree: ast.Module) -> int:
    transformer = _CompsToLoops()
    transformer.visit(tree)
    return transformer.changed


_DOCTEST = re.compile(r">>>\s*(.+?)\n\s*(.+?)(?:\n|$)")


def reword(doc: str, mapping: dict[str, str]) -> str:
    """Prose words swapped for synonyms, renamed identifiers followed, doctest lines as sentences."""
    examples = [f"calling {call.strip()} gives {out.strip()}" for call, out in _DOCTEST.findall(doc + "\n")]
    prose = re.split(r"\n\s*>>>|\n\s*(?:Example|For example|Examples)\b", doc)[0]
    prose = re.sub(r"\b[A-Za-z_]+\b", lambda m: mapping.get(m.group(), PROSE.get(m.group(), m.group())), prose)
    prose = " ".join(prose.split())
    sentences = [prose] + ([("E.g. " + "; ".join(examples) + ".")] if examples else [])
    for old, new in mapping.items():
        sentences = [re.sub(rf"\b{re.escape(old)}\b", new, s) for s in sentences]
    return "\n".join(sentences)
