"""The program inside a chat model's answer: its code, cut down to what the entry point needs.

    found = extract_program(answer, "has_close_elements", prompt=task.prompt)
    found.program   # imports + the entry-point function + what it calls; None when there is none
    found.problem   # why there is none ("no code", "no function named ...")

Two steps, after evalplus's `sanitize` (the idea, written here on `ast`):
1. The code: every Python fenced block (```python, ```py or an untagged fence; an unterminated
   last one included: max_tokens cut it), or the longest run of lines in it that parses; with no
   fence, the longest run of the answer's lines that parses (its prose cut away). Blocks are read
   as one module in order, a later definition of a name replacing an earlier one (models often
   show a first try, then "a better version").
2. The pass: keep every import, the entry-point function and the top-level definitions it reaches
   by name (helpers, classes, constants), in their order; drop usage examples, prints, asserts and
   `if __name__ == "__main__":` blocks. An entry point that is only a method of a class (`class
   Solution:`) is bound at the top level. The prompt's imports and definitions the answer uses but
   leaves out (HumanEval's `from typing import List`, a helper given in the prompt) are restored.
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from dataclasses import dataclass, field

# An opening fence with its language tag, up to the closing fence or the end of the answer (an
# answer cut by max_tokens leaves its last block open).
FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
PYTHON_TAGS = {"", "python", "python3", "py"}
# Where a run of code may begin in prose: what a solution's first line looks like.
_DEFINES = r"def |async def |class |import |from \S+ import |@"
DEFINITION_START = re.compile(rf"^({_DEFINES})")
CODE_START = re.compile(rf"^({_DEFINES}|[A-Za-z_]\w*\s*(: [^=]+)?= )")  # or a constant
MAX_PARSES = 500  # per answer, in the search for code in prose: real answers need a few dozen at most
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORTS = (ast.Import, ast.ImportFrom)


@dataclass(frozen=True)
class Extraction:
    program: str | None  # None: nothing to run
    problem: str | None = None  # why there is no program


def extract_program(answer: str, entry_point: str, prompt: str = "") -> Extraction:
    """The self-contained program in `answer` that defines `entry_point` (see the module doc)."""
    code = code_of(answer)
    if code is None:
        return Extraction(None, "no code in the answer")
    own = _top_level(code, entry_point)
    if entry_point not in own.definitions:
        return Extraction(None, f"no function named {entry_point} in the answer's code")
    given = _top_level(prompt, entry_point) if _parses(prompt) else _Parts()
    # The answer's own definitions win; the prompt's fill in what the answer uses but left out.
    restored = {name: d for name, d in given.definitions.items() if name not in own.definitions}
    kept = _reachable(entry_point, {**restored, **own.definitions})
    imports = dict.fromkeys(ast.unparse(node) for node in given.imports + own.imports)
    sections = ["\n".join(imports),
                *(d.source for name, d in sorted(restored.items(), key=_position) if name in kept),
                *(d.source for name, d in sorted(own.definitions.items(), key=_position) if name in kept)]
    return Extraction("\n\n\n".join(s.rstrip() for s in dict.fromkeys(sections) if s.strip()) + "\n")


def code_of(answer: str) -> str | None:
    """The code in a model's answer: its Python fenced blocks (each one, or the longest run of
    lines in it that parses), joined; with no fence, the longest run of the answer's lines that
    parses. None when there is no code (no definition or import) at all."""
    answer = answer.replace("\r\n", "\n")
    fenced = FENCE.findall(answer)
    if not fenced:
        return _longest_parsing_run(answer)
    blocks = [textwrap.dedent(body) for tag, body in fenced if tag.lower() in PYTHON_TAGS]
    code = [block if _parses(block) and _has_code(block) else _longest_parsing_run(block) for block in blocks]
    code = [block.rstrip() for block in code if block]
    return "\n\n\n".join(code) + "\n" if code else None


def mbpp_entry_point(first_test: str) -> str | None:
    """The function an MBPP test calls: the outermost call of a name that is not a builtin
    (`assert set(similar_elements(a, b)) == ...` -> similar_elements)."""
    try:
        tree = ast.parse(first_test.strip())
    except SyntaxError:
        return None
    for node in ast.walk(tree):  # breadth-first: outer calls come before inner ones
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not hasattr(builtins, node.func.id):
            return node.func.id
    return None


# -- the code in prose -------------------------------------------------------------------------


def _parses(code: str) -> bool:
    return _syntax_error_line(code) is None


def _has_code(chunk: str) -> bool:
    # A word or the start of a sentence can parse as an expression: code defines or imports.
    return any(isinstance(node, _DEFINITIONS + _IMPORTS + (ast.Assign,)) for node in ast.parse(chunk).body)


def _longest_parsing_run(text: str) -> str | None:
    """The run of lines that parses and holds the most non-blank lines, from a line where code can
    start (evalplus searches the same way). From each start, the end moves up to just before the
    line a syntax error names (a longer run holding that line fails there too); `MAX_PARSES`
    bounds the rest: 200 lines of `x = (` took 13 s under load without it."""
    lines = text.splitlines()
    nonblank_before = [0]  # nonblank_before[i]: non-blank lines among lines[:i]
    for line in lines:
        nonblank_before.append(nonblank_before[-1] + bool(line.strip()))
    best, best_size, parses = None, 0, 0
    # Lines that define or import first: where the budget runs out, the function has been found.
    starts = sorted((not DEFINITION_START.match(line), i) for i, line in enumerate(lines) if CODE_START.match(line))
    for _, start in starts:
        end = len(lines)
        while end > start and nonblank_before[end] - nonblank_before[start] > best_size and parses < MAX_PARSES:
            chunk = "\n".join(lines[start:end])
            error_line, parses = _syntax_error_line(chunk), parses + 1
            if error_line is None:
                if _has_code(chunk):
                    best, best_size = chunk, nonblank_before[end] - nonblank_before[start]
                break
            end = min(end - 1, start + error_line - 1)
    return best + "\n" if best else None


def _syntax_error_line(code: str) -> int | None:
    """None if `code` parses, else the line (from 1) its first syntax error names."""
    try:
        ast.parse(code)
    except SyntaxError as err:
        return err.lineno or 1
    except ValueError:  # a NUL byte
        return 1
    return None


# -- the AST pass ------------------------------------------------------------------------------


@dataclass
class _Definition:
    source: str
    uses: set[str]
    line: float  # where it stands in its module: definitions are written back in this order


@dataclass
class _Parts:
    imports: list[ast.stmt] = field(default_factory=list)
    definitions: dict[str, _Definition] = field(default_factory=dict)  # by name, the last one wins


def _top_level(code: str, entry_point: str) -> _Parts:
    lines = code.splitlines()
    parts = _Parts()
    for node in ast.parse(code).body:
        if isinstance(node, _IMPORTS):
            parts.imports.append(node)
        elif isinstance(node, _DEFINITIONS):
            parts.definitions[node.name] = _Definition(_source(lines, node), _names_used(node), node.lineno)
            if entry_point not in parts.definitions and _has_method(node, entry_point):
                # `class Solution: def entry(self, ...)`: bind the method where the tests look for it.
                parts.definitions[entry_point] = _Definition(
                    f"{entry_point} = {node.name}().{entry_point}", {node.name}, node.end_lineno + 0.5)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for name in _assigned(node):
                parts.definitions[name] = _Definition(_source(lines, node), _names_used(node), node.lineno)
    return parts


def _has_method(node: ast.stmt, name: str) -> bool:
    if not isinstance(node, ast.ClassDef):
        return False
    methods = {item.name: item for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
    init = methods.get("__init__")
    takes_no_arguments = init is None or len(init.args.args) - len(init.args.defaults) <= 1
    return name in methods and takes_no_arguments


def _source(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[start - 1 : node.end_lineno])


def _position(item: tuple[str, _Definition]) -> float:
    return item[1].line


def _names_used(node: ast.AST) -> set[str]:
    """The global names `node` reads: those it loads, less its own locals (parameters and names
    it assigns, anywhere inside it, unless declared `global`)."""
    loaded, local, declared_global = set(), set(), set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (loaded if isinstance(n.ctx, ast.Load) else local).add(n.id)
        elif isinstance(n, ast.arg):
            local.add(n.arg)
        elif isinstance(n, ast.Global):
            declared_global.update(n.names)
    return loaded - (local - declared_global)


def _assigned(node: ast.Assign | ast.AnnAssign) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}


def _reachable(entry_point: str, definitions: dict[str, _Definition]) -> set[str]:
    kept, todo = set(), [entry_point]
    while todo:
        name = todo.pop()
        if name not in kept and name in definitions:
            kept.add(name)
            todo += definitions[name].uses
    return kept
