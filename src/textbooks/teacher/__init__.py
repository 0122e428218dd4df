"""The teacher: an OpenAI-compatible client (async, retries, cache, budget) and a local server.

Public API (stable; other stages build on it):

    TeacherConfig(endpoints, model, api_key_env="OPENAI_API_KEY", max_in_flight=None (16),
                  requests_per_minute=None, tokens_per_minute=None, max_tokens_total=None,
                  max_cost_usd=None, prices={model: [in_usd_per_1M, out_usd_per_1M]},
                  timeout_s=120, max_retries=6, backoff_base_s=0.5, backoff_max_s=30,
                  cooldown_s=30, failures_before_cooldown=3)
    make_request(model, *, messages=None | prompt=None, sample_index=0, **params) -> Request
        Request(key, model, messages, prompt, params, sample_index); key = sha256 of all of them
    TeacherClient(config, cache=path | AnswerCache | None)       # async with ... as client:
        await client.run(requests, on_answer=None, on_failure=None) -> RunReport
        await client.complete(request) -> Answer                 # raises TeacherError
        client.request(messages=..., sample_index=..., **params) -> Request   (config.model)
        await client.ping() -> {url: (flavour, model ids)}        # UserError if not OpenAI-compatible
    run_requests(config, requests, cache=None, on_answer=None) -> RunReport   # sync wrapper
    Answer(key, text, finish_reason, prompt_tokens, completion_tokens, model, cached)
    Failure(key, error, status, attempts, incompatible)
    RunReport(answered, cached, failed, not_sent, duplicates, stopped, attempts, prompt_tokens,
              completion_tokens, cost_usd, elapsed_s, finish_reasons, endpoints); .budget_reached; .summary()
    estimate(requests, cache=None, prices=None, count_tokens=chars/4) -> Estimate   # dry run
    AnswerCache(path)                                            # SQLite (WAL), one commit per answer
    json_schema_format(schema, flavour="openai") -> response_format    # client adapts it per server
    parse_json_answer(text) -> Any                               # tolerant JSON parsing
    EmbeddedTeacher(...)   # with EmbeddedTeacher() as t: t.base_url, t.model, t.config(base=None)
                           # (textbooks.teacher.server; needs the `teacher` extra)
"""

from textbooks.teacher.cache import AnswerCache
from textbooks.teacher.client import RunReport, TeacherClient, TeacherConfig, TeacherError, run_requests
from textbooks.teacher.limits import Estimate, estimate
from textbooks.teacher.records import Answer, Failure, Request, make_request
from textbooks.teacher.server import EmbeddedTeacher
from textbooks.teacher.structured import json_schema_format, parse_json_answer

__all__ = [
    "Answer",
    "AnswerCache",
    "EmbeddedTeacher",
    "Estimate",
    "Failure",
    "Request",
    "RunReport",
    "TeacherClient",
    "TeacherConfig",
    "TeacherError",
    "estimate",
    "json_schema_format",
    "make_request",
    "parse_json_answer",
    "run_requests",
]
