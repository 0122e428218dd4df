"""`DecontamConfig`: every knob of `textbooks decontam`, a typed config (YAML + key=value overrides).

The defaults come from measurements (benchmarks/RESULTS.md, "Decontamination"):
  tau 0.9        flags 0.02% of unrelated HumanEval pairs on the AST tier, 0.09% of those of similar
                 length (bar: <= 1%; 0.8 flags 0.10% and 0.44%, but the paper pruned 40% of its
                 exercises at 0.8: too eager for a default);
                 the paper's 0.95, 0.85 and 0.8 are kept as options and all four are in the report.
  code n-grams   12 normalised tokens (a line or two): short enough for MBPP's three-line
                 programs (24 missed them); containment 0.5 of a problem's code n-grams makes a
                 candidate (a renamed copy has 1.0); n-grams in more than 10 problems are ignored.
                 MBPP's 974 solutions against HumanEval give 7 candidate pairs in all.
  embedding      the hashing embedder (lexical, about 1,000 texts a second here), 3 neighbours,
                 cosine 0.8; `minilm` is semantic and ~200x slower (its cost is the embedder's).
  statement      a record holding 80% of a problem statement's distinct word 8-grams is a copy
                 of it whatever its code (issue 24, finding 5); 8 words, not 13: MBPP's statements
                 are one short sentence ("Write a function to find the perimeter of a square").
                 80%, not half: at 50% that statement is "in" "... the perimeter of a pentagon"
                 (2 of its 3 n-grams); over the 1.29M ordered pairs of different HumanEval and MBPP
                 problems 50% flags 256, 80% flags 35 (24 of them MBPP's literal duplicates).
  behaviour      each record's functions against the tests of its candidates, of its 40 nearest
                 problems by text and 40 by description, and of each function's own 10 nearest in
                 a file of several, in the sandbox (issue 24, finding 4: rephrasings). On
                 benchmarks/data/rephrase's tuning half: 40 neighbours found 95% of rephrasings
                 against 89% with 10 (150: 98%, but 3 unrelated flags for 2); functions passing
                 4+ problems not counted; a pass checked again against the references' outputs on
                 50 more inputs (HumanEval+/MBPP+'s, else mutated assert arguments: 3 unrelated
                 flags to 2); not counted where the reference's body or the passing function's has
                 under 6 code tokens (the most that loses no tuning rephrasing; 10 loses 2, 16 loses
                 13). Tuning half: 96% recall, 0.7% unrelated flagged; held out: 74%, 0.7%
                 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from textbooks.benchmarks import PROBLEM_SETS
from textbooks.config import output, output_data, pacing
from textbooks.errors import UserError
from textbooks.teacher.client import TeacherConfig

PAPER_TAUS = (0.95, 0.9, 0.85, 0.8)  # phi-1, Table 3
FLAT_JUDGE_KEYS = {"judge_endpoint": "endpoints", "judge_model": "model", "api_key_env": "api_key_env",
                   "judge_max_tokens_total": "max_tokens_total"}
EMBEDDERS = ("hashing", "minilm", "none")


@dataclass(frozen=True)
class DecontamConfig:
    input: Path | None = pacing(None)  # a dataset directory or a JSONL file (the command's --input)
    out: Path | None = pacing(None)  # the output directory (--out)
    benchmarks: list[str] = output(default_factory=lambda: list(PROBLEM_SETS))
    word_ngram: int = output(13)
    code_ngram: int = output(12)
    max_problems_per_ngram: int = output(10)  # an n-gram in more problems is boilerplate, not a copy
    min_code_containment: float = output(0.5)  # share of a problem's code n-grams a record must hold
    embedder: str = output("hashing")
    neighbours: int = output(3)
    min_cosine: float = output(0.8)
    statement_ngram: int = output(8)
    min_statement_containment: float = output(0.8)  # share of a problem statement's word n-grams that flags a record
    behaviour: bool = output(True)  # run records' functions against benchmark tests (needs the sandbox)
    behaviour_neighbours: int = output(40)  # nearest problems per record by text, and as many by description, tested
    behaviour_function_neighbours: int = output(10)  # and as many again per function of a file of several
    behaviour_min_tokens: int = output(6)  # a reference or passing function body under this many code tokens: a one-liner, no evidence
    behaviour_inputs: int = output(50)  # more inputs a pass must match the reference's outputs on (`differential`); 0: none
    behaviour_max_problems: int = output(4)  # a function passing this many problems' tests is generic: not counted
    behaviour_test_s: float = output(2.0)  # one function against one problem's tests
    behaviour_budget_s: float = output(20.0)  # one record's tests in all
    behaviour_workers: int | None = pacing(None)  # sandbox workers (None: the CPU count)
    chunk_size: int = pacing(5000)  # records scored (and saved for resuming) at a time
    data_dir: Path | None = pacing(None)  # benchmark data files (default: see textbooks.benchmarks.download)
    tau: float = output(0.9, verdict_only=True)  # AST match rate at or above which a record is a copy of a problem
    # The LLM tier: an endpoint section like the teacher's (`judge: {endpoints: [URL], model: NAME}`);
    # null: no LLM tier. Its flat keys of old (judge_endpoint, judge_model, ...) are read too.
    judge: TeacherConfig | None = output(None, verdict_only=True, legacy_key_when_none={
        "judge_model": None, "judge_max_tokens_total": None})
    judge_top: int = output(100, verdict_only=True)  # pairs below tau, most similar first, that the judge is asked about

    def __post_init__(self) -> None:
        if not 0.0 < self.tau <= 1.0:
            raise UserError(f"tau: {self.tau}; expected 0 < tau <= 1 (the paper uses 0.8 to 0.95)")
        if self.embedder not in EMBEDDERS:
            raise UserError(f"embedder: {self.embedder!r}; expected one of {', '.join(EMBEDDERS)}")
        if not self.benchmarks:
            raise UserError(f"benchmarks: empty; expected some of {', '.join(PROBLEM_SETS)}")
        unknown = [name for name in self.benchmarks if name not in PROBLEM_SETS]
        if unknown:
            raise UserError(f"benchmark {unknown[0]!r}: unknown; expected one of {', '.join(PROBLEM_SETS)}")
        for name in ("word_ngram", "code_ngram", "statement_ngram", "max_problems_per_ngram", "neighbours", "chunk_size"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}: {getattr(self, name)}; expected >= 1")
        if not 0.0 < self.min_statement_containment <= 1.0:
            raise UserError(f"min_statement_containment: {self.min_statement_containment}; expected 0 < share <= 1")
        for name in ("behaviour_neighbours", "behaviour_function_neighbours", "behaviour_inputs"):
            if getattr(self, name) < 0:
                raise UserError(f"{name}: {getattr(self, name)}; expected >= 0")
        if self.judge is not None and not self.judge.endpoints:
            raise UserError("judge.endpoints: empty; expected the judge's OpenAI-compatible URL (decontam has no "
                            "embedded judge)")
        if self.judge is not None and not self.judge.model:
            raise UserError("judge.model: required with judge.endpoints; expected the name the server serves")

    @staticmethod
    def migrate_keys(data: dict[str, Any]) -> dict[str, Any]:
        """The judge's flat keys of old (`judge_endpoint`, `judge_model`, `api_key_env`,
        `judge_max_tokens_total`; also the command's flags) into the `judge:` section, winning over
        its keys; without an endpoint on either side they meant no judge."""
        flat = {new: data.pop(old) for old, new in FLAT_JUDGE_KEYS.items() if old in data}
        endpoint = flat.pop("endpoints", None)
        judge = data.get("judge")
        if endpoint:
            judge = {**(judge if isinstance(judge, dict) else {}), "endpoints": [endpoint]}
        if isinstance(judge, dict):
            data["judge"] = {**judge, **{k: v for k, v in flat.items() if v is not None}}
        return data

    def scoring(self) -> dict[str, Any]:
        """What the per-chunk scores depend on: the output's settings less those that only change the
        verdicts (tau, the judge), and the chunk size, the layout of the chunks a resumed run reads."""
        verdict_only = {f.name for f in fields(self) if f.metadata.get("verdict_only")}  # tau, the judge
        data = {name: value for name, value in self.verdicts().items() if name not in verdict_only}
        return {**data, "chunk_size": self.chunk_size}

    def verdicts(self) -> dict[str, Any]:
        """What the outputs depend on: every setting that changes the output."""
        return output_data(self)
