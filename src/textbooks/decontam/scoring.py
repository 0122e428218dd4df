"""Scoring one chunk of training records against every benchmark problem, tier by tier.

The n-gram, statement and embedding tiers propose candidate pairs (record, problem); only
candidates get the AST match rate, so 1M records x ~1,700 problems costs about one AST comparison
per record, not 1,700. The behavioural tier runs each record's functions against the tests of a
wider set (the candidates, each record's nearest problems by text and by description, and each
function's own in a file of several: a rephrasing's words and code may both be new); a pair that
passes, and holds up on more inputs (`differential`), becomes a candidate. Every
candidate gets every tier's score, so the report can say what each tier saw.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa

from textbooks.benchmarks import Problem
from textbooks.decontam.ast_match import Normalised, match_rate, normalise, units
from textbooks.decontam.behaviour import (
    Pass,
    ProblemTests,
    behaviour_program,
    body_tokens,
    defines_function,
    passes,
    problem_tests,
    solution_tokens,
    top_functions,
)
from textbooks.decontam.config import DecontamConfig
from textbooks.decontam.differential import ReferenceInputs, confirm_program, confirmed
from textbooks.decontam.embedding import nearest, pair_distances
from textbooks.decontam.ngrams import NgramIndex, TokenHashes, code_tokens, word_tokens
from textbooks.decontam.records import code_of
from textbooks.decontam.statement import problem_statement, record_prose
from textbooks.errors import UserError

CHUNK_SCHEMA = pa.schema([
    ("record_index", pa.int64()),
    ("record_id", pa.string()),
    ("problem_index", pa.int64()),
    ("benchmark", pa.string()),
    ("task_id", pa.string()),
    ("ngram_words", pa.int32()),  # distinct word n-grams shared
    ("ngram_code", pa.float32()),  # share of the problem's normalised-code n-grams found in the record
    ("embed_cosine", pa.float32()),  # null without an embedder
    ("embed_l2", pa.float32()),
    ("ast_match", pa.float32()),  # null when the record has no code
    ("ast_as_text", pa.bool_()),  # the best comparison was as text: one side did not parse
    ("statement", pa.float32()),  # share of the problem statement's word n-grams found in the record
    ("behaviour", pa.bool_()),  # a function of the record passed the problem's tests; null: not run
])


class Scorer:
    def __init__(self, problems: Sequence[Problem], config: DecontamConfig, kind: str):
        from textbooks.data.embed import get_embedder

        self.problems, self.config, self.kind = list(problems), config, kind
        self.timings: Counter[str] = Counter()
        with self.timed("ngram"):
            hasher = TokenHashes()
            limit = config.max_problems_per_ngram
            self.words = NgramIndex([word_tokens(p.text) for p in self.problems], config.word_ngram, limit, hasher)
            self.code = NgramIndex([code_tokens(p.program) for p in self.problems], config.code_ngram, limit, hasher)
        with self.timed("statement"):
            statements = [problem_statement(p) for p in self.problems]
            self.statements = NgramIndex([word_tokens(s) for s in statements], config.statement_ngram, limit, hasher)
        with self.timed("ast"):
            # The same program in two benchmarks (HumanEval and HumanEval+) is compared once.
            forms: dict[Normalised, int] = {}
            self.form_of = np.array([forms.setdefault(normalise(p.program), len(forms)) for p in self.problems])
            self.forms = list(forms)
        with self.timed("embedding"):
            self.embedder = None if config.embedder == "none" else get_embedder(config.embedder)
            self.problem_vectors = self.embedder.embed([p.text for p in self.problems]) if self.embedder else None
        with self.timed("behaviour"):
            self._sandbox = None
            self._init_behaviour(statements)

    def _init_behaviour(self, statements: list[str]) -> None:
        """Problems tested alike (HumanEval and HumanEval+) share one test key; a key's first
        problem stands for it among the nearest problems of a record."""
        tests = problem_tests(self.problems, self.config.data_dir) if self.config.behaviour else [None] * len(self.problems)
        # A problem a one-liner solves (`return a * b`, `return len(s)`) is passed by any independent
        # utility that does the same: passing its tests is no evidence of a copy.
        tests = [None if solution_tokens(p) < self.config.behaviour_min_tokens else t for p, t in zip(self.problems, tests)]
        self.references = ReferenceInputs(self.config.data_dir, self.config.behaviour_inputs)
        self.tests: dict[str, ProblemTests] = {}
        self.key_of = [t.key if t is not None else None for t in tests]
        first: dict[str, int] = {}
        for index, test in enumerate(tests):
            if test is not None and test.key not in first:
                first[test.key], self.tests[test.key] = index, test
        self.keys = list(first)
        self.problems_of: dict[str, list[int]] = {key: [] for key in self.keys}
        for index, key in enumerate(self.key_of):
            if key is not None:
                self.problems_of[key].append(index)
        if self.embedder is not None and self.keys:
            stands_for = [first[key] for key in self.keys]
            self.key_text_vectors = self.problem_vectors[stands_for]
            self.key_statement_vectors = self.embedder.embed([statements[i] for i in stands_for])

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def timed(self, tier: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[tier] += time.perf_counter() - started

    @property
    def problems_without_statement(self) -> int:
        return int((self.statements.sizes == 0).sum())

    @property
    def unparsed_problems(self) -> int:
        return sum(1 for form in self.form_of if not self.forms[form].parsed)

    def score(self, records: list[dict[str, Any]], offset: int) -> tuple[pa.Table, dict[str, int]]:
        """Every candidate pair of this chunk with every tier's score, and the chunk's counts."""
        config, n_problems = self.config, len(self.problems)
        texts = [r["text"] for r in records]
        codes = [code_of(r, self.kind) for r in records]
        with self.timed("ngram"):
            words = self.words.overlap([word_tokens(t) for t in texts])
            code = self.code.overlap([code_tokens("\n".join(blocks)) for blocks in codes])
            containment = code.shared / np.maximum(self.code.sizes[code.problem], 1)
            word_keys = words.record * n_problems + words.problem
            code_keys = code.record * n_problems + code.problem
            candidates = [word_keys, code_keys[containment >= config.min_code_containment]]
        with self.timed("statement"):
            said = self.statements.overlap([word_tokens(t) for t in texts])
            statement_share = said.shared / np.maximum(self.statements.sizes[said.problem], 1)
            statement_keys = said.record * n_problems + said.problem
            candidates.append(statement_keys[statement_share >= config.min_statement_containment])
        vectors = None
        with self.timed("embedding"):
            if self.embedder is not None:
                vectors = self.embedder.embed(texts)
                near = nearest(vectors, self.problem_vectors, config.neighbours, config.min_cosine)
                candidates.append(near.record * n_problems + near.problem)
        with self.timed("behaviour"):
            tested, passed, behaviour_runs = self._behaviour(records, codes, vectors, np.unique(np.concatenate(candidates)))
            candidates.append(passed)
        pairs = np.unique(np.concatenate(candidates))
        record, problem = np.divmod(pairs, n_problems)
        behaviour = np.isin(pairs, passed)
        columns: dict[str, Any] = {
            "ngram_words": _lookup(word_keys, words.shared, pairs, 0).astype(np.int32),
            "ngram_code": _lookup(code_keys, containment, pairs, 0.0).astype(np.float32),
            "statement": _lookup(statement_keys, statement_share, pairs, 0.0).astype(np.float32),
            "behaviour": pa.array(behaviour, mask=~(behaviour | np.isin(pairs, tested))),
        }
        with self.timed("embedding"):
            if vectors is not None:
                columns["embed_cosine"], columns["embed_l2"] = pair_distances(vectors, self.problem_vectors, record, problem)
            else:
                columns["embed_cosine"] = columns["embed_l2"] = pa.nulls(len(pairs), pa.float32())
        with self.timed("ast"):
            ast_match, as_text, stats = self._ast(codes, record, problem)
        table = pa.table({
            "record_index": record + offset,
            "record_id": [records[r]["id"] for r in record],
            "problem_index": problem,
            "benchmark": [self.problems[p].benchmark for p in problem],
            "task_id": [self.problems[p].task_id for p in problem],
            **columns,
            "ast_match": pa.array(ast_match, pa.float32(), mask=np.isnan(ast_match)),
            "ast_as_text": as_text,
        }, schema=CHUNK_SCHEMA)
        stats.update(records=len(records), records_without_code=sum(1 for blocks in codes if not blocks), pairs=len(pairs),
                     behaviour_records=behaviour_runs, behaviour_tests=len(tested))
        return table, stats

    def _behaviour(self, records: list[dict[str, Any]], codes: list[list[str]], vectors: np.ndarray | None,
                   candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """(pairs tested, pairs passed) as record * problems + problem keys, and the records run: each
        record's functions against its candidates' tests and those of its nearest problems by text
        and by description."""
        n_problems, k = len(self.problems), self.config.behaviour_neighbours
        empty = np.zeros(0, dtype=np.int64)
        if not self.keys:
            return empty, empty, 0
        wanted: list[set[str]] = [set() for _ in records]
        for record, problem in zip(*np.divmod(candidates, n_problems)):
            if self.key_of[problem] is not None:
                wanted[record].add(self.key_of[problem])
        if vectors is not None and k:
            prose = self.embedder.embed([record_prose(r["text"]) for r in records])
            views = [(vectors, prose, np.arange(len(records)), k)]
            # A function among others in a file is near its problem alone, not as the whole file.
            parts = [(index, part) for index, blocks in enumerate(codes) for part in top_functions("\n\n".join(blocks))]
            if parts and self.config.behaviour_function_neighbours:
                texts = [part for _, part in parts]
                views.append((self.embedder.embed(texts), self.embedder.embed([record_prose(t) for t in texts]),
                              np.array([index for index, _ in parts]), self.config.behaviour_function_neighbours))
            for text, described, owner, count in views:
                for mine, view in ((text, self.key_text_vectors), (described, self.key_statement_vectors)):
                    near = nearest(mine, view, count, -1.0)
                    for row, key in zip(near.record, near.problem):
                        wanted[owner[row]].add(self.keys[key])
        programs, code_of_record = [], {}
        for index, blocks in enumerate(codes):
            code = "\n\n".join(blocks)
            if wanted[index] and defines_function(code):
                tests = [self.tests[key] for key in sorted(wanted[index])]
                code_of_record[index] = code
                programs.append((index, behaviour_program(code, tests, self.config.behaviour_test_s, self.config.behaviour_budget_s)))
        if not programs:
            return empty, empty, 0
        found = {index: [p for p in passes(outcome.stdout, self.config.behaviour_max_problems)
                         if self._substantial(code_of_record[index], p)]
                 for index, outcome in self._run(programs)}
        ok = self._confirm(code_of_record, found)
        tested, passed = [], []
        for index in found:
            for key in wanted[index]:
                for problem in self.problems_of[key]:
                    tested.append(index * n_problems + problem)
                    if key in ok.get(index, ()):
                        passed.append(index * n_problems + problem)
        return np.unique(np.array(tested, dtype=np.int64)), np.unique(np.array(passed, dtype=np.int64)), len(programs)

    def _substantial(self, code: str, found: Pass) -> bool:
        """A one-line function passing a problem's tests (`return max(xs)`) shows the task is a
        one-liner, whatever the reference's length: no evidence of a copy."""
        size = body_tokens(code, found.line)
        return size is None or size >= self.config.behaviour_min_tokens

    def _confirm(self, code_of_record: dict[int, str], found: dict[int, list[Pass]]) -> dict[int, set[str]]:
        """The keys each record passes that hold up on the references' outputs for more inputs
        (`differential`); a pass of a problem without more inputs stands as it is."""
        programs, ok = [], {}
        for index, passes_found in found.items():
            checks = [(self.references.get(p.key), p.function) for p in passes_found]
            ok[index] = {p.key for p, (inputs, _) in zip(passes_found, checks) if inputs is None}
            checks = [(inputs, function) for inputs, function in checks if inputs is not None]
            if checks:
                programs.append((index, confirm_program(code_of_record[index], checks, self.config.behaviour_test_s,
                                                        self.config.behaviour_budget_s)))
        for index, outcome in self._run(programs):
            ok[index] |= {key for key, _ in confirmed(outcome.stdout)}
        return ok

    def _run(self, programs: list[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
        if not programs:
            return iter(())
        if self._sandbox is None:
            from textbooks.sandbox import IsolationUnavailable, Sandbox

            try:
                self._sandbox = Sandbox(workers=self.config.behaviour_workers)
            except IsolationUnavailable as err:
                raise UserError(f"behaviour tier: {err}; or set behaviour=false to decontaminate without it") from None
        timeout = self.config.behaviour_budget_s + 2 * self.config.behaviour_test_s + 5
        return self._sandbox.run_many(programs, timeout_s=timeout)

    def _ast(self, codes: list[list[str]], record: np.ndarray, problem: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        scores = np.full(len(record), np.nan, dtype=np.float32)
        as_text = np.zeros(len(record), dtype=bool)
        stats = Counter(ast_records=0, ast_records_unparsed=0)
        # `record` is sorted: each record's pairs are one run.
        for mine in np.split(np.arange(len(record)), np.flatnonzero(np.diff(record)) + 1):
            parts = [part for block in codes[record[mine[0]]] for part in units(block)] if len(mine) else []
            if not parts:
                continue
            stats["ast_records"] += 1
            stats["ast_records_unparsed"] += any(not part.parsed for part in parts)
            best: dict[int, tuple[float, bool]] = {}
            for j in mine:
                form = int(self.form_of[problem[j]])
                if form not in best:
                    target = self.forms[form]
                    best[form] = max(((match_rate(part, target), not (part.parsed and target.parsed)) for part in parts),
                                     key=lambda scored: scored[0])
                scores[j], as_text[j] = best[form]
        return scores, as_text, dict(stats)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray, default: float) -> np.ndarray:
    """values[keys == q] for each q of `query` (keys sorted and unique), `default` where absent."""
    if not len(keys):
        return np.full(len(query), default)
    position = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[position] == query, values[position], default)
