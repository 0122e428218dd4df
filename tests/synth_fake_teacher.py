"""A deterministic fake teacher for the synth tests: the fault server, answering like a teacher would.

The answer is a function of the request (messages and seed), so two runs, or a run killed and
resumed, get the same answers. Exercise answers cover every path the generator has to take;
`exercise_answer` picks one by a hash of the request, and `SHAPES` names them.
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from fault_server import FaultServer

WORDS = (
    "list loop index value function return string dictionary key sort search tree graph node edge "
    "recursion stack queue memory time cost example variable type test bug fix reader code"
).split()

# Exercise answer shapes, by request hash modulo 10 (valid ones most often, as from a good teacher).
SHAPES = {
    0: "unparseable",  # prose, no code
    1: "tests_failed",  # a correct-looking function whose assert is wrong
    2: "no_docstring",
    3: "wrong_name",  # ignores the drawn function name
    4: "near_duplicate",  # the same long exercise each time, only the name changes
    5: "fenced",  # ignores the JSON schema: a ```python block with top-level asserts
    6: "near_duplicate",
}


def request_hash(request: dict) -> int:
    digest = hashlib.sha256(json.dumps([request.get("messages"), request.get("seed")], sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def textbook_answer(request: dict) -> str:
    h = request_hash(request)
    if h % 10 == 0:
        return ""
    rng = random.Random(h)
    prose = " ".join(rng.choice(WORDS) for _ in range(80))
    return f"## A section\n\n{prose}\n\n```python\nx = {h % 1000}\nprint(x)\n```\n"


def exercise_answer(request: dict) -> str:
    h = request_hash(request)
    name = re.search(r"named `(\w+)`", request["messages"][-1]["content"]).group(1)
    shape = SHAPES.get(h % 10, "valid")
    k = h % 97
    if shape == "unparseable":
        return "I am sorry, I cannot write that exercise."
    if shape == "near_duplicate":
        doc = " ".join(WORDS * 3)
        code = f'def {name}(items: list) -> int:\n    """Count the items.\n\n    {doc}\n    """\n    return len(items)\n'
        return json.dumps({"code": code, "tests": [f"assert {name}([1, 2]) == 2"]})
    if shape == "fenced":
        return f"Here it is:\n```python\ndef {name}(x: int) -> int:\n    \"\"\"Add {k} to x.\"\"\"\n    return x + {k}\n\nassert {name}(0) == {k}\n```\n"
    doc = "" if shape == "no_docstring" else f'    """Return x times {k}.\n\n    >>> {name}(1)\n    {k}\n    """\n'
    defined = "some_other_name" if shape == "wrong_name" else name
    code = f"import math\n\n\ndef {defined}(x: int) -> int:\n{doc}    result = x * {k}  # scale\n    return result\n"
    expected = k + 1 if shape == "tests_failed" else k
    return json.dumps({"code": code, "tests": [f"assert {name}(1) == {expected}", f"assert {name}(0) == 0"]})


class FakeTeacher(FaultServer):
    def answer(self, request: dict, chat: bool) -> dict:
        response = super().answer(request, chat)
        is_exercise = request.get("response_format") is not None
        text = exercise_answer(request) if is_exercise else textbook_answer(request)
        response["choices"][0]["message"]["content"] = text
        return response
