"""A fleet of OpenAI-compatible servers: spread the load, skip the dead ones for a while.

Each request goes to the healthy endpoint with the fewest requests in flight (ties taken in
turn). An endpoint that refuses connections, or fails `failures_before_cooldown` times in a row
while another is healthy, rests for `cooldown_s` and is then tried again; if every endpoint
rests, the one back first is used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from textbooks.errors import UserError


@dataclass
class Endpoint:
    """One server's base URL (ending in /v1) and what this client has seen of it."""

    url: str
    flavour: str | None = None  # "llama.cpp", "vllm", "openai"; None until known
    structured_form: str | None = None  # the response_format form to send it; None until learnt
    in_flight: int = 0
    consecutive_failures: int = 0
    resting_until: float = 0.0
    sent: int = 0
    answered: int = 0
    errors: int = 0


def normalise_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UserError(f"teacher.endpoints: {url!r} is not an http(s) URL; expected e.g. http://127.0.0.1:8080/v1")
    return url


class EndpointPool:
    def __init__(
        self,
        urls: list[str],
        cooldown_s: float = 30.0,
        failures_before_cooldown: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not urls:
            raise UserError("teacher.endpoints: empty; expected at least one base URL such as http://127.0.0.1:8080/v1")
        self.endpoints = [Endpoint(normalise_base_url(u)) for u in urls]
        self.cooldown_s = cooldown_s
        self.failures_before_cooldown = failures_before_cooldown
        self._clock = clock
        self._turn = 0

    def healthy(self) -> list[Endpoint]:
        now = self._clock()
        return [e for e in self.endpoints if e.resting_until <= now]

    async def acquire(self) -> Endpoint:
        """The endpoint for the next attempt; counts it as in flight until `release`."""
        candidates = self.healthy()
        if not candidates:
            soonest = min(self.endpoints, key=lambda e: e.resting_until)
            await asyncio.sleep(max(0.0, soonest.resting_until - self._clock()))
            candidates = [soonest]
        self._turn += 1
        n = len(candidates)
        endpoint = min((candidates[(self._turn + i) % n] for i in range(n)), key=lambda e: e.in_flight)
        endpoint.in_flight += 1
        endpoint.sent += 1
        return endpoint

    def release(self, endpoint: Endpoint, *, ok: bool, refused: bool = False) -> None:
        """`ok`: the endpoint answered properly (even a 4xx about the request itself);
        `refused`: it is not there at all (connection refused), so it rests at once."""
        endpoint.in_flight -= 1
        if ok:
            endpoint.answered += 1
            endpoint.consecutive_failures = 0
            return
        endpoint.errors += 1
        endpoint.consecutive_failures += 1
        # A server that is not there rests; one that errors rests only if another can take its
        # work (with nowhere else to go, the requests' own backoff paces the retries).
        failing = endpoint.consecutive_failures >= self.failures_before_cooldown
        if refused or (failing and self.others_healthy(endpoint)):
            self.rest(endpoint)

    def rest(self, endpoint: Endpoint) -> None:
        """Skip `endpoint` for `cooldown_s`; it is tried again after."""
        endpoint.resting_until = self._clock() + self.cooldown_s
        endpoint.consecutive_failures = 0

    def others_healthy(self, endpoint: Endpoint) -> bool:
        return any(e is not endpoint for e in self.healthy())
