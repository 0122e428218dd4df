"""The teacher client: many requests to a fleet of OpenAI-compatible servers, none paid twice.

    config = TeacherConfig(endpoints=["http://127.0.0.1:8080/v1"], model="smollm2")
    requests = [make_request(config.model, messages=[...], sample_index=i, temperature=0.7, seed=i, max_tokens=256)
                for i in range(1000)]
    print(estimate(requests, cache))                 # dry run: nothing sent
    async with TeacherClient(config, cache="runs/teacher.sqlite") as client:
        report = await client.run(requests, on_answer=write_row)   # answers as they arrive
    # or, from synchronous code: report = run_requests(config, requests, "runs/teacher.sqlite", write_row)

What `run` does with each request: answer it from the cache if it is there; otherwise wait for a
free slot (`max_in_flight`), the rate limits and the budget, send it to the least busy healthy
endpoint, retry what is retryable (429 honouring Retry-After, 5xx, timeouts, dropped connections,
bodies that are not JSON) with exponential backoff and full jitter, commit the answer to the
cache, then hand it to `on_answer`. Other 4xx are not retried: the request is reported failed
with the status and the start of the body. Failures are collected in the `RunReport`, not raised;
the exception is an endpoint that is not OpenAI-compatible (200 with HTML, or JSON without
`choices`): the run stops and raises `UserError` naming its URL.

The API key is read from the environment variable `api_key_env` and sent as a Bearer token; it
is never stored in the config, the cache, a log line, an error message or a repr.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textbooks.config import output, pacing
from textbooks.errors import UserError
from textbooks.teacher.cache import AnswerCache
from textbooks.teacher.endpoints import Endpoint, EndpointPool
from textbooks.teacher.limits import Budget, TokenBucket, estimate_prompt_tokens
from textbooks.teacher.records import Answer, Failure, Request, make_request
from textbooks.teacher.structured import (
    LLAMA_CPP_FORM,
    OPENAI_FORM,
    PROBE_SCHEMA,
    PROBE_TEXT,
    flavour_of_models_listing,
    form_of_models_listing,
    in_form,
    json_schema_format,
    refuses_form,
    schema_of,
)

log = logging.getLogger("textbooks.teacher")

# A server asking for a longer pause than this is treated as down for good by this run.
MAX_RETRY_AFTER_S = 600.0
BODY_SNIPPET_CHARS = 300
DEFAULT_MAX_IN_FLIGHT = 16

# aiohttp is imported where requests are sent: every `textbooks` process imports this module (for
# TeacherConfig) and few send requests; its import was most of the command's start-up.
if TYPE_CHECKING:
    import aiohttp


@dataclass(frozen=True)
class TeacherConfig:
    """Where the teacher is and how hard to push it: the `teacher:` section of a synth config (and
    of the pipeline file). No endpoints means the embedded teacher."""

    endpoints: list[str] = pacing(default_factory=list)  # base URLs ending in /v1; several share the load
    model: str = output("")  # the served model's name
    api_key_env: str = pacing("OPENAI_API_KEY")  # the key is read from this variable; unset = no key (local servers)
    max_in_flight: int | None = pacing(None)  # requests in flight at once; None: 16 (the embedded teacher: 2)
    requests_per_minute: float | None = pacing(None)
    tokens_per_minute: float | None = pacing(None)  # prompt (chars/4 estimate) + max_tokens, corrected by `usage`
    max_tokens_total: int | None = output(None)  # stop sending once this run's usage reaches it
    max_cost_usd: float | None = output(None)  # same, in dollars at `prices`
    prices: dict[str, list[float]] = output(default_factory=dict)  # model: [input_usd_per_1M, output_usd_per_1M]
    timeout_s: float = pacing(120.0)
    max_retries: int = pacing(6)
    backoff_base_s: float = pacing(0.5)  # retry n waits uniform(0, min(backoff_max_s, backoff_base_s * 2**(n-1)))
    backoff_max_s: float = pacing(30.0)
    cooldown_s: float = pacing(30.0)  # how long a dead endpoint is skipped
    failures_before_cooldown: int = pacing(3)

    def __post_init__(self) -> None:
        if isinstance(self.endpoints, str):  # one URL given as a plain string
            object.__setattr__(self, "endpoints", [self.endpoints])
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise UserError(f"teacher.max_in_flight: {self.max_in_flight}; expected >= 1")
        if self.max_retries < 0:
            raise UserError(f"teacher.max_retries: {self.max_retries}; expected >= 0")
        for model, price in self.prices.items():
            if len(price) != 2:
                raise UserError(f"teacher.prices.{model}: {price!r}; expected [input_usd_per_1M, output_usd_per_1M]")

    @property
    def in_flight(self) -> int:
        return self.max_in_flight or DEFAULT_MAX_IN_FLIGHT

    def with_endpoint(self, base_url: str, model: str) -> TeacherConfig:
        """This config pointed at one server (e.g. the embedded teacher)."""
        return replace(self, endpoints=[base_url], model=model)


class TeacherError(Exception):
    """`TeacherClient.complete` gave up on a request; `failure` says why."""

    def __init__(self, failure: Failure):
        super().__init__(f"request {failure.key[:12]} failed after {failure.attempts} attempts: {failure.error}")
        self.failure = failure


@dataclass
class RunReport:
    """What a `run` did. Counts are this run's; token counts and cost are the client's spend so
    far, over all its runs (the budget spans the client's life; cache hits cost nothing)."""

    answered: int = 0  # new answers from the servers
    cached: int = 0  # answers found in the cache
    failed: list[Failure] = field(default_factory=list)
    not_sent: int = 0  # taken from the input but not sent because the run stopped
    duplicates: int = 0  # requests whose key came earlier in the same run (answered once)
    stopped: str | None = None  # why the run stopped early (a budget), else None
    attempts: int = 0  # HTTP requests sent, retries included
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    finish_reasons: Counter = field(default_factory=Counter)
    endpoints: dict[str, dict[str, int]] = field(default_factory=dict)  # url: sent, answered, errors

    @property
    def budget_reached(self) -> bool:
        return self.stopped is not None and "budget" in self.stopped

    def summary(self) -> str:
        line = (
            f"{self.answered} answered, {self.cached} from cache, {len(self.failed)} failed, "
            f"{self.attempts} HTTP requests, {self.prompt_tokens + self.completion_tokens:,} tokens"
            f"{f', ${self.cost_usd:.4f}' if self.cost_usd else ''} in {self.elapsed_s:.1f}s"
        )
        return line + (f"; stopped: {self.stopped} ({self.not_sent} not sent)" if self.stopped else "")


@dataclass
class _Attempt:
    """The outcome of one HTTP request."""

    answer: Answer | None = None
    error: str = ""
    status: int | None = None
    retryable: bool = False
    retry_after: float | None = None
    refused: bool = False  # the endpoint is not there (connection refused or connect timeout)
    incompatible: bool = False  # answered, but not like an OpenAI-compatible server


OnAnswer = Callable[[Answer], Awaitable[None] | None]
OnFailure = Callable[[Failure], Awaitable[None] | None]


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class TeacherClient:
    """Async client over `config.endpoints`; use as `async with TeacherClient(config, cache=...)`.

    `cache`: an `AnswerCache`, a path to one (opened and closed by the client), or None (no cache).
    """

    def __init__(self, config: TeacherConfig, cache: AnswerCache | str | Path | None = None):
        self.config = config
        self._pool = EndpointPool(config.endpoints, config.cooldown_s, config.failures_before_cooldown)
        self._owns_cache = isinstance(cache, (str, Path))
        self.cache = AnswerCache(cache) if self._owns_cache else cache
        self._api_key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
        self.budget = Budget(config.max_tokens_total, config.max_cost_usd, {m: tuple(p) for m, p in config.prices.items()})
        self._rpm = TokenBucket(config.requests_per_minute) if config.requests_per_minute else None
        self._tpm = TokenBucket(config.tokens_per_minute) if config.tokens_per_minute else None
        self._http: aiohttp.ClientSession | None = None
        self._report = RunReport()
        self._form_locks: dict[str, asyncio.Lock] = {}  # one structured-form probe per endpoint

    def __repr__(self) -> str:
        return f"TeacherClient(endpoints={[e.url for e in self._pool.endpoints]!r}, model={self.config.model!r}, cache={self.cache!r})"

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> TeacherClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Open the connection pool and learn each endpoint's flavour (idempotent)."""
        if self._http is not None:
            return
        self._http = self._connections(self.config.in_flight)
        await asyncio.gather(*(self._probe(e) for e in self._pool.endpoints))
        if not self._pool.healthy():
            # Every endpoint refused the connection: nothing listens, and waiting out cool-downs
            # and retries (minutes) would only end in the same answer.
            await self._http.close()
            self._http = None
            urls = ", ".join(e.url for e in self._pool.endpoints)
            raise UserError(f"teacher: no endpoint can be reached ({urls}); expected an OpenAI-compatible server listening there")

    def _connections(self, n: int) -> aiohttp.ClientSession:
        """A pool of up to `n` keep-alive connections that sends the key (if any) as a Bearer token.

        aiohttp rather than httpx: at 64 requests in flight httpx spent ~1.2 ms of CPU per request
        here and held the client to 83% of the ideal rate; aiohttp needs ~0.3 ms (94%).
        """
        import aiohttp

        return aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self._api_key}"} if self._api_key else {},
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_s, connect=min(10.0, self.config.timeout_s)),
            connector=aiohttp.TCPConnector(limit=n, limit_per_host=n),
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._owns_cache and self.cache is not None:
            self.cache.close()

    async def _probe(self, endpoint: Endpoint) -> None:
        """GET /models: which server is it (for the structured-output form)? Rest it if it is not there."""
        import aiohttp

        try:
            timeout = aiohttp.ClientTimeout(total=min(10.0, self.config.timeout_s))
            async with self._http.get(f"{endpoint.url}/models", timeout=timeout) as response:
                listing = await response.json(content_type=None) if response.status == 200 else None
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
            self._pool.rest(endpoint)
            return
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return
        if isinstance(listing, dict):
            endpoint.flavour = flavour_of_models_listing(listing)
            endpoint.structured_form = form_of_models_listing(listing)
            if endpoint.structured_form is not None:
                log.info("teacher: %s takes response_format %s (from its /models listing)", endpoint.url, endpoint.structured_form)

    async def ping(self) -> dict[str, tuple[str, list[str]]]:
        """Each endpoint's (flavour, model ids) from /v1/models; UserError naming the first that
        does not answer like an OpenAI-compatible server."""
        import aiohttp

        await self.start()
        servers = {}
        for endpoint in self._pool.endpoints:
            try:
                async with self._http.get(f"{endpoint.url}/models") as response:
                    status, content = response.status, await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                raise UserError(f"{endpoint.url}: cannot reach it ({self._describe(err)}); expected an OpenAI-compatible server listening there") from None
            try:
                listing = json.loads(content)
            except ValueError:
                listing = None
            if status != 200 or not isinstance(listing, dict) or not listing.get("data"):
                raise UserError(f"{endpoint.url}: /models answered HTTP {status} without a model list; expected an OpenAI-compatible server")
            servers[endpoint.url] = (flavour_of_models_listing(listing), [str(m.get("id")) for m in listing["data"]])
        return servers

    # -- public API ----------------------------------------------------------------------------

    def request(self, *, messages: list[dict] | None = None, prompt: str | None = None, sample_index: int = 0, **params: Any) -> Request:
        """`make_request` with this config's model."""
        return make_request(self.config.model, messages=messages, prompt=prompt, sample_index=sample_index, **params)

    async def complete(self, request: Request) -> Answer:
        """One answer (from the cache if there); raises `TeacherError` when the request fails."""
        await self.start()
        cached = self.cache.get(request.key) if self.cache is not None else None
        if cached is not None:
            return cached
        self.budget.check_model(request.model)
        if reason := self.budget.exhausted():
            raise TeacherError(Failure(request.key, reason, None, 0))
        result = await self._ask(request)
        if isinstance(result, Failure):
            raise TeacherError(result)
        return result

    async def run(
        self,
        requests: Iterable[Request] | AsyncIterable[Request],
        on_answer: OnAnswer | None = None,
        on_failure: OnFailure | None = None,
    ) -> RunReport:
        """Answer every request, handing each answer to `on_answer` (sync or async) as it arrives.

        Ends with every request answered or in `report.failed`, unless a budget stops it first
        (`report.stopped`; requests in flight then finish and are kept, the rest of the input is
        not read). Keys are unique per run: a repeated key is answered once.
        """
        await self.start()
        started = time.monotonic()
        self._report = report = RunReport()
        source = _aiter(requests)
        take_lock = asyncio.Lock()  # an async generator cannot be advanced by two tasks at once
        seen: set[str] = set()
        incompatible: list[str] = []

        async def next_request() -> Request | None:
            async with take_lock:
                return await anext(source, None)

        async def worker() -> None:
            while report.stopped is None and not incompatible:
                request = await next_request()
                if request is None:
                    return
                if request.key in seen:
                    report.duplicates += 1
                    continue
                seen.add(request.key)
                cached = self.cache.get(request.key) if self.cache is not None else None
                if cached is not None:
                    report.cached += 1
                    await _call(on_answer, cached)
                    await asyncio.sleep(0)  # a long run of cache hits must not starve requests in flight
                    continue
                report.stopped = self.budget.exhausted()
                if report.stopped:
                    report.not_sent += 1
                    return
                self.budget.check_model(request.model)
                result = await self._ask(request)
                if isinstance(result, Failure):
                    report.failed.append(result)
                    if result.incompatible:
                        incompatible.append(result.error)
                    await _call(on_failure, result)
                else:
                    report.answered += 1
                    report.finish_reasons[result.finish_reason] += 1
                    await _call(on_answer, result)

        workers = [asyncio.create_task(worker()) for _ in range(self.config.in_flight)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
        report.prompt_tokens, report.completion_tokens = self.budget.prompt_tokens, self.budget.completion_tokens
        report.cost_usd = self.budget.cost_usd
        report.elapsed_s = time.monotonic() - started
        report.endpoints = {e.url: {"sent": e.sent, "answered": e.answered, "errors": e.errors} for e in self._pool.endpoints}
        log.info("teacher run: %s", report.summary())
        if incompatible:
            raise UserError(incompatible[0])
        return report

    # -- one request, with retries -------------------------------------------------------------

    async def _ask(self, request: Request) -> Answer | Failure:
        body = request.body()
        structured = schema_of(body.get("response_format")) is not None
        switched = False
        attempt = _Attempt()
        for n in range(1, self.config.max_retries + 2):
            reserved = await self._rate_limit(request)
            endpoint = await self._pool.acquire()
            if structured:
                await self._learn_form(endpoint, request)
                form = self._shape(body, endpoint)
            attempt = await self._send(endpoint, request, body)
            # Any HTTP answer below 500 (a 429 too) shows the server is up; Retry-After paces 429s.
            up = attempt.answer is not None or (attempt.status is not None and attempt.status < 500)
            self._pool.release(endpoint, ok=up, refused=attempt.refused)
            self._report.attempts += 1
            if attempt.answer is not None:
                if self._tpm is not None:
                    self._tpm.refund(reserved - attempt.answer.prompt_tokens - attempt.answer.completion_tokens)
                self.budget.add(request.model, attempt.answer.prompt_tokens, attempt.answer.completion_tokens)
                if self.cache is not None:
                    self.cache.put(attempt.answer)  # committed before anyone else sees the answer
                return attempt.answer
            if structured and not switched and refuses_form(attempt.status, attempt.error):
                # The server said it does not take this form: every run hears the same, so switching
                # keeps bodies reproducible (a 5xx or a timeout is no such answer and never switches).
                switched = True
                if endpoint.structured_form == form:
                    endpoint.structured_form = _other_form(form)
                    log.info("teacher: %s takes response_format %s (it refused %s)", endpoint.url, endpoint.structured_form, form)
                continue
            if not attempt.retryable or n > self.config.max_retries:
                break
            delay = self._backoff(n, attempt, endpoint)
            log.info("teacher: retry %d of %s in %.2fs after: %s", n, request.key[:12], delay, attempt.error)
            await asyncio.sleep(delay)
        return Failure(request.key, attempt.error, attempt.status, n, attempt.incompatible)

    async def _learn_form(self, endpoint: Endpoint, like: Request) -> None:
        """Settle the response_format form `endpoint` takes, once, by a deliberate probe: a tiny
        structured request in OpenAI's form, and in llama.cpp's when that one fails.

        OpenAI's form wins as soon as the server answers it. llama.cpp's wins only on a 400 naming
        response_format, or when OpenAI's form met a 5xx on every try of the retry budget while
        llama.cpp's was answered: a passing fault (an overloaded moment) cannot pick the form, so
        a restarted run sends the bodies the first run sent. Unsettled (the endpoint answered
        neither), requests go in the form they were written in and the next one probes again.
        """
        if endpoint.structured_form is not None:
            return
        async with self._form_locks.setdefault(endpoint.url, asyncio.Lock()):
            if endpoint.structured_form is not None:
                return
            other_answered, always_5xx = False, True
            for n in range(1, self.config.max_retries + 2):
                first = await self._send_probe(endpoint, like, OPENAI_FORM)
                if first.answer is not None:
                    return self._settle(endpoint, OPENAI_FORM, "a probe")
                if refuses_form(first.status, first.error):
                    return self._settle(endpoint, LLAMA_CPP_FORM, "a probe refused OpenAI's form")
                always_5xx = always_5xx and first.status is not None and first.status >= 500
                if always_5xx and not other_answered:
                    other_answered = (await self._send_probe(endpoint, like, LLAMA_CPP_FORM)).answer is not None
                if n <= self.config.max_retries:
                    await asyncio.sleep(self._backoff(n, first, endpoint))
            if other_answered and always_5xx:
                return self._settle(endpoint, LLAMA_CPP_FORM, f"OpenAI's form met HTTP {first.status} {n} times")
            log.warning("teacher: %s answered no structured-output probe (%s); sending response_format as written", endpoint.url, first.error)

    async def _send_probe(self, endpoint: Endpoint, like: Request, form: str) -> _Attempt:
        kind = {"messages": [{"role": "user", "content": PROBE_TEXT}]} if like.is_chat else {"prompt": PROBE_TEXT}
        probe = make_request(like.model, **kind, temperature=0.0, max_tokens=16, response_format=in_form(json_schema_format(PROBE_SCHEMA), form))
        attempt = await self._send(endpoint, probe, probe.body())
        self._report.attempts += 1
        if attempt.answer is not None:
            self.budget.add(probe.model, attempt.answer.prompt_tokens, attempt.answer.completion_tokens)
        return attempt

    @staticmethod
    def _settle(endpoint: Endpoint, form: str, how: str) -> None:
        endpoint.structured_form = form
        log.info("teacher: %s takes response_format %s (learnt from %s)", endpoint.url, form, how)

    def _shape(self, body: dict[str, Any], endpoint: Endpoint) -> str:
        """Rewrite the schema'd response_format into the form `endpoint` takes; returns the form sent."""
        if endpoint.structured_form is not None:
            body["response_format"] = in_form(body["response_format"], endpoint.structured_form)
        return body["response_format"]["type"]

    async def _rate_limit(self, request: Request) -> int:
        """Wait for the request and token buckets; returns the tokens reserved (corrected later)."""
        if self._rpm is not None:
            await self._rpm.acquire(1)
        reserved = 0
        if self._tpm is not None:
            reserved = estimate_prompt_tokens(request) + int(request.params.get("max_tokens") or 0)
            await self._tpm.acquire(reserved)
        return reserved

    def _backoff(self, n: int, attempt: _Attempt, endpoint: Endpoint) -> float:
        if attempt.retry_after is not None:
            # Honour the server's pause, plus up to 10% jitter so a crowd does not come back at once.
            pause = min(attempt.retry_after, MAX_RETRY_AFTER_S)
            return pause + random.uniform(0, 0.1 * pause)
        if attempt.refused and self._pool.others_healthy(endpoint):
            return 0.0  # another endpoint can take it right away
        return random.uniform(0, min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** (n - 1)))

    async def _send(self, endpoint: Endpoint, request: Request, body: dict[str, Any]) -> _Attempt:
        import aiohttp

        url = f"{endpoint.url}/chat/completions" if request.is_chat else f"{endpoint.url}/completions"
        try:
            async with self._http.post(url, json=body) as response:
                status, headers, content = response.status, response.headers, await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as err:
            return _Attempt(error=f"{url}: cannot connect ({self._describe(err)})", retryable=True, refused=True)
        except asyncio.TimeoutError:
            return _Attempt(error=f"{url}: no answer within {self.config.timeout_s:g}s", retryable=True)
        except aiohttp.ClientError as err:
            return _Attempt(error=f"{url}: connection dropped ({self._describe(err)})", retryable=True)
        if status == 200:
            return self._read_answer(endpoint, request, url, headers, content)
        snippet = self._redact(content.decode("utf-8", "replace")[:BODY_SNIPPET_CHARS])
        error = f"{url}: HTTP {status}: {snippet}"
        if status == 401 and not self._api_key:
            error += f" (no API key: environment variable {self.config.api_key_env} is unset)"
        retryable = status == 429 or status >= 500
        return _Attempt(error=error, status=status, retryable=retryable, retry_after=parse_retry_after(headers.get("retry-after")) if retryable else None)

    def _read_answer(self, endpoint: Endpoint, request: Request, url: str, headers, content: bytes) -> _Attempt:
        text = content.decode("utf-8", "replace")
        snippet = self._redact(text[:120])
        try:
            data = json.loads(content)
        except ValueError:
            if "html" in headers.get("content-type", "") or text.lstrip().startswith("<"):
                return self._incompatible(endpoint, f"answered HTTP 200 with HTML: {snippet!r}")
            return _Attempt(error=f"{url}: HTTP 200 with a body that is not JSON (truncated?): {snippet!r}", retryable=True)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if request.is_chat else choice["text"]
        except (KeyError, IndexError, TypeError):
            return self._incompatible(endpoint, f"answered HTTP 200 with JSON that has no completion in choices[0]: {snippet!r}")
        text = text or ""
        usage = data.get("usage") or {}
        # Servers without `usage` still count against the budget, by the chars/4 estimate.
        prompt_tokens = int(usage.get("prompt_tokens") or estimate_prompt_tokens(request))
        completion_tokens = int(usage.get("completion_tokens") or len(text) // 4 + 1)
        answer = Answer(request.key, text, choice.get("finish_reason"), prompt_tokens, completion_tokens, str(data.get("model") or request.model))
        return _Attempt(answer=answer)

    @staticmethod
    def _incompatible(endpoint: Endpoint, what: str) -> _Attempt:
        return _Attempt(
            error=f"teacher endpoint {endpoint.url} is not OpenAI-compatible: {what}; expected a base URL such as http://host:port/v1 of an OpenAI-compatible server",
            retryable=True,
            incompatible=True,
        )

    def _describe(self, err: Exception) -> str:
        return self._redact(str(err)) or type(err).__name__

    def _redact(self, text: str) -> str:
        """A server may echo request headers back: never let the key through."""
        return text.replace(self._api_key, "***") if self._api_key else text


def _other_form(form: str) -> str:
    return OPENAI_FORM if form == LLAMA_CPP_FORM else LLAMA_CPP_FORM


async def _call(callback: Callable[[Any], Any] | None, value: Any) -> None:
    if callback is None:
        return
    result = callback(value)
    if inspect.isawaitable(result):
        await result


async def _aiter(requests: Iterable[Request] | AsyncIterable[Request]):
    if isinstance(requests, AsyncIterable):
        async for request in requests:
            yield request
    else:
        for request in requests:
            yield request


def run_requests(
    config: TeacherConfig,
    requests: Iterable[Request],
    cache: AnswerCache | str | Path | None = None,
    on_answer: Callable[[Answer], None] | None = None,
) -> RunReport:
    """`TeacherClient.run` for synchronous code (runs its own event loop)."""

    async def main() -> RunReport:
        async with TeacherClient(config, cache=cache) as client:
            return await client.run(requests, on_answer=on_answer)

    return asyncio.run(main())
