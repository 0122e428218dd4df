"""Where completions come from: our checkpoints, a transformers folder, or an OpenAI-compatible server.

Every backend answers `complete(prompts, sampling)` with one completion per prompt (the new text
only, cut before the first stop sequence), so any model is scored by the same harness. Instruct and
chat models answer `chat(conversations, sampling)` instead (chat mode, see `chat.py`): endpoints
through the chat completions API, transformers folders through their tokenizer's chat template;
our base models have no chat template:

    backend = open_backend("runs/phi-1/")                          # our checkpoint (or preset:NAME)
    backend = open_backend("hf-folder/", kind="hf")                 # any transformers causal LM
    backend = open_backend("http://127.0.0.1:8000/v1", served_model="textbooks-phi")  # vLLM, llama.cpp, hosted
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from textbooks.errors import UserError
from textbooks.model.stops import cut_at_stop

BACKENDS = ("auto", "checkpoint", "hf", "endpoint")
MODES = ("auto", "completion", "chat")
REQUEST_TIMEOUT_S = 900.0  # an endpoint's answer, waiting in its queue included
OPENAI_MAX_STOP = 4  # OpenAI's completions API takes at most four stop sequences; the rest are cut here


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()


Conversation = list[dict[str, str]]  # OpenAI chat messages: [{"role": "user", "content": ...}, ...]


class Backend(Protocol):
    description: str
    chat_template: bool  # whether `chat` can be asked

    def complete(self, prompts: Sequence[str], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        """One completion per prompt; `sample_indices[i]` tells samples of the same prompt apart."""

    def chat(self, conversations: Sequence[Conversation], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        """One assistant answer per conversation (a UserError where `chat_template` is False)."""


def resolve_mode(mode: str, backend: Backend | None) -> str:
    """`completion` or `chat`; `auto` is chat where the backend has a chat template (an endpoint, a
    transformers folder whose tokenizer has one), completion otherwise (and for a samples file)."""
    if mode not in MODES:
        raise UserError(f"--mode {mode!r}: unknown; expected one of {', '.join(MODES)}")
    if mode == "auto":
        return "chat" if backend is not None and backend.chat_template else "completion"
    if mode == "chat" and backend is not None and not backend.chat_template:
        raise UserError(f"--mode chat: {backend.description} has no chat template; expected --mode completion "
                        "(base models complete the prompt) or a model with a chat template")
    return mode


def open_backend(model: str, kind: str = "auto", *, served_model: str | None = None, device: str = "cpu",
                 dtype: str = "float32", batch_size: int = 8, api_key_env: str = "OPENAI_API_KEY",
                 max_in_flight: int = 8) -> Backend:
    """The backend for `model`: a URL means an endpoint, a transformers folder of another architecture
    than Phi means `hf`, anything else (checkpoint, run directory, Phi HF folder, preset:NAME) ours."""
    if kind not in BACKENDS:
        raise UserError(f"--backend {kind!r}: unknown; expected one of {', '.join(BACKENDS)}")
    if kind == "auto":
        kind = _guess_kind(model)
    if kind == "endpoint":
        return EndpointBackend(model, served_model, api_key_env=api_key_env, max_in_flight=max_in_flight)
    if kind == "hf":
        return HFBackend(model, device=device, dtype=dtype, batch_size=batch_size)
    return CheckpointBackend(model, device=device, dtype=dtype, batch_size=batch_size)


def _guess_kind(model: str) -> str:
    if model.startswith(("http://", "https://")):
        return "endpoint"
    config = Path(model) / "config.json"
    if config.is_file():
        try:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except (OSError, ValueError, AttributeError):
            model_type = None
        if model_type not in (None, "phi"):
            return "hf"
    return "checkpoint"


class CheckpointBackend:
    """Our `Phi` through `textbooks.model.generate` (batched, left-padded, KV-cached)."""

    def __init__(self, source: str, *, device: str, dtype: str, batch_size: int):
        from textbooks.model.load import load_model
        from textbooks.tokenizer import load_tokenizer

        self.model = load_model(source, dtype=dtype, device=device)
        self.tokenizer = load_tokenizer()
        self.batch_size = batch_size
        self.description = f"checkpoint {source}"
        self.chat_template = False  # our models are base models: completion only

    def complete(self, prompts: Sequence[str], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        from textbooks.model.generate import generate

        return generate(self.model, self.tokenizer, list(prompts), max_new_tokens=sampling.max_new_tokens,
                        temperature=sampling.temperature, top_p=sampling.top_p, seed=sampling.seed,
                        stop=list(sampling.stop), batch_size=self.batch_size)

    def chat(self, conversations: Sequence[Conversation], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        raise UserError(f"--mode chat: {self.description} is a base model without a chat template; expected --mode completion")


class HFBackend:
    """Any transformers causal LM in a local folder, batched with left padding."""

    def __init__(self, folder: str, *, device: str, dtype: str, batch_size: int):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not (Path(folder) / "config.json").is_file():
            raise UserError(f"{folder}: no config.json; expected a local Hugging Face model folder")
        self.tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype)).to(device).eval()
        self.device, self.batch_size = device, batch_size
        self.description = f"transformers {folder}"
        self.chat_template = bool(self.tokenizer.chat_template)

    def complete(self, prompts: Sequence[str], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        return self._generate(list(prompts), sampling, add_special_tokens=True)

    def chat(self, conversations: Sequence[Conversation], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        if not self.chat_template:
            raise UserError(f"--mode chat: {self.description} has no chat template (tokenizer_config.json "
                            "chat_template); expected --mode completion")
        texts = [self.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]
        # The template already wrote the special tokens (BOS and the turn markers).
        return self._generate(texts, sampling, add_special_tokens=False)

    def _generate(self, texts: list[str], sampling: Sampling, *, add_special_tokens: bool) -> list[str]:
        import torch

        completions = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[start : start + self.batch_size], return_tensors="pt", padding=True,
                                   add_special_tokens=add_special_tokens)
            batch = batch.to(self.device)
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed + start)
            sample = sampling.temperature > 0
            output = self.model.generate(
                **batch, max_new_tokens=sampling.max_new_tokens, do_sample=sample,
                temperature=sampling.temperature if sample else None, top_p=sampling.top_p if sample else None,
                stop_strings=list(sampling.stop) or None, tokenizer=self.tokenizer,
                pad_token_id=self.tokenizer.pad_token_id,
            )
            new_tokens = output[:, batch["input_ids"].shape[1] :]
            decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            completions += [cut_at_stop(text, sampling.stop) for text in decoded]
        return completions


class EndpointBackend:
    """An OpenAI-compatible endpoint (vLLM, llama.cpp, a hosted model), via the teacher client:
    concurrency, retries, and failures reported rather than lost. Completions API for base models,
    chat completions API for chat models (the server applies the chat template)."""

    chat_template = True  # the server's to apply; one without a template answers with an error

    def __init__(self, url: str, served_model: str | None, *, api_key_env: str, max_in_flight: int):
        from textbooks.teacher.client import TeacherConfig

        # A server that answers one request at a time (llama.cpp's) queues the others: the time limit
        # covers that wait. At 120 s, 8 chat answers of ~30 s each in flight timed out and were sent
        # again and again (HumanEval in chat mode on the embedded teacher, loaded machine).
        self.config = TeacherConfig(endpoints=[url], model=served_model or "", api_key_env=api_key_env,
                                    max_in_flight=max_in_flight, max_retries=3, cooldown_s=5.0,
                                    timeout_s=REQUEST_TIMEOUT_S)
        self.description = f"endpoint {url}"

    def complete(self, prompts: Sequence[str], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        return self._ask([{"prompt": p} for p in prompts], sampling, sample_indices)

    def chat(self, conversations: Sequence[Conversation], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        return self._ask([{"messages": c} for c in conversations], sampling, sample_indices)

    def _ask(self, inputs: list[dict], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        import asyncio

        try:
            return asyncio.run(self._request_all(inputs, sampling, sample_indices))
        except UserError as err:  # unreachable, not OpenAI-compatible, no model listed
            raise UserError(f"{err} (completions already received are kept, rerun to resume)") from None

    async def _request_all(self, inputs: list[dict], sampling: Sampling, sample_indices: Sequence[int]) -> list[str]:
        from dataclasses import replace

        from textbooks.teacher.client import TeacherClient

        if not self.config.model:  # the first model the server lists (its /models, via the teacher client)
            async with TeacherClient(self.config) as probe:
                (_, served), = (await probe.ping()).values()
            self.config = replace(self.config, model=served[0])
        async with TeacherClient(self.config) as client:
            params = {"max_tokens": sampling.max_new_tokens, "temperature": sampling.temperature, "top_p": sampling.top_p}
            if sampling.stop:
                params["stop"] = list(sampling.stop[:OPENAI_MAX_STOP])
            requests = []
            for given, index in zip(inputs, sample_indices):
                seed = {"seed": sampling.seed + index} if sampling.seed is not None else {}
                requests.append(client.request(**given, sample_index=index, **params, **seed))
            answers = {}
            report = await client.run(requests, on_answer=lambda answer: answers.__setitem__(answer.key, answer.text))
        if report.failed:
            failure = report.failed[0]
            chat = "messages" in inputs[0]
            hint = "; a base model without a chat template? expected --mode completion for it" if chat else ""
            raise UserError(f"{self.config.endpoints[0]}: {len(report.failed)} of {len(requests)} "
                            f"{'chat answers' if chat else 'completions'} failed (first: {failure.error}){hint}")
        return [cut_at_stop(answers[r.key], sampling.stop) for r in requests]
