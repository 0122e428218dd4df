"""CodeExercises: docstring -> function problems written by the teacher, laid out as HumanEval prompts.

phi-1's finetuning set was ~180M tokens of exercises, each a function signature with a docstring
(the prompt) and its body (the solution), diversity forced by constraining the function name.
Finetuning on them helped because they look exactly like a HumanEval task:

    from typing import List                          <- imports
                                                     <- two blank lines
                                                     <- (HumanEval's layout)
    def sum_numbers(numbers: List[int]) -> int:      <- signature
        \"\"\"Return the sum of the numbers.            <- docstring: 4 spaces, triple double quotes
        >>> sum_numbers([1, 2])
        3
        \"\"\"
        return sum(numbers)                          <- solution: the body the model must continue

The teacher is asked for JSON {"code": ..., "tests": [...]} (structured output where the server
honours it; a tolerant parser for the rest). An answer is parsed with `ast`, must define the
drawn function with a docstring and a real body, and is rebuilt in the layout above so that
`text == prompt + solution`. The program (text, then the asserts) runs in the evaluation sandbox,
never in this process; an exercise that fails, or whose asserts fail, is dropped and counted.
"""

from __future__ import annotations

import ast
import copy
import re
import textwrap
from pathlib import Path
from typing import Any

from textbooks.sandbox import Limits, Sandbox
from textbooks.synth.constraints import Pools
from textbooks.synth.generate import GenerationConfig, Generator, Item
from textbooks.synth.templates import Template, builtin_template_path, load_template
from textbooks.teacher import json_schema_format, parse_json_answer

PLACEHOLDERS = ("function_name", "topic", "subtopic")
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "tests": {"type": "array", "items": {"type": "string"}}},
    "required": ["code", "tests"],
}
_PYTHON_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
INDENT = " " * 4
# What `ast.parse`/`compile` raise for text that is not Python: ValueError for a null byte,
# RecursionError and MemoryError for absurd nesting.
NOT_PYTHON = (SyntaxError, ValueError, RecursionError, MemoryError)


class Rejected(Exception):
    """An answer that does not make an exercise; `reason` is the counter it goes to."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_answer(text: str) -> tuple[str, list[str]]:
    """(code, tests) from the teacher's answer: the JSON asked for, or, from a server that ignored
    the schema, the first ```python block (or the bare text) holding a `def`."""
    try:
        data = parse_json_answer(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        tests = data.get("tests") or []
        if isinstance(tests, str):
            tests = [tests]
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            raise Rejected("unparseable")
        return data["code"], [t for t in tests if t.strip()]
    blocks = _PYTHON_FENCE.findall(text) or [text]
    code = next((block for block in blocks if "def " in block), None)
    if code is None:
        raise Rejected("unparseable")
    return code, []


def layout_exercise(code: str, function_name: str, tests: list[str]) -> tuple[str, str, list[str]]:
    """(prompt, solution, tests): the function `function_name` of `code` rebuilt as a HumanEval
    prompt and its body. Top-level asserts in `code` join `tests`; other top-level statements
    (prints, `if __name__ == ...`) are dropped; imports, helper functions, classes and constants stay."""
    try:
        module = ast.parse(code)
    except NOT_PYTHON:
        raise Rejected("syntax_error") from None
    functions = [n for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    function = next((f for f in functions if f.name == function_name), None)
    if function is None:
        raise Rejected("wrong_name" if functions else "no_function")
    docstring = ast.get_docstring(function, clean=True)
    if not docstring or not docstring.strip():
        raise Rejected("no_docstring")
    body = function.body[1:]
    if not body or all(_is_placeholder(statement) for statement in body):
        raise Rejected("no_body")
    checks = [*_parse_tests(tests, function_name), *(ast.unparse(n) for n in module.body if isinstance(n, ast.Assert))]
    prompt = _prelude(module, function) + _signature(code, function) + _docstring_block(docstring)
    solution = _body_source(code, function, prompt)
    try:
        compile(prompt + solution, "<exercise>", "exec")
    except NOT_PYTHON:  # not expected after a successful parse; a guard, never a crash
        raise Rejected("syntax_error") from None
    return prompt, solution, checks


def _is_placeholder(statement: ast.stmt) -> bool:
    """`pass` or `...`: a stub, not a solution."""
    if isinstance(statement, ast.Pass):
        return True
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and statement.value.value is Ellipsis


def _parse_tests(tests: list[str], function_name: str) -> list[str]:
    """Each test must be assert statements that call the function; one normalised assert per entry."""
    checks: list[str] = []
    for test in tests:
        try:
            statements = ast.parse(textwrap.dedent(test)).body
        except NOT_PYTHON:
            raise Rejected("bad_tests") from None
        for statement in statements:
            calls = {n.func.id for n in ast.walk(statement) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            if not isinstance(statement, ast.Assert) or function_name not in calls:
                raise Rejected("bad_tests")
            checks.append(ast.unparse(statement))
    return checks


def _prelude(module: ast.Module, function: ast.AST) -> str:
    """Imports, then helper definitions and constants, then two blank lines (HumanEval's
    layout); "" if there are none. Helpers are rare and short: `ast.unparse` writes them."""
    imports = [ast.unparse(n) for n in module.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    helper_types = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
    helpers = [ast.unparse(n) for n in module.body if n is not function and isinstance(n, helper_types)]
    parts = (["\n".join(imports)] if imports else []) + helpers
    return "\n\n\n".join(parts) + "\n\n\n" if parts else ""


def _signature(code: str, function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """Decorators and the `def` line(s) as the teacher wrote them, or as `ast.unparse` writes them
    where those lines are not the signature alone (a docstring on the `def` line)."""
    first = min([function.lineno, *(d.lineno for d in function.decorator_list)])
    lines = [line.rstrip() for line in code.splitlines()[first - 1 : function.body[0].lineno - 1]]
    header = "\n".join(lines) + "\n"
    try:
        again = ast.parse(header + INDENT + "pass\n").body[0]
    except (SyntaxError, IndexError):
        again = None
    if again is not None and _without_body(again) == _without_body(function):
        return header
    stub = copy.copy(function)
    stub.body = [ast.Pass()]
    return ast.unparse(stub).rsplit("\n", 1)[0] + "\n"


def _without_body(function: ast.AST) -> str:
    stub = copy.copy(function)
    stub.body = []
    return ast.dump(stub)


def _docstring_block(docstring: str) -> str:
    """The docstring at 4 spaces in triple double quotes; closing quotes on their own line unless
    it is one line. Backslashes, triple quotes and a final quote are escaped so it keeps its value."""
    escaped = docstring.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if escaped.endswith('"'):
        escaped = escaped[:-1] + '\\"'
    lines = [INDENT + line if line.strip() else "" for line in escaped.splitlines()]
    if len(lines) == 1:
        return f'{INDENT}"""{escaped}"""\n'
    return f'{INDENT}"""{lines[0].lstrip()}\n' + "".join(line + "\n" for line in lines[1:]) + f'{INDENT}"""\n'


def _body_source(code: str, function: ast.FunctionDef | ast.AsyncFunctionDef, prompt: str) -> str:
    """The body after the docstring: the teacher's own lines (comments kept) re-indented to one
    level, or, where those do not survive re-indenting unchanged, `ast.unparse` of the body."""
    body = function.body[1:]
    # From the line after the docstring, so comments above the first statement stay too.
    lines = [line.rstrip() for line in code.splitlines()[function.body[0].end_lineno : function.end_lineno]]
    while lines and not lines[0]:
        lines.pop(0)
    solution = textwrap.indent(textwrap.dedent("\n".join(lines)), INDENT) + "\n"
    if _same_body(prompt + solution, function):
        return solution
    return textwrap.indent(ast.unparse(ast.Module(body=body, type_ignores=[])), INDENT) + "\n"


def _same_body(text: str, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    try:
        rebuilt = ast.parse(text)
    except SyntaxError:
        return False
    again = next((n for n in rebuilt.body if isinstance(n, type(function)) and n.name == function.name), None)
    return again is not None and [ast.dump(s) for s in again.body[1:]] == [ast.dump(s) for s in function.body[1:]]


class ExerciseGenerator(Generator):
    stage = "synth-exercises"
    kind = "exercise"
    placeholders = PLACEHOLDERS

    def __init__(self, config: GenerationConfig, pools: Pools, template: Template, sandbox_workers: int = 2, sandbox_timeout_s: float = 5.0,
                 unsafe_no_isolation: bool = False):
        super().__init__(config, pools, template)
        self.sandbox_workers = sandbox_workers
        self.sandbox_timeout_s = sandbox_timeout_s
        self.unsafe_no_isolation = unsafe_no_isolation
        self._sandbox: Sandbox | None = None

    def __enter__(self) -> ExerciseGenerator:
        self._sandbox = Sandbox(workers=self.sandbox_workers, limits=Limits(timeout_s=self.sandbox_timeout_s),
                                unsafe_no_isolation=self.unsafe_no_isolation)
        self.isolation = self._sandbox.isolation
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "sandbox_timeout_s": self.sandbox_timeout_s}

    def response_format(self) -> dict[str, Any] | None:
        if not self.config.structured_output:
            return None
        # OpenAI's form; the teacher client rewrites it for llama.cpp servers.
        return json_schema_format(ANSWER_SCHEMA, "openai", name="exercise")

    def judge(self, items: list[Item]) -> list[dict[str, Any] | str]:
        verdicts: list[dict[str, Any] | str] = []
        for item in items:
            try:
                code, tests = parse_answer(item.answer.text)
                prompt, solution, checks = layout_exercise(code, item.constraints.function_name, tests)
            except Rejected as rejected:
                verdicts.append(rejected.reason)
                continue
            verdicts.append({
                **self.base_record(item),
                "prompt": prompt,
                "solution": solution,
                "text": prompt + solution,
                "function_name": item.constraints.function_name,
                "tests": checks,
            })
        programs = [
            (n, v["text"] + "\n\n" + "".join(t + "\n" for t in v["tests"])) for n, v in enumerate(verdicts) if isinstance(v, dict)
        ]
        for n, outcome in self._sandbox.run_many(programs):
            if outcome.status == "failed":
                verdicts[n] = "tests_failed" if verdicts[n]["tests"] else "definition_failed"
            elif outcome.status != "passed":
                verdicts[n] = outcome.status  # "timeout" or "crashed"
        return verdicts


def exercise_generator(config: GenerationConfig, template: str | Path | None = None, pools: Pools | None = None,
                       sandbox_workers: int = 2, sandbox_timeout_s: float = 5.0,
                       unsafe_no_isolation: bool = False) -> ExerciseGenerator:
    """The generator with the shipped (or given) template and pools, all checked before any request."""
    return ExerciseGenerator(
        config,
        pools or Pools.load(),
        load_template(template or builtin_template_path("exercise" if config.structured_output else "exercise-codeblock"), PLACEHOLDERS),
        sandbox_workers,
        sandbox_timeout_s,
        unsafe_no_isolation,
    )
