"""The one loss definition: unfused and chunked linear cross-entropy agree, masks and bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from textbooks.model.loss import IGNORE_INDEX, cross_entropy_sum, linear_cross_entropy_sum, lm_loss
from textbooks.model.phi import Phi, PhiConfig


def head_and_batch(tokens: int = 37, d_model: int = 16, vocab: int = 101, seed: int = 0, masked: int = 9):
    generator = torch.Generator().manual_seed(seed)
    head = nn.Linear(d_model, vocab)
    with torch.no_grad():
        head.weight.copy_(torch.randn(vocab, d_model, generator=generator) * 0.3)
        head.bias.copy_(torch.randn(vocab, generator=generator) * 0.3)
    hidden = torch.randn(tokens, d_model, generator=generator, requires_grad=True)
    targets = torch.randint(0, vocab, (tokens,), generator=generator)
    targets[torch.randperm(tokens, generator=generator)[:masked]] = IGNORE_INDEX
    return head, hidden, targets


def loss_and_grads(head: nn.Linear, hidden: torch.Tensor, targets: torch.Tensor, chunk_size: int | None,
                   reduction: str = "sum"):
    head.zero_grad()
    hidden.grad = None
    _, loss = lm_loss(hidden, head, targets, reduction=reduction, chunk_size=chunk_size)
    (loss * 1.7).backward()  # a chain-rule factor other than 1, as the trainer's scaling gives
    return loss.detach(), hidden.grad.clone(), head.weight.grad.clone(), head.bias.grad.clone()


@pytest.mark.parametrize("chunk_size", [1, 5, 8, 37, 1000])  # 5 and 8 do not divide 37 tokens
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_chunked_loss_and_gradients_equal_the_unfused_ones(chunk_size, reduction):
    head, hidden, targets = head_and_batch()
    expected = loss_and_grads(head, hidden, targets, None, reduction)
    got = loss_and_grads(head, hidden, targets, chunk_size, reduction)
    for want, have in zip(expected, got):
        torch.testing.assert_close(have, want, rtol=1e-5, atol=1e-6)


def test_unfused_loss_is_the_textbook_cross_entropy_on_target_tokens_only():
    head, hidden, targets = head_and_batch()
    keep = targets != IGNORE_INDEX
    logits = F.linear(hidden, head.weight, head.bias).double()
    by_hand = (logits.logsumexp(-1) - logits.gather(1, targets.clamp(min=0)[:, None]).squeeze(1))[keep]
    logits_out, mean = lm_loss(hidden, head, targets)
    assert logits_out.shape == (37, 101)
    torch.testing.assert_close(mean.double(), by_hand.mean(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(cross_entropy_sum(logits_out, targets).double(), by_hand.sum(), rtol=1e-6, atol=1e-5)


def test_masked_tokens_get_no_gradient_and_change_nothing():
    head, hidden, targets = head_and_batch()
    _, grad_hidden, _, _ = loss_and_grads(head, hidden, targets, chunk_size=4)
    masked = targets == IGNORE_INDEX
    assert torch.all(grad_hidden[masked] == 0) and torch.all(grad_hidden[~masked].abs().sum(-1) > 0)
    # Changing a masked position's hidden state leaves the loss as it was.
    moved = hidden.detach().clone()
    moved[masked] += 5.0
    assert torch.equal(linear_cross_entropy_sum(moved, head.weight, head.bias, targets, 4),
                       linear_cross_entropy_sum(hidden.detach(), head.weight, head.bias, targets, 4))


def test_a_batch_without_targets_has_loss_zero_and_zero_gradients_not_nan():
    head, hidden, targets = head_and_batch()
    targets[:] = IGNORE_INDEX
    for chunk_size in (None, 8):
        loss, grad_hidden, grad_weight, grad_bias = loss_and_grads(head, hidden, targets, chunk_size, "mean")
        assert loss.item() == 0.0
        assert not grad_hidden.any() and not grad_weight.any() and not grad_bias.any()


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True])
def test_a_chunk_size_that_is_not_a_positive_integer_is_refused(chunk_size):
    head, hidden, targets = head_and_batch()
    with pytest.raises(ValueError, match="chunk_size"):
        lm_loss(hidden, head, targets, chunk_size=chunk_size)


def test_without_gradients_the_chunked_loss_computes_only_the_loss():
    head, hidden, targets = head_and_batch()
    with torch.no_grad():
        _, loss = lm_loss(hidden, head, targets, reduction="sum", chunk_size=6)
    assert not loss.requires_grad
    torch.testing.assert_close(loss, cross_entropy_sum(head(hidden).detach(), targets))


def test_bf16_autocast_keeps_the_loss_fp32_and_close_to_fp32():
    head, hidden, targets = head_and_batch(d_model=64, vocab=300)
    exact = loss_and_grads(head, hidden, targets, None, "mean")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss_and_grads(head, hidden, targets, 8, "mean")
    assert got[0].dtype == torch.float32 and got[1].dtype == torch.float32 and got[2].dtype == torch.float32
    torch.testing.assert_close(got[0], exact[0], rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(got[2], exact[2], rtol=5e-2, atol=5e-3)


def test_the_model_returns_logits_without_targets_and_only_the_loss_when_chunked():
    torch.manual_seed(0)
    model = Phi(PhiConfig.from_preset("nano"))
    ids = torch.randint(0, 51200, (2, 12))
    logits, loss = model(ids)
    assert logits.shape == (2, 12, 51200) and loss is None
    targets = torch.cat([ids[:, 1:], torch.full((2, 1), IGNORE_INDEX)], dim=1)
    unfused_logits, unfused = model(ids, targets=targets)
    torch.testing.assert_close(unfused_logits, logits)
    none, chunked = model(ids, targets=targets, loss_chunk_size=7)
    assert none is None
    torch.testing.assert_close(chunked, unfused, rtol=1e-5, atol=1e-5)
