"""Record schemas per dataset kind, as code.

Every record has a stable `id` and a `text`. Stages add columns (`edu_score`, `quality`, ...) and
never drop these. Exercises keep `text == prompt + solution`, the prompt laid out as a HumanEval
prompt (imports, signature, indented docstring), the solution the body that continues it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from textbooks.errors import UserError

SCHEMAS: dict[str, pa.Schema] = {
    "code": pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("source", pa.string()),
            ("path", pa.string()),
            ("repo", pa.string()),
            ("license", pa.string()),
        ]
    ),
    "textbook": pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("topic", pa.string()),
            ("audience", pa.string()),
            ("style", pa.string()),
            ("teacher", pa.string()),
            ("prompt_sha", pa.string()),
            ("usage_tokens", pa.int64()),
        ]
    ),
    "exercise": pa.schema(
        [
            ("id", pa.string()),
            ("prompt", pa.string()),
            ("solution", pa.string()),
            ("text", pa.string()),
            ("function_name", pa.string()),
            ("topic", pa.string()),
            ("tests", pa.list_(pa.string())),
        ]
    ),
}

KINDS = tuple(SCHEMAS)

_PY_TYPES: dict[pa.DataType, tuple[type, ...]] = {
    pa.string(): (str,),
    pa.int64(): (int,),
    pa.list_(pa.string()): (list, tuple),
}


def schema_for(kind: str) -> pa.Schema:
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise UserError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}") from None


def stable_id(text: str) -> str:
    """Content-derived id for records that arrive without one."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def validate_record(kind: str, record: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check one record against its kind; return it with defaults filled in.

    `where` names the place for errors, e.g. "data.jsonl line 12". Required: `text` (and for
    exercises `prompt` and `solution`); `id` defaults to a hash of the text; other schema fields
    default to empty values. Extra fields are kept.
    """
    schema = schema_for(kind)
    if not isinstance(record, Mapping):
        raise UserError(f"{where}: expected a JSON object, got {type(record).__name__}")
    out = dict(record)
    if kind == "exercise":
        for name in ("prompt", "solution"):
            if not isinstance(out.get(name), str):
                raise UserError(f"{where}: field '{name}' missing or not a string (exercise records need prompt and solution)")
        out.setdefault("text", out["prompt"] + out["solution"])
        if out["text"] != out["prompt"] + out["solution"]:
            raise UserError(f"{where}: field 'text' must equal prompt + solution")
    if not isinstance(out.get("text"), str):
        raise UserError(f"{where}: field 'text' missing or not a string")
    out.setdefault("id", stable_id(out["text"]))
    for field in schema:
        value = out.get(field.name)
        if value is None:
            out[field.name] = [] if pa.types.is_list(field.type) else (0 if pa.types.is_integer(field.type) else "")
            continue
        expected = _PY_TYPES[field.type]
        if not isinstance(value, expected) or isinstance(value, bool):
            raise UserError(f"{where}: field '{field.name}' should be {field.type}, got {type(value).__name__}")
        if pa.types.is_list(field.type) and not all(isinstance(v, str) for v in value):
            raise UserError(f"{where}: field '{field.name}' should be a list of strings")
    return out


def check_table(kind: str, table_schema: pa.Schema, where: str) -> None:
    """A table of `kind` must carry every schema column with the right type (more are allowed)."""
    for field in schema_for(kind):
        index = table_schema.get_field_index(field.name)
        if index < 0:
            raise UserError(f"{where}: column '{field.name}' missing for kind '{kind}'")
        if not table_schema.field(index).type.equals(field.type):
            raise UserError(
                f"{where}: column '{field.name}' has type {table_schema.field(index).type}; expected {field.type}"
            )
