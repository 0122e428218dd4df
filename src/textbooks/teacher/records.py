"""What goes to the teacher and what comes back: `Request`, `Answer`, `Failure`.

A `Request` is one sample of one prompt. Its `key` hashes everything that decides the answer
(model, messages or prompt, sampling parameters, sample index), never the endpoint or the API
key, so the same request sent to any server of a fleet hits the same cache row.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from textbooks.errors import UserError


@dataclass(frozen=True)
class Request:
    """One item of work: a chat (`messages`) or a plain completion (`prompt`, for base models).

    Build it with `make_request`, which fills `key`. `params` are OpenAI sampling parameters sent
    as-is (temperature, top_p, max_tokens, seed, stop, response_format, ...).
    """

    key: str
    model: str
    messages: list[dict[str, Any]] | None
    prompt: str | None
    params: dict[str, Any] = field(default_factory=dict)
    sample_index: int = 0

    def __hash__(self) -> int:  # the key stands for the whole request (its dicts are not hashable)
        return hash(self.key)

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    def body(self) -> dict[str, Any]:
        """The JSON body of the HTTP request (chat completions or completions)."""
        body: dict[str, Any] = {"model": self.model, **self.params}
        if self.is_chat:
            body["messages"] = self.messages
        else:
            body["prompt"] = self.prompt
        return body


@dataclass(frozen=True)
class Answer:
    """The teacher's answer to one `Request` (from a server, or from the cache when `cached`)."""

    key: str
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    model: str
    cached: bool = False


@dataclass(frozen=True)
class Failure:
    """A request given up on: `error` says why (HTTP status and a body snippet, or the transport
    error), after `attempts` tries. Never contains the API key."""

    key: str
    error: str
    status: int | None
    attempts: int
    incompatible: bool = False  # the endpoint does not speak the OpenAI API (wrong URL?)


def request_key(model: str, messages: list[dict] | None, prompt: str | None, params: dict, sample_index: int) -> str:
    """sha256 over a canonical JSON of what decides the answer (sorted keys, no whitespace)."""
    canonical = json.dumps(
        {"model": model, "messages": messages, "prompt": prompt, "params": params, "sample_index": sample_index},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def make_request(
    model: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    prompt: str | None = None,
    sample_index: int = 0,
    **params: Any,
) -> Request:
    """A `Request` with its cache key. Exactly one of `messages` (chat) or `prompt` (completion).

    `sample_index` tells apart several samples of the same prompt (it is in the key, not sent);
    pass a `seed` derived from it if the server should sample them differently but repeatably.
    """
    if (messages is None) == (prompt is None):
        raise UserError("teacher request: give exactly one of `messages` (chat) or `prompt` (completion)")
    if not model:
        raise UserError("teacher request: `model` is empty; expected the served model's name")
    if params.get("n", 1) != 1:
        raise UserError("teacher request: `n` must be 1; ask for several samples with sample_index 0..n-1")
    params.pop("n", None)
    if messages is not None:
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or "role" not in message or "content" not in message:
                raise UserError(f"teacher request: messages[{i}] must be a dict with 'role' and 'content'")
    # Copies, so a caller mutating its lists later cannot change a request after its key was taken.
    messages = copy.deepcopy(messages)
    params = copy.deepcopy(params)
    key = request_key(model, messages, prompt, params, sample_index)
    return Request(key=key, model=model, messages=messages, prompt=prompt, params=params, sample_index=sample_index)
