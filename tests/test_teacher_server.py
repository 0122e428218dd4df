"""The embedded teacher: llama.cpp's server with SmolLM2-135M-Instruct, generating for real."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from textbooks.errors import UserError
from textbooks.teacher import TeacherClient, json_schema_format, make_request, parse_json_answer
from textbooks.teacher.server import DEFAULT_MODEL_NAME, EmbeddedTeacher, find_smollm2_gguf

pytest.importorskip("llama_cpp", reason="the `teacher` extra is not installed")

SCORE_SCHEMA = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "score": {"enum": [1, 2, 3]}},  # `enum`: its grammar ignores minimum/maximum
    "required": ["reason", "score"],
}


def test_the_smollm2_weights_are_found_inside_the_installed_package():
    gguf = find_smollm2_gguf()
    assert gguf.suffix == ".gguf" and gguf.stat().st_size > 50_000_000


@pytest.fixture(scope="module")
def teacher():
    with EmbeddedTeacher() as running:
        yield running


def ask(teacher: EmbeddedTeacher, *requests):
    async def main():
        async with TeacherClient(teacher.config()) as client:
            answers = [await client.complete(r) for r in requests]
            return answers, await client.ping()

    return asyncio.run(main())


@pytest.mark.slow
def test_a_seeded_chat_completion_is_repeatable(teacher):
    request = make_request(teacher.model, messages=[{"role": "user", "content": "Name one Python data type."}], temperature=0.7, seed=11, max_tokens=12)
    (first, second), servers = ask(teacher, request, request)
    assert first.text and first.text == second.text
    assert first.completion_tokens > 0 and first.prompt_tokens > 0 and first.model == teacher.model
    assert servers[teacher.base_url][0] == "llama.cpp"


@pytest.mark.slow
def test_a_schema_answer_in_openai_form_is_sent_in_llama_cpp_form_and_parses(teacher):
    content = "How useful is `print(sorted([3, 1, 2]))` for learning Python? Answer in JSON with a reason and a score."
    request = make_request(
        teacher.model, messages=[{"role": "user", "content": content}], temperature=0.2, seed=1, max_tokens=80, response_format=json_schema_format(SCORE_SCHEMA)
    )
    (answer,), _ = ask(teacher, request)
    value = parse_json_answer(answer.text)
    assert value["score"] in (1, 2, 3) and isinstance(value["reason"], str)


@pytest.mark.slow
def test_a_base_model_prompt_goes_through_completions(teacher):
    (answer,), _ = ask(teacher, make_request(teacher.model, prompt="def add(a, b):\n", temperature=0, max_tokens=12))
    assert answer.text and answer.completion_tokens > 0


@pytest.mark.slow
def test_a_server_that_dies_mid_run_stops_the_run_at_once_naming_its_exit_code():
    request = make_request(DEFAULT_MODEL_NAME, prompt="def add(a, b):\n", temperature=0, max_tokens=200)
    started = time.monotonic()
    with pytest.raises(UserError, match=r"teacher: the embedded llama.cpp server exited with code -9"):
        with EmbeddedTeacher() as dying:
            threading.Timer(1.0, os.kill, (dying._process.pid, signal.SIGKILL)).start()  # a crash, as AMX's was
            ask(dying, *[request] * 50)  # minutes of answers, and retries against a closed port after it
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_teacher_serve_runs_until_sigterm_and_stops_the_server():
    command = [sys.executable, "-m", "textbooks", "teacher", "serve"]
    serve = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = serve.stdout.readline()
        assert line.startswith("teacher ready: endpoint http://127.0.0.1:"), line
        base_url = line.split()[3]
        assert httpx.get(f"{base_url}/models", timeout=10).json()["data"][0]["owned_by"] == "me"
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(60) == 0
    finally:
        serve.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/models", timeout=5)


@pytest.mark.slow
def test_the_server_dies_with_a_parent_killed_without_cleanup(tmp_path):
    script = (
        "import sys, time\n"
        "from textbooks.teacher.server import EmbeddedTeacher\n"
        "teacher = EmbeddedTeacher(n_threads=1).start()\n"
        "print(teacher._process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(parent.stdout.readline())
    finally:
        parent.kill()  # SIGKILL: no context manager, no finally block runs in the parent
        parent.wait()
    for _ in range(100):
        try:
            with open(f"/proc/{server_pid}/stat") as stat:
                if stat.read().split()[2] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        os.kill(server_pid, signal.SIGKILL)
        pytest.fail("the llama.cpp server outlived its killed parent")


def test_the_server_wrapper_rejects_an_extra_buffers_value_it_does_not_know():
    done = subprocess.run([sys.executable, "-m", "textbooks.teacher.llama_server", "--extra_buffers", "maybe", "--model", "x.gguf"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "--extra_buffers: maybe; expected true or false" in done.stderr
