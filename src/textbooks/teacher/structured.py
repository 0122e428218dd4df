"""Structured (JSON) output across server flavours, and a tolerant parser for what comes back.

Servers disagree on how to ask for JSON that follows a schema:
- OpenAI and vLLM: `{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}`;
- llama.cpp's Python server: `{"type": "json_object", "schema": {...}}` (OpenAI's form gives 500).
Write either; the client sends the form the endpoint takes, decided once per endpoint before its
first structured request: from /v1/models' `owned_by` where that names the server, else by a
deliberate probe (`probe_messages` with `PROBE_SCHEMA`). A 400 naming `response_format` switches
the form; a 5xx or a timeout never does, since a form picked by a passing fault would give a killed
and resumed run other request bodies, hence other answers, than a run that went straight through.
"""

from __future__ import annotations

import json
import re
from typing import Any

OPENAI_FORM = "json_schema"
LLAMA_CPP_FORM = "json_object"


def json_schema_format(schema: dict[str, Any], flavour: str = "openai", name: str = "output") -> dict[str, Any]:
    """The `response_format` asking for JSON that follows `schema`, in the form `flavour` takes
    ("llama.cpp" or anything else for OpenAI's form: "openai", "vllm", ...)."""
    if flavour == "llama.cpp":
        return {"type": LLAMA_CPP_FORM, "schema": schema}
    return {"type": OPENAI_FORM, "json_schema": {"name": name, "schema": schema}}


def schema_of(response_format: Any) -> dict[str, Any] | None:
    """The schema inside a `response_format` of either form, or None (no schema to convert)."""
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == OPENAI_FORM:
        return (response_format.get("json_schema") or {}).get("schema")
    if response_format.get("type") == LLAMA_CPP_FORM:
        return response_format.get("schema")
    return None


def in_form(response_format: dict[str, Any], form: str) -> dict[str, Any]:
    """`response_format` rewritten into `form` (OPENAI_FORM or LLAMA_CPP_FORM); as-is if it holds no schema."""
    schema = schema_of(response_format)
    if schema is None or response_format.get("type") == form:
        return response_format
    if form == LLAMA_CPP_FORM:
        return json_schema_format(schema, "llama.cpp")
    return json_schema_format(schema, "openai")


def flavour_of_models_listing(listing: Any) -> str:
    """Guess the server from a /v1/models answer: "llama.cpp", "vllm" or "openai" (the default)."""
    owners = {str(m.get("owned_by", "")).lower() for m in (listing or {}).get("data", []) if isinstance(m, dict)}
    if owners & {"llamacpp", "llama.cpp", "llama-cpp", "me"}:  # llama-cpp-python says "me"
        return "llama.cpp"
    if "vllm" in owners:
        return "vllm"
    return "openai"


# owned_by values whose structured-output form is known without asking.
_FORM_OF_FLAVOUR = {"llama.cpp": LLAMA_CPP_FORM, "vllm": OPENAI_FORM}
_OPENAI_OWNERS = {"openai", "system", "openai-internal"}

PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
PROBE_TEXT = 'Answer with the JSON object {"ok": true}.'


def form_of_models_listing(listing: Any) -> str | None:
    """The response_format form a server takes when its /v1/models answer names it; None: ask it."""
    if not isinstance(listing, dict):
        return None
    flavour = flavour_of_models_listing(listing)
    if flavour in _FORM_OF_FLAVOUR:
        return _FORM_OF_FLAVOUR[flavour]
    owners = {str(m.get("owned_by", "")).lower() for m in listing.get("data", []) if isinstance(m, dict)}
    return OPENAI_FORM if owners & _OPENAI_OWNERS else None


def refuses_form(status: int | None, error: str) -> bool:
    """A 400/422 that names the response_format: the server does not take this form (no fault of the moment)."""
    return status in (400, 422) and ("response_format" in error or "json_schema" in error)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_json_answer(text: str) -> Any:
    """The JSON value in a teacher's answer: tolerates raw newlines inside strings (llama.cpp's
    grammar allows them), a ```json fence, or prose around one {...} object. Raises ValueError."""
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate, strict=False)
        except ValueError:
            continue
    raise ValueError(f"no JSON value in the answer: {text[:200]!r}")
