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
  behaviour      each record's functions against the tests of its candidates and of its 40 nearest
                 problems by text and 40 by description, in the sandbox (issue 24, finding 4:
                 rephrasings). On benchmarks/data/rephrase's tuning half: 40 neighbours found 95%
                 of rephrasings against 89% with 10; problems under 16 code tokens untested and
                 functions passing 4+ problems not counted took unrelated flags from 1.8% to 1.1%
                 (recall 91%); held out: 72% recall, 2.0% unrelated flagged (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from textbooks.benchmarks import PROBLEM_SETS
from textbooks.errors import UserError

PAPER_TAUS = (0.95, 0.9, 0.85, 0.8)  # phi-1, Table 3
EMBEDDERS = ("hashing", "minilm", "none")


@dataclass(frozen=True)
class DecontamConfig:
    input: Path | None = None  # a dataset directory or a JSONL file (the command's --input)
    out: Path | None = None  # the output directory (--out)
    benchmarks: list[str] = field(default_factory=lambda: list(PROBLEM_SETS))
    tau: float = 0.9  # AST match rate at or above which a record is a copy of a problem
    word_ngram: int = 13
    code_ngram: int = 12
    max_problems_per_ngram: int = 10  # an n-gram in more problems is boilerplate, not a copy
    min_code_containment: float = 0.5  # share of a problem's code n-grams a record must hold
    embedder: str = "hashing"
    neighbours: int = 3
    min_cosine: float = 0.8
    statement_ngram: int = 8
    min_statement_containment: float = 0.8  # share of a problem statement's word n-grams that flags a record
    behaviour: bool = True  # run records' functions against benchmark tests (needs the sandbox)
    behaviour_neighbours: int = 40  # nearest problems per record by text, and as many by description, tested
    behaviour_min_tokens: int = 16  # problems whose program has fewer code tokens are not tested (one-liners)
    behaviour_max_problems: int = 4  # a function passing this many problems' tests is generic: not counted
    behaviour_test_s: float = 2.0  # one function against one problem's tests
    behaviour_budget_s: float = 20.0  # one record's tests in all
    behaviour_workers: int | None = None  # sandbox workers (None: the CPU count)
    chunk_size: int = 5000  # records scored (and saved for resuming) at a time
    data_dir: Path | None = None  # benchmark data files (default: see textbooks.benchmarks.download)
    judge_endpoint: str | None = None  # OpenAI-compatible base URL; None: no LLM tier
    judge_model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    judge_top: int = 100  # pairs below tau, most similar first, that the judge is asked about
    judge_max_tokens_total: int | None = None

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
        if self.behaviour_neighbours < 0:
            raise UserError(f"behaviour_neighbours: {self.behaviour_neighbours}; expected >= 0")
        if self.judge_endpoint and not self.judge_model:
            raise UserError("judge_model: required with judge_endpoint; expected the name the server serves")

    def scoring(self) -> dict[str, Any]:
        """What the per-chunk scores depend on (tau and the judge only change the verdicts)."""
        fields = asdict(self)
        for name in ("input", "out", "tau", "data_dir", "judge_endpoint", "judge_model", "api_key_env", "judge_top",
                     "judge_max_tokens_total", "behaviour_workers"):
            fields.pop(name)
        return fields

    def verdicts(self) -> dict[str, Any]:
        """What the outputs depend on: the scoring, tau and the judge (not where the key lives)."""
        fields = asdict(self)
        for name in ("input", "out", "data_dir", "api_key_env", "behaviour_workers"):
            fields.pop(name)
        return fields
