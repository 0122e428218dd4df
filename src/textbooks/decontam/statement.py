"""A benchmark problem's statement (what it asks, in words) and a record's prose, for two tiers:

  statement tier    a record holding most of a problem's statement (its word n-grams) is a copy of
                    the problem whatever its code: training on a benchmark's own statement with any
                    solution is contamination (issue 24, finding 5; phi-1 checked docstring 13-grams);
  behaviour         a record's docstrings, comments and identifier words are compared with each
  candidates        problem's statement, so that a rephrasing with new code still meets its problem.

A statement: the docstrings of a prompt that is Python (HumanEval's, MBPP+'s), else the prompt
itself (MBPP's problem text).
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize

from textbooks.benchmarks import Problem
from textbooks.decontam.ast_match import parse_quietly

_DOCUMENTED = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def problem_statement(problem: Problem) -> str:
    tree = parse_quietly(problem.prompt)
    docs = [] if tree is None else [doc for node in ast.walk(tree) if isinstance(node, _DOCUMENTED)
                                    for doc in [ast.get_docstring(node)] if doc]
    return "\n".join(docs) if docs else problem.prompt


def record_prose(code: str) -> str:
    """The words a reader of `code` sees besides its syntax: docstrings, other strings, comments and
    the parts of its identifiers (`count_vowels` -> "count vowels")."""
    words = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type in (tokenize.COMMENT, tokenize.STRING):
                words.append(token.string.strip("#'\" \n"))
            elif token.type == tokenize.NAME and not keyword.iskeyword(token.string):
                words.append(" ".join(re.findall(r"[A-Za-z][a-z]*|\d+", token.string)))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return code  # not Python: all of it is prose
    return " ".join(words)
