"""Finetuning with `--loss-on solution`: the prompt's tokens receive no gradient."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from textbooks.model.loss import IGNORE_INDEX
from textbooks.model.phi import Phi, PhiConfig
from textbooks.tokenizer import EOS_ID, load_tokenizer
from textbooks.train.loader import PackedData
from textbooks.train.trainer import summed_loss
from train_support import exercise_pack

SEQ_LEN = 64


@pytest.fixture(scope="module")
def packs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exercises")
    return {loss_on: exercise_pack(root, loss_on) for loss_on in ("solution", "all")}


def trained_targets(pack: Path, loss_on: str) -> tuple[np.ndarray, np.ndarray]:
    """Target tokens of one batch, and whether the trainer's loss sends gradient to their logits."""
    order = PackedData(pack, vocab_size=51_200, loss_on=loss_on).sample_order(SEQ_LEN, seed=0)
    input_ids, labels = order.get_batch(np.arange(8))
    torch.manual_seed(0)
    model = Phi(PhiConfig.from_preset("nano"))
    captured = {}

    def keep_logits(module, args, output):
        output.retain_grad()
        captured["logits"] = output

    model.lm_head.register_forward_hook(keep_logits)
    summed_loss(model, input_ids, labels).backward()
    receives_gradient = captured["logits"].grad.abs().amax(dim=-1) > 0
    # Position t predicts input t + 1 (read from the inputs, not from the labels' mask).
    return input_ids[:, 1:].numpy(), receives_gradient[:, :-1].numpy()


def decode(tokens: np.ndarray) -> str:
    return load_tokenizer().decode([int(t) for t in tokens if t != EOS_ID], skip_special_tokens=False)


def test_loss_on_solution_sends_no_gradient_to_prompt_tokens(packs):
    tokens, trained = trained_targets(packs["solution"], "solution")
    assert trained.any() and not trained.all()
    learned, skipped = decode(tokens[trained]), decode(tokens[~trained])
    # Prompts are `def add_i(x: int) -> int:` plus a docstring; solutions are `    return x + i`.
    assert "return x +" in learned and "def add_" not in learned and "Return x plus" not in learned
    assert "def add_" in skipped and "return x +" not in skipped
    eos = tokens == EOS_ID
    assert trained[eos].all()  # the closing <|endoftext|> is a target: the model learns to stop


def test_loss_on_all_trains_every_token_of_the_exercises(packs):
    _, trained = trained_targets(packs["all"], "all")
    assert trained.all()


def test_the_chunked_loss_sends_the_same_gradient_as_the_unfused_one_and_none_to_prompts(packs):
    order = PackedData(packs["solution"], vocab_size=51_200, loss_on="solution").sample_order(SEQ_LEN, seed=0)
    input_ids, labels = order.get_batch(np.arange(8))
    torch.manual_seed(0)
    model = Phi(PhiConfig.from_preset("nano"))
    captured = {}
    model.model.final_layernorm.register_forward_hook(lambda module, args, output: captured.update(hidden=output))

    def hidden_gradient(chunk_size):
        model.zero_grad()
        loss = summed_loss(model, input_ids, labels, chunk_size)
        grad, = torch.autograd.grad(loss, captured["hidden"])
        return loss.detach(), grad

    unfused_loss, unfused_grad = hidden_gradient(None)
    chunked_loss, chunked_grad = hidden_gradient(100)  # 100 does not divide 8 x 64 tokens
    torch.testing.assert_close(chunked_loss, unfused_loss, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(chunked_grad, unfused_grad, rtol=1e-4, atol=1e-6)
    prompt = labels == IGNORE_INDEX
    assert prompt.any() and not chunked_grad[prompt].any() and chunked_grad[~prompt].abs().sum(-1).gt(0).all()
