"""A rule-based stand-in teacher for the curation tests: the fault server, rating code like a teacher.

The score is a rule on the file shown in the prompt, so the tests control the labelling: one
point, plus one per docstring (up to four more). A classifier must learn that rule from the
files' embeddings alone. `garbage=True` answers prose without any score, as a broken teacher would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fault_server import FaultServer

_CODE = re.compile(r"```python\n(.*)\n```", re.DOTALL)


def rule_score(code: str) -> int:
    return min(5, 1 + code.count('"""') // 2)


def code_in(prompt: str) -> str:
    match = _CODE.search(prompt)
    return match.group(1) if match else ""


@dataclass
class RatingTeacher(FaultServer):
    garbage: bool = False

    def answer(self, request: dict, chat: bool) -> dict:
        response = super().answer(request, chat)
        score = rule_score(code_in(request["messages"][-1]["content"]))
        if self.garbage:
            text = "What a lovely file! I would not know how to rate it."
        elif request.get("response_format"):
            text = json.dumps({"rationale": f"{score} points by the docstring rule.", "score": score})
        else:
            text = f"The file has docstrings.\nEducational score: {score}"
        response["choices"][0]["message"]["content"] = text
        return response
