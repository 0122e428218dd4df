"""A deterministic OpenAI-compatible server on 127.0.0.1 that injects faults on cue.

Serves /v1/chat/completions, /v1/completions and /v1/models. An answer is derived from the
request (its "item": the last message's content, or the prompt; and its seed), so the same
request always gets the same text. `faults` maps an item to the faults for its successive
attempts (attempt 1 gets faults[item][0], ...; later attempts are answered normally);
`always` is a fault for every request. Faults:

    "429:S"          429 with Retry-After: S (seconds)
    "500"            500 with a JSON error
    "slow:S"         answer after S seconds (past the client's timeout, if S is larger)
    "truncate"       promise the whole body (Content-Length), send half, close
    "drop"           close the connection without answering
    "400"            400 with a JSON error (must not be retried)
    "echo-auth-400"  400 whose body repeats the request's Authorization header
    "html"           200 with an HTML page (not an OpenAI server)
    "nochoices"      200 with JSON that has no `choices`
    "badjson"        200 with a whole body that is cut-off JSON

`reject_json_schema=True` answers 500 to OpenAI's `json_schema` response_format, as llama.cpp's
Python server does (`reject_status=400`: a 400 naming `response_format`, as a strict server does).
The client's structured-output probes are answered `{"ok": true}` and logged in `probes`. Every request is logged (`hits`) and counted per item (`counts`).

Hand-written on asyncio streams rather than a web framework: the faults live at the byte level
(half bodies, dropped sockets) that frameworks are built to prevent. Run it in a thread
(`with FaultServer(...) as server:`) or as a process: `python tests/fault_server.py --delay 0.1`
prints `PORT <n>` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from textbooks.teacher.structured import PROBE_TEXT


@dataclass
class Hit:
    at: float  # time.time() when the request arrived
    path: str
    item: str
    fault: str | None
    authorization: str
    body: dict = field(default_factory=dict)  # the request's JSON body, as sent


@dataclass
class FaultServer:
    faults: dict[str, list[str]] = field(default_factory=dict)
    always: str | None = None
    delay_s: float = 0.0  # every answer waits this long (a model "thinking")
    usage: tuple[int, int] = (10, 20)  # prompt, completion tokens reported per answer
    model: str = "fault-model"
    owned_by: str = "fault-server"
    reject_json_schema: bool = False
    reject_status: int = 500
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)  # set: completions wait until it is cleared
    probes: list[Hit] = field(default_factory=list)  # requests whose content is the client's PROBE_TEXT
    counts: Counter = field(default_factory=Counter)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- running ---------------------------------------------------------------------------------

    async def serve(self, ready: threading.Event | None = None) -> None:
        server = await asyncio.start_server(self._connection, "127.0.0.1", self.port, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        if ready is not None:
            ready.set()
        async with server:
            await server.serve_forever()

    def __enter__(self) -> FaultServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def _run_loop(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(self.serve(ready))
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        # Connections still open (a slow answer) end here, before the loop closes.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)

    def requests_for(self, item: str) -> list[Hit]:
        return [h for h in self.hits if h.item == item]

    # -- HTTP ------------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if ":" in h)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if not await self._respond(method, path, headers, body, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _respond(self, method: str, path: str, headers: dict, body: bytes, writer: asyncio.StreamWriter) -> bool:
        """Write one response; False when the connection must be closed."""
        if method == "GET" and path == "/v1/models":
            listing = {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": self.owned_by}]}
            return await self._send(writer, 200, listing)
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/completions"):
            return await self._send(writer, 404, {"error": {"message": f"no route {method} {path}"}})
        request = json.loads(body)
        chat = path == "/v1/chat/completions"
        item = request["messages"][-1]["content"] if chat else request["prompt"]
        # The client's structured-output probes are logged apart: tests count the work asked for.
        log = self.probes if item == PROBE_TEXT else self.hits
        attempt = sum(h.item == item for h in self.probes) if log is self.probes else self.counts[item]
        if log is self.hits:
            self.counts[item] += 1
        fault = self.fault_for(item, attempt)
        log.append(Hit(time.time(), path, item, fault, headers.get("authorization", ""), request))
        while self.held.is_set():
            await asyncio.sleep(0.02)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        name, _, arg = (fault or "").partition(":")
        if name == "slow":
            await asyncio.sleep(float(arg))
        elif name == "429":
            return await self._send(writer, 429, {"error": {"message": "slow down"}}, {"Retry-After": arg})
        elif name in ("500", "400"):
            return await self._send(writer, int(name), {"error": {"message": f"injected {name}"}})
        elif name == "echo-auth-400":
            return await self._send(writer, 400, {"error": {"message": f"bad request with {headers.get('authorization')}"}})
        elif name == "drop":
            return False
        elif name == "html":
            return await self._send(writer, 200, b"<html><body>Welcome to nginx!</body></html>", {"Content-Type": "text/html"})
        elif name == "badjson":
            return await self._send(writer, 200, b'{"id": "x", "choices": [{"message": ')
        elif name == "nochoices":
            return await self._send(writer, 200, {"object": "error", "detail": "not here"})
        if self.reject_json_schema and (request.get("response_format") or {}).get("type") == "json_schema":
            message = "response_format: json_schema is not supported"
            return await self._send(writer, self.reject_status, {"error": {"message": message}})
        answer = self.probe_answer(chat) if item == PROBE_TEXT else self.answer(request, chat)
        if name == "truncate":
            data = json.dumps(answer).encode()
            writer.write(self._head(200, len(data), {}) + data[: len(data) // 2])
            await writer.drain()
            return False
        return await self._send(writer, 200, answer)

    def fault_for(self, item: str, attempt: int) -> str | None:
        """The fault for `item`'s attempt number `attempt` (0 first): scripted, else `always`."""
        scripted = self.faults.get(item, [])
        return scripted[attempt] if attempt < len(scripted) else self.always

    def probe_answer(self, chat: bool) -> dict:
        """What a model asked for `{"ok": true}` answers (the client's structured-output probe)."""
        response = FaultServer.answer(self, {"prompt": PROBE_TEXT}, chat)
        choice = response["choices"][0]
        if chat:
            choice["message"]["content"] = '{"ok": true}'
        else:
            choice["text"] = '{"ok": true}'
        return response

    def answer(self, request: dict, chat: bool) -> dict:
        """The deterministic answer to `request` (tests compute expected texts with it)."""
        text = expected_text(request)
        prompt_tokens, completion_tokens = self.usage
        choice = {"index": 0, "finish_reason": "stop"}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        return {
            "id": "cmpl-" + hashlib.sha256(text.encode()).hexdigest()[:12],
            "object": "chat.completion" if chat else "text_completion",
            "model": self.model,
            "choices": [choice],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
        }

    @staticmethod
    def _head(status: int, length: int, extra: dict) -> bytes:
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {length}", "Connection: keep-alive"]
        if "Content-Type" not in extra:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in extra.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _send(self, writer: asyncio.StreamWriter, status: int, payload: dict | bytes, extra: dict | None = None) -> bool:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        writer.write(self._head(status, len(data), extra or {}) + data)
        await writer.drain()
        return True


def expected_text(request: dict) -> str:
    """An echo of a hash of what decides the answer: messages or prompt, and seed."""
    source = request.get("messages") or request.get("prompt")
    digest = hashlib.sha256(json.dumps([source, request.get("seed")], sort_keys=True).encode()).hexdigest()[:16]
    return f"answer {digest}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--always", default=None, help="a fault for every request")
    args = parser.parse_args()
    server = FaultServer(delay_s=args.delay, always=args.always, port=args.port)

    async def run() -> None:
        ready = threading.Event()
        task = asyncio.create_task(server.serve(ready))
        while not ready.is_set():
            await asyncio.sleep(0.01)
        print(f"PORT {server.port}", flush=True)
        await task

    asyncio.run(run())


if __name__ == "__main__":
    main()
