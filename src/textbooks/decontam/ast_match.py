"""The AST match rate between two programs, as phi-1 (section 5) uses it to find near copies.

Defined exactly: both programs are parsed; every identifier (names, arguments, function, class and
attribute names, keywords, imports) is renamed to a placeholder `v0, v1, ...` in order of first
appearance; every literal is replaced by its type (`3` -> `int`, a docstring -> `str`); the
normalised tree is dumped (`ast.dump`, fields unannotated) and two dumps are compared by
Levenshtein distance (rapidfuzz, in C): the match rate is 1 - distance / longer length, in [0, 1].
A renamed or reformatted copy scores 1.0. Code that does not parse is compared the same way as
text with whitespace runs collapsed, and the caller counts it.
"""

from __future__ import annotations

import ast
import copy
import warnings
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

# What `ast.parse` raises for text that is not Python (ValueError: a null byte; RecursionError and
# MemoryError: absurd nesting).
NOT_PYTHON = (SyntaxError, ValueError, RecursionError, MemoryError)


@dataclass(frozen=True)
class Normalised:
    """A program ready to compare: its normalised dump (None if it did not parse) and its text with
    whitespace runs collapsed."""

    dump: str | None
    text: str

    @property
    def parsed(self) -> bool:
        return self.dump is not None


class _Placeholders(ast.NodeTransformer):
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def rename(self, name: str | None) -> str | None:
        return None if name is None else self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.rename(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self.rename(node.arg)
        return self.generic_visit(node)

    def _named(self, node):  # functions and classes: the name appears before the body
        node.name = self.rename(node.name)
        return self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _named

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        if node.type is not None:
            node.type = self.visit(node.type)
        node.name = self.rename(node.name)
        node.body = [self.visit(statement) for statement in node.body]
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        node.value = self.visit(node.value)
        node.attr = self.rename(node.attr)
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        node.arg = self.rename(node.arg)
        return self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> ast.AST:
        node.name = self.rename(node.name)
        node.asname = self.rename(node.asname)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        node.module = self.rename(node.module)
        return self.generic_visit(node)

    def _scoped(self, node):  # global / nonlocal
        node.names = [self.rename(name) for name in node.names]
        return node

    visit_Global = visit_Nonlocal = _scoped

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        node.value = type(node.value).__name__
        node.kind = None
        return node


def parse_quietly(code: str) -> ast.Module | None:
    """The tree of `code`, or None if it is not Python."""
    try:
        with warnings.catch_warnings():  # old code's invalid escapes ("\d") warn on every parse
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except NOT_PYTHON:
        return None


def normalised_dump(tree: ast.AST) -> str:
    """The dump of `tree` with placeholders for identifiers and types for literals (changes `tree`)."""
    return ast.dump(_Placeholders().visit(tree), annotate_fields=False)


# Every decontaminate call normalises the ~2,300 benchmark programs again (seconds): kept for the next
# call in the process (experiments, tests). Normalised is frozen, so sharing it is safe.
@lru_cache(maxsize=8192)
def normalise(code: str) -> Normalised:
    tree = parse_quietly(code)
    return Normalised(None if tree is None else normalised_dump(tree), " ".join(code.split()))


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
WINDOW = 3  # MBPP programs are up to three top-level statements besides imports (helper, constant, function)


def units(code: str) -> list[Normalised]:
    """The ways a training program can hold a copy: the whole program and, when it has more than one
    top-level statement, every run of 1 to WINDOW consecutive statements holding a function or
    class, with the imports it uses before it (a copy inside a longer file; benchmark programs
    start with the imports they need)."""
    whole = normalise(code)
    if not whole.parsed:
        return [whole]
    # Normalising renames in place: the parts come from a second parse, and each is a copy.
    body = parse_quietly(code).body
    imports = [s for s in body if isinstance(s, (ast.Import, ast.ImportFrom))]
    rest = [s for s in body if not isinstance(s, (ast.Import, ast.ImportFrom))]
    runs = [rest[i : i + size] for size in range(1, WINDOW + 1) for i in range(len(rest) - size + 1)]
    runs = [run for run in runs if any(isinstance(s, DEFINITIONS) for s in run) and len(run) + len(imports) < len(body)]
    return [whole, *(_part(copy.deepcopy([*_used(imports, run), *run])) for run in runs)]


def _used(imports: list[ast.stmt], statements: list[ast.stmt]) -> list[ast.stmt]:
    names = {node.id for statement in statements for node in ast.walk(statement) if isinstance(node, ast.Name)}
    return [statement for statement in imports
            if any((alias.asname or alias.name.split(".")[0]) in names for alias in statement.names)]


def _part(statements: list[ast.stmt]) -> Normalised:
    module = ast.Module(body=statements, type_ignores=[])
    text = " ".join(ast.unparse(module).split())  # before the placeholders change it
    return Normalised(normalised_dump(module), text)


# 1 - Levenshtein distance / length of the longer string; `rapidfuzz.process.cdist` takes it too.
similarity = Levenshtein.normalized_similarity


def match_rate(a: Normalised, b: Normalised) -> float:
    """Similarity of two normalised programs in [0, 1]; when either did not parse, of their texts."""
    if a.parsed and b.parsed:
        return similarity(a.dump, b.dump)
    return similarity(a.text, b.text)
