"""Rate limits, the token/cost budget, and the dry-run estimate made before anything is sent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from textbooks.errors import UserError
from textbooks.teacher.cache import AnswerCache
from textbooks.teacher.records import Request

# Prices are per million tokens: (input, output), in US dollars.
Prices = Mapping[str, tuple[float, float]]


def cost_usd(prices: Prices, model: str, prompt_tokens: int, completion_tokens: int) -> float:
    input_per_1m, output_per_1m = prices.get(model, (0.0, 0.0))
    return (prompt_tokens * input_per_1m + completion_tokens * output_per_1m) / 1e6


def estimate_prompt_tokens(request: Request) -> int:
    """About 4 characters per token for English and code; good enough to plan and to rate-limit."""
    text = request.prompt if request.prompt is not None else json.dumps(request.messages, ensure_ascii=False)
    return len(text) // 4 + 1


class TokenBucket:
    """At most `per_minute` units a minute, in bursts of at most a second's worth.

    Hand-written (20 lines) rather than a dependency: it must also take a correction after the
    fact (`refund`), since a request's real token count is known only once it is answered.
    A request larger than the bucket waits for a full bucket and leaves it in debt, so the
    long-run rate still holds.
    """

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        if per_minute <= 0:
            raise UserError(f"teacher rate limit: {per_minute} per minute; expected a positive number")
        self.rate_per_s = per_minute / 60.0
        self.capacity = max(1.0, self.rate_per_s)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()  # first come, first served

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now

    async def acquire(self, amount: float = 1.0) -> None:
        async with self._lock:
            self._refill()
            while self._tokens < min(amount, self.capacity):
                await self._sleep((min(amount, self.capacity) - self._tokens) / self.rate_per_s)
                self._refill()
            self._tokens -= amount

    def refund(self, amount: float) -> None:
        """Give back `amount` (negative: take more) once the real cost is known."""
        self._refill()
        self._tokens = min(self.capacity, self._tokens + amount)


class Budget:
    """Tokens and dollars spent by this run (answers from the cache cost nothing) against caps."""

    def __init__(self, max_tokens_total: int | None = None, max_cost_usd: float | None = None, prices: Prices | None = None):
        self.max_tokens_total = max_tokens_total
        self.max_cost_usd = max_cost_usd
        self.prices = dict(prices or {})
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost_usd = 0.0

    def check_model(self, model: str) -> None:
        if self.max_cost_usd is not None and model not in self.prices:
            raise UserError(
                f"teacher.prices: no price for model {model!r} but max_cost_usd is set; "
                "expected prices: {model: [input_usd_per_1M, output_usd_per_1M]}"
            )

    def add(self, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost_usd += cost_usd(self.prices, model, prompt_tokens, completion_tokens)

    @property
    def tokens_total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def exhausted(self) -> str | None:
        """Why no new request may be sent, or None while there is budget left."""
        if self.max_tokens_total is not None and self.tokens_total >= self.max_tokens_total:
            return f"token budget reached: {self.tokens_total} >= max_tokens_total {self.max_tokens_total}"
        if self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd:
            return f"cost budget reached: ${self.cost_usd:.4f} >= max_cost_usd ${self.max_cost_usd:.4f}"
        return None


@dataclass(frozen=True)
class Estimate:
    """What a run would send, computed before sending anything (`textbooks ... --dry-run`)."""

    requests: int
    cached: int
    prompt_tokens: int  # estimated, for the requests not in the cache
    max_completion_tokens: int  # sum of max_tokens, for the requests not in the cache
    without_max_tokens: int  # requests whose completion length only the server bounds
    max_cost_usd: float | None  # upper bound at the given prices; None without prices

    def scaled(self, requests: int) -> Estimate:
        """This estimate of a sample, extrapolated to `requests` requests drawn alike."""
        factor = requests / self.requests if self.requests else 0.0
        cost = None if self.max_cost_usd is None else self.max_cost_usd * factor
        return Estimate(requests, round(self.cached * factor), round(self.prompt_tokens * factor),
                        round(self.max_completion_tokens * factor), round(self.without_max_tokens * factor), cost)

    def __str__(self) -> str:
        cost = "" if self.max_cost_usd is None else f", at most ${self.max_cost_usd:.2f}"
        unbounded = f" ({self.without_max_tokens} without max_tokens)" if self.without_max_tokens else ""
        return (
            f"{self.requests} requests ({self.cached} cached, {self.requests - self.cached} to send): "
            f"~{self.prompt_tokens:,} prompt tokens, <= {self.max_completion_tokens:,} completion tokens{unbounded}{cost}"
        )


def estimate(
    requests: Iterable[Request],
    cache: AnswerCache | None = None,
    prices: Prices | None = None,
    count_tokens: Callable[[Request], int] = estimate_prompt_tokens,
) -> Estimate:
    """Dry run: count requests, cached answers, prompt tokens (chars/4 unless `count_tokens`
    is given, e.g. a tokenizer) and the completion tokens that `max_tokens` allows."""
    total = cached = prompt_tokens = completion_tokens = unbounded = 0
    cost: float | None = 0.0 if prices else None
    for request in requests:
        total += 1
        if cache is not None and request.key in cache:
            cached += 1
            continue
        prompt = count_tokens(request)
        completion = int(request.params.get("max_tokens") or 0)
        unbounded += completion == 0
        prompt_tokens += prompt
        completion_tokens += completion
        if cost is not None:
            cost += cost_usd(prices, request.model, prompt, completion)
    return Estimate(total, cached, prompt_tokens, completion_tokens, unbounded, cost)
