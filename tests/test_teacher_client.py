"""The teacher client against a real fault-injecting HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from textbooks.errors import UserError
from textbooks.teacher import (
    AnswerCache,
    TeacherClient,
    TeacherConfig,
    TeacherError,
    estimate,
    json_schema_format,
    make_request,
    parse_json_answer,
    run_requests,
)
from textbooks.teacher.client import parse_retry_after
from textbooks.teacher.endpoints import EndpointPool
from textbooks.teacher.limits import TokenBucket
from textbooks.teacher.server import free_port
from textbooks.teacher.structured import PROBE_TEXT

sys.path.insert(0, str(Path(__file__).parent))
from fault_server import FaultServer, expected_text  # noqa: E402

MODEL = "fault-model"


def chat(item: str, **params) -> object:
    return make_request(MODEL, messages=[{"role": "user", "content": item}], seed=7, **params)


def config(server: FaultServer, **overrides) -> TeacherConfig:
    return TeacherConfig(**{"endpoints": [server.url], "model": MODEL, "backoff_base_s": 0.02, "backoff_max_s": 0.1, **overrides})


def expected(request) -> str:
    return expected_text(request.body())


# -- requests and keys ---------------------------------------------------------------------------


def test_request_key_covers_what_decides_the_answer_and_nothing_else():
    base = chat("q", temperature=0.7)
    assert chat("q", temperature=0.7).key == base.key
    assert make_request(MODEL, messages=[{"role": "user", "content": "q"}], temperature=0.7, seed=7, sample_index=1).key != base.key
    assert chat("q", temperature=0.8).key != base.key
    assert make_request("other", messages=[{"role": "user", "content": "q"}], temperature=0.7, seed=7).key != base.key
    assert make_request(MODEL, prompt="q", temperature=0.7, seed=7).key != base.key


def test_make_request_rejects_both_or_neither_prompt_and_messages():
    with pytest.raises(UserError, match="exactly one"):
        make_request(MODEL, prompt="a", messages=[{"role": "user", "content": "b"}])
    with pytest.raises(UserError, match="exactly one"):
        make_request(MODEL)


# -- answers through faults ----------------------------------------------------------------------


def test_every_item_is_answered_once_through_retryable_faults(tmp_path):
    faults = {"q1": ["500"], "q2": ["drop"], "q3": ["truncate"], "q4": ["429:0"], "q5": ["500", "drop", "truncate"], "q6": ["nochoices"], "q7": ["badjson"]}
    with FaultServer(faults=faults) as server:
        requests = [chat(f"q{i}") for i in range(30)]
        answers = []
        report = run_requests(config(server, max_in_flight=8), requests, tmp_path / "cache.sqlite", answers.append)
    assert report.failed == []
    assert sorted(a.key for a in answers) == sorted(r.key for r in requests)
    assert {a.key: a.text for a in answers} == {r.key: expected(r) for r in requests}
    for i in range(30):
        assert server.counts[f"q{i}"] == 1 + len(faults.get(f"q{i}", []))


def test_prompts_go_to_the_completions_endpoint():
    with FaultServer() as server:
        request = make_request(MODEL, prompt="def add(a, b):", max_tokens=8, seed=1)
        report = run_requests(config(server), [request])
    assert report.answered == 1
    assert [h.path for h in server.hits] == ["/v1/completions"]


def test_a_client_error_is_reported_with_status_and_body_and_not_retried():
    with FaultServer(faults={"bad": ["400"]}) as server:
        report = run_requests(config(server), [chat("bad"), chat("good")])
    assert report.answered == 1
    [failure] = report.failed
    assert failure.status == 400 and "injected 400" in failure.error and failure.attempts == 1
    assert server.counts["bad"] == 1


def test_complete_raises_teacher_error_when_a_request_fails():
    async def ask(server):
        async with TeacherClient(config(server, max_retries=2)) as client:
            await client.complete(chat("q"))

    with FaultServer(always="500") as server:
        with pytest.raises(TeacherError, match="HTTP 500"):
            asyncio.run(ask(server))
        assert server.counts["q"] == 3


def test_retry_after_is_honoured():
    with FaultServer(faults={"q": ["429:1"]}) as server:
        report = run_requests(config(server), [chat("q")])
    assert report.answered == 1
    first, second = server.requests_for("q")
    assert second.at - first.at >= 1.0


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_an_answer_slower_than_the_timeout_is_asked_again():
    with FaultServer(faults={"q": ["slow:3"]}) as server:
        report = run_requests(config(server, timeout_s=0.5), [chat("q")])
    assert report.answered == 1 and server.counts["q"] == 2


# -- endpoints -----------------------------------------------------------------------------------


def test_a_dead_endpoint_is_skipped_and_the_live_one_answers_everything():
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with FaultServer() as server:
        requests = [chat(f"q{i}") for i in range(20)]
        report = run_requests(config(server, endpoints=[dead, server.url], max_in_flight=4), requests)
    assert report.answered == 20 and report.failed == []
    assert report.endpoints[dead]["answered"] == 0
    assert report.endpoints[server.url]["answered"] == 20


def test_when_no_endpoint_can_be_reached_the_run_stops_at_once_with_a_user_error():
    dead = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    with FaultServer() as server:
        cfg = config(server, endpoints=dead, max_in_flight=4)
    with pytest.raises(UserError, match=r"no endpoint can be reached \(http://127\.0\.0\.1:\d+/v1, http://127"):
        run_requests(cfg, [chat("q0")])


def test_an_endpoint_that_dies_mid_run_is_skipped_and_its_requests_answered_elsewhere():
    with FaultServer(delay_s=0.02) as survivor:
        doomed = FaultServer(delay_s=0.02).__enter__()
        answers = []

        def on_answer(answer):
            answers.append(answer)
            if len(answers) == 5:
                doomed.__exit__(None, None, None)  # stops listening and drops its open connections

        requests = [chat(f"q{i}") for i in range(30)]
        report = run_requests(config(survivor, endpoints=[doomed.url, survivor.url], max_in_flight=4), requests, None, on_answer)
    assert report.answered == 30 and report.failed == []
    assert report.endpoints[doomed.url]["errors"] >= 1
    assert sorted(a.key for a in answers) == sorted(r.key for r in requests)


def test_load_is_spread_over_live_endpoints():
    with FaultServer(delay_s=0.02) as one, FaultServer(delay_s=0.02) as two:
        requests = [chat(f"q{i}") for i in range(40)]
        report = run_requests(config(one, endpoints=[one.url, two.url], max_in_flight=4), requests)
    assert report.answered == 40
    assert len(one.hits) >= 10 and len(two.hits) >= 10


def test_endpoint_pool_rests_a_failing_endpoint_and_tries_it_again_after_the_cooldown():
    now = [0.0]
    pool = EndpointPool(["http://a/v1", "http://b/v1"], cooldown_s=30, failures_before_cooldown=2, clock=lambda: now[0])
    a, b = pool.endpoints

    def outcome(endpoint, **how):
        endpoint.in_flight += 1
        pool.release(endpoint, **how)

    outcome(a, ok=False, refused=True)  # refused: rests at once
    assert pool.healthy() == [b]
    assert {asyncio.run(pool.acquire()).url for _ in range(4)} == {b.url}
    b.in_flight = 0
    now[0] = 31.0
    assert pool.healthy() == [a, b]
    outcome(a, ok=False)
    outcome(a, ok=True)  # a success forgives the failure before it
    outcome(a, ok=False)
    assert a in pool.healthy()
    outcome(a, ok=False)  # two in a row
    assert pool.healthy() == [b]


def test_an_endpoint_that_is_not_openai_compatible_is_named_in_a_user_error():
    for fault in ("html", "nochoices"):
        with FaultServer(always=fault) as server:
            with pytest.raises(UserError, match=f"{server.url} is not OpenAI-compatible"):
                run_requests(config(server, max_retries=2), [chat("q")])
            assert server.counts["q"] == 3


# -- budget and rate limits ----------------------------------------------------------------------


def test_the_token_budget_stops_new_requests_and_keeps_what_was_answered(tmp_path):
    with FaultServer(usage=(10, 20)) as server:
        requests = [chat(f"q{i}") for i in range(10)]
        # 30 tokens an answer: after 4 answers (120 tokens) the budget of 100 is spent.
        report = run_requests(config(server, max_in_flight=1, max_tokens_total=100), requests, tmp_path / "c.sqlite")
    assert report.budget_reached and "token budget" in report.stopped
    assert report.answered == 4 and len(server.hits) == 4
    assert report.prompt_tokens + report.completion_tokens == 120
    with AnswerCache(tmp_path / "c.sqlite") as cache:
        assert len(cache) == 4


def test_the_cost_budget_stops_new_requests():
    with FaultServer(usage=(10, 20)) as server:
        # (10 * 100,000 + 20 * 50,000) / 1e6 = $2 an answer: a $5 cap allows 3 answers.
        cfg = config(server, max_in_flight=1, max_cost_usd=5.0, prices={MODEL: [100_000, 50_000]})
        report = run_requests(cfg, [chat(f"q{i}") for i in range(10)])
    assert report.budget_reached and report.answered == 3 and report.cost_usd == pytest.approx(6.0)


def test_a_cost_budget_without_the_model_price_is_a_user_error():
    with FaultServer() as server:
        with pytest.raises(UserError, match="no price for model"):
            run_requests(config(server, max_cost_usd=1.0), [chat("q")])
        assert server.hits == []


def test_requests_per_minute_paces_the_requests():
    now, slept = [100.0], []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def six_requests() -> list[float]:
        bucket = TokenBucket(120, clock=lambda: now[0], sleep=fake_sleep)
        starts = []
        for _ in range(6):
            await bucket.acquire()
            starts.append(now[0])
        return starts

    # 120 a minute = 2 a second, bursts of 2: the first two go at once, then one every half second.
    assert asyncio.run(six_requests()) == pytest.approx([100.0, 100.0, 100.5, 101.0, 101.5, 102.0])
    assert sum(slept) == pytest.approx(2.0)


def test_the_client_paces_a_run_by_requests_per_minute():
    with FaultServer() as server:
        report = run_requests(config(server, requests_per_minute=120), [chat(f"q{i}") for i in range(4)])
    assert report.answered == 4
    arrivals = sorted(h.at for h in server.hits)
    assert arrivals[-1] - arrivals[0] >= 0.9  # (4 - 2) / 2 seconds at the least; a slow machine only adds


def test_estimate_counts_before_anything_is_sent(tmp_path):
    requests = [chat("x" * 400, max_tokens=100) for _ in range(1)] + [chat(f"q{i}", max_tokens=50) for i in range(3)]
    with AnswerCache(tmp_path / "c.sqlite") as cache:
        with FaultServer() as server:
            run_requests(config(server), requests[-1:], cache)
        result = estimate(requests, cache, prices={MODEL: [1.0, 2.0]})
    assert (result.requests, result.cached) == (4, 1)
    assert result.max_completion_tokens == 100 + 50 + 50
    assert result.prompt_tokens > 100  # 400 characters of content alone are ~100 tokens
    assert "3 to send" in str(result)


# -- structured output -----------------------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"score": {"enum": [1, 2, 3]}}, "required": ["score"]}


def forms_sent(server: FaultServer, item: str) -> list[str]:
    return [h.body["response_format"]["type"] for h in server.hits + server.probes if h.item == item]


def test_a_server_of_unknown_flavour_has_its_form_learnt_by_a_probe_before_any_request():
    with FaultServer(reject_json_schema=True) as server:
        requests = [chat(f"q{i}", response_format=json_schema_format(SCHEMA)) for i in range(3)]
        report = run_requests(config(server), requests)
    assert report.answered == 3
    # The probe met the 500s to OpenAI's form; every request went once, in llama.cpp's form.
    assert all(server.counts[f"q{i}"] == 1 and forms_sent(server, f"q{i}") == ["json_object"] for i in range(3))


@pytest.mark.parametrize("fault", ["500", "slow:1", "drop"])
def test_a_transient_fault_never_changes_the_body_a_request_is_sent_with(fault):
    """A killed run restarts with a fresh client: the same request must go out with the same body
    whatever the first attempts met, or the resumed run's answers differ from the straight run's."""
    request = chat("q", response_format=json_schema_format(SCHEMA))
    bodies = []
    for faults in ({"q": [fault, fault]}, {}):
        with FaultServer(faults=faults) as server:
            report = run_requests(config(server, timeout_s=0.5), [request])
        assert report.answered == 1
        bodies.append([h.body for h in server.hits if h.item == "q"])
    assert len(bodies[0]) == 3 and len(bodies[1]) == 1
    assert all(body == bodies[1][0] for body in bodies[0])
    assert bodies[1][0]["response_format"]["type"] == "json_schema"


def test_a_400_naming_response_format_switches_the_endpoint_to_the_other_form():
    with FaultServer(reject_json_schema=True, reject_status=400, owned_by="openai") as server:
        requests = [chat(f"q{i}", response_format=json_schema_format(SCHEMA)) for i in range(3)]
        report = run_requests(config(server, max_in_flight=1), requests)
    assert report.answered == 3
    assert forms_sent(server, "q0") == ["json_schema", "json_object"]
    assert forms_sent(server, "q1") == forms_sent(server, "q2") == ["json_object"]


def test_a_probe_that_meets_a_transient_500_still_settles_on_openais_form():
    with FaultServer(faults={PROBE_TEXT: ["500"]}) as server:
        report = run_requests(config(server), [chat("q", response_format=json_schema_format(SCHEMA))])
    assert report.answered == 1 and forms_sent(server, "q") == ["json_schema"]
    assert forms_sent(server, PROBE_TEXT) == ["json_schema", "json_object", "json_schema"]


def test_a_llama_cpp_server_gets_its_own_form_from_the_start():
    with FaultServer(reject_json_schema=True, owned_by="me") as server:
        report = run_requests(config(server), [chat("q", response_format=json_schema_format(SCHEMA))])
    assert report.answered == 1 and server.counts["q"] == 1


def test_parse_json_answer_tolerates_what_small_models_write():
    assert parse_json_answer('{"a": "line one\nline two"}') == {"a": "line one\nline two"}
    assert parse_json_answer('Sure! ```json\n{"score": 2}\n```') == {"score": 2}
    assert parse_json_answer('The answer is {"score": 3}.') == {"score": 3}
    with pytest.raises(ValueError):
        parse_json_answer("no json here")


# -- inputs and callbacks ----------------------------------------------------------------------


def test_async_input_async_callback_and_repeated_keys():
    async def main(server):
        async def source():
            for i in range(5):
                yield chat(f"q{i % 3}")

        seen = []

        async def on_answer(answer):
            await asyncio.sleep(0)
            seen.append(answer.key)

        async with TeacherClient(config(server)) as client:
            return await client.run(source(), on_answer=on_answer), seen

    with FaultServer() as server:
        report, seen = asyncio.run(main(server))
    assert report.answered == 3 and report.duplicates == 2 and len(set(seen)) == 3 == len(seen)
    assert sum(server.counts.values()) == 3


# -- the API key ---------------------------------------------------------------------------------

CANARY = "sk-canary-9f8e7d6c5b4a-never-print-me"


def test_the_api_key_is_sent_but_never_logged_stored_or_reported(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TEXTBOOKS_TEST_KEY", CANARY)
    caplog.set_level(logging.DEBUG)
    faults = {"echo": ["echo-auth-400"], "dropped": ["drop", "drop"], "flaky": ["500"]}
    with FaultServer(faults=faults) as server:
        cfg = config(server, api_key_env="TEXTBOOKS_TEST_KEY", max_retries=1)
        requests = [chat("echo"), chat("dropped"), chat("flaky")]
        report = run_requests(cfg, requests, tmp_path / "cache.sqlite")

        async def fail_once():
            async with TeacherClient(cfg) as client:
                with pytest.raises(TeacherError) as caught:
                    await client.complete(chat("echo"))
                return client, caught.value

        server.counts.clear()
        client, error = asyncio.run(fail_once())
    assert {h.authorization for h in server.hits} == {f"Bearer {CANARY}"}
    assert len(report.failed) == 2 and report.answered == 1
    assert any("***" in f.error for f in report.failed)  # the echoed header, redacted
    said = [caplog.text, repr(report), report.summary(), str(error), repr(error.failure), repr(client), repr(cfg)]
    assert not [s for s in said if CANARY in s]
    for stored in tmp_path.iterdir():
        assert CANARY.encode() not in stored.read_bytes(), stored


# -- resume after SIGKILL ----------------------------------------------------------------------

GENERATE = textwrap.dedent(
    """
    import json, sys
    from textbooks.teacher import TeacherConfig, make_request, run_requests
    url, cache, out = sys.argv[1:4]
    requests = [make_request("fault-model", messages=[{"role": "user", "content": f"q{i}"}], seed=i) for i in range(40)]
    with open(out, "w") as sink:
        def keep(answer):
            sink.write(json.dumps({"key": answer.key, "text": answer.text}) + "\\n")
            sink.flush()
        report = run_requests(TeacherConfig(endpoints=[url], model="fault-model", max_in_flight=4), requests, cache, keep)
    print(report.summary())
    """
)


def committed_keys(path: Path) -> set[str]:
    try:
        with sqlite3.connect(path) as db:
            return {row[0] for row in db.execute("SELECT key FROM answers")}
    except sqlite3.OperationalError:  # not created yet
        return set()


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_without_asking_a_committed_answer_again(tmp_path):
    script = tmp_path / "generate.py"
    script.write_text(GENERATE)
    cache = tmp_path / "cache.sqlite"
    requests = {make_request(MODEL, messages=[{"role": "user", "content": f"q{i}"}], seed=i).key: f"q{i}" for i in range(40)}
    with FaultServer(delay_s=0.2) as server:
        first = subprocess.Popen([sys.executable, str(script), server.url, str(cache), str(tmp_path / "first.jsonl")])
        deadline = time.monotonic() + 60
        while len(committed_keys(cache)) < 8 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        committed = committed_keys(cache)
        assert 8 <= len(committed) < 40, "the kill should land mid-run"
        asked_before = dict(server.counts)

        subprocess.run([sys.executable, str(script), server.url, str(cache), str(tmp_path / "second.jsonl")], check=True, timeout=120)

    answers = [json.loads(line) for line in (tmp_path / "second.jsonl").read_text().splitlines()]
    assert sorted(a["key"] for a in answers) == sorted(requests)  # no gap, no duplicate
    for key in committed:
        assert server.counts[requests[key]] == 1, f"{requests[key]} was committed yet asked again"
    in_flight_at_kill = {item for item, n in asked_before.items() if n and item not in {requests[k] for k in committed}}
    assert len(in_flight_at_kill) <= 4  # max_in_flight
    assert all(server.counts[item] == 1 + (item in in_flight_at_kill) for item in requests.values())


# -- the CLI -------------------------------------------------------------------------------------


def test_teacher_ping_reports_the_server_and_a_short_answer():
    from typer.testing import CliRunner

    from textbooks.cli import app

    with FaultServer() as server:
        result = CliRunner().invoke(app, ["teacher", "ping", server.url])
    assert result.exit_code == 0, result.output
    assert f"{server.url}: openai server, model {MODEL}: 'answer " in result.output


def test_teacher_ping_names_an_endpoint_that_is_not_openai_compatible():
    from typer.testing import CliRunner

    from textbooks.cli import app

    with FaultServer() as server:
        result = CliRunner().invoke(app, ["teacher", "ping", server.url.removesuffix("/v1")])
    assert isinstance(result.exception, UserError) and server.url.removesuffix("/v1") in str(result.exception)
