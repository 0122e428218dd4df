"""A stand-in LLM judge on loopback whose answers the tests control: the fault server, answering
"True" when the training record (the first problem in the message) carries `marker`, else "False"."""

from __future__ import annotations

from dataclasses import dataclass

from fault_server import FaultServer


@dataclass
class StandInJudge(FaultServer):
    marker: str = "REPHRASED"

    def answer(self, request: dict, chat: bool) -> dict:
        response = super().answer(request, chat)
        record = request["messages"][-1]["content"].split("Second (benchmark problem):")[0]
        response["choices"][0]["message"]["content"] = "True" if self.marker in record else "False"
        return response
