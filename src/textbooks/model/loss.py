"""Next-token cross-entropy: the one loss definition the model, the trainer and validation share.

    logits, loss = lm_loss(hidden, model.lm_head, targets, reduction="sum")                 # unfused
    None, loss = lm_loss(hidden, model.lm_head, targets, reduction="sum", chunk_size=1024)  # chunked

`hidden` is the final LayerNorm's output (batch, seq, d_model); `targets[:, t]` is the token
predicted at position t, IGNORE_INDEX where nothing is predicted (prompt tokens under
`--loss-on solution`, padding). The loss is computed in fp32.

With `chunk_size`, the LM head and the loss run together over `chunk_size` tokens at a time
(Liger-Kernel's fused linear cross-entropy, in plain PyTorch so that it runs on CPU and GPU
alike): the (tokens x vocab) logits and their gradient never exist in full. At phi-1's shapes
(8 x 2048 tokens, vocabulary 51,200) that is 3.4 GB of fp32 logits and as much again for their
gradient, against chunk_size x 51,200 x 4 bytes (210 MB at 1,024). Any positive chunk size works;
the last chunk is simply shorter.

The gradients are computed chunk by chunk during the forward pass (the loss is a sum, so each
chunk's share is final once its logits are known) and only scaled in the backward: the logits are
computed once, not recomputed, and nothing of size vocab x tokens is kept for the backward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_INDEX = -100  # targets with this value add nothing to the loss (F.cross_entropy's default)


def lm_loss(hidden: torch.Tensor, head: nn.Linear, targets: torch.Tensor, *, reduction: str = "mean",
            chunk_size: int | None = None) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(logits or None when chunked, cross-entropy of `head(hidden)` against `targets`).

    The loss is summed over target tokens, or their mean; a batch without any target token has
    loss 0 (and zero gradients) rather than the NaN of a mean of 0/0.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction {reduction!r}; expected 'sum' or 'mean'")
    if chunk_size is None:
        logits = head(hidden)
        total = cross_entropy_sum(logits, targets)
    else:
        logits = None
        total = linear_cross_entropy_sum(hidden.flatten(0, -2), head.weight, head.bias, targets.flatten(), chunk_size)
    if reduction == "sum":
        return logits, total
    return logits, total / (targets != IGNORE_INDEX).sum().clamp(min=1)


def cross_entropy_sum(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The unfused loss on materialised logits (batch..., vocab), summed over target tokens."""
    return F.cross_entropy(logits.float().flatten(0, -2), targets.flatten(), ignore_index=IGNORE_INDEX,
                           reduction="sum")


def linear_cross_entropy_sum(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                             targets: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """`cross_entropy_sum(F.linear(hidden, weight, bias), targets)` over chunks of tokens."""
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
        raise ValueError(f"chunk_size {chunk_size!r}; expected a positive number of tokens")
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (hidden, weight, bias))
    if not needs_grad:  # validation, evaluation: the loss alone, no gradients to compute
        with torch.no_grad():
            return _chunked_forward(hidden, weight, bias, targets, chunk_size, want_grads=False)[0]
    return _LinearCrossEntropySum.apply(hidden, weight, bias, targets, chunk_size)


class _LinearCrossEntropySum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_size):
        loss, grads = _chunked_forward(hidden, weight, bias, targets, chunk_size, want_grads=True)
        ctx.save_for_backward(*grads)
        ctx.has_bias = bias is not None
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        # The loss is a sum: d(loss)/d(input) is already known; the chain rule only scales it.
        # (When grad_loss is exactly 1, the usual case, the saved tensors are handed over as they are.)
        scale = None if _is_one(grad_loss) else grad_loss
        grads = [g if scale is None else g * scale.to(g.dtype) for g in (grad_hidden, grad_weight, grad_bias)]
        return grads[0], grads[1], grads[2] if ctx.has_bias else None, None, None


def _is_one(value: torch.Tensor) -> bool:
    # Reading a CUDA scalar would wait for the GPU; scale there unconditionally.
    return value.device.type == "cpu" and bool(value == 1)


def _chunked_forward(hidden, weight, bias, targets, chunk_size: int, *, want_grads: bool):
    """(summed loss, [grad_hidden, grad_weight, grad_bias] or []) chunk by chunk.

    Matmuls run in the autocast dtype when autocast is on (bf16 on CPU or GPU), else in the
    weight's dtype; the softmax, the loss and the accumulated weight gradient are fp32, and each
    gradient is returned in its input's dtype.
    """
    compute = torch.get_autocast_dtype(hidden.device.type) if torch.is_autocast_enabled(hidden.device.type) \
        else weight.dtype
    with torch.autocast(hidden.device.type, enabled=False):
        w = weight.to(compute)
        b = bias.to(compute) if bias is not None else None
        total = torch.zeros((), device=hidden.device, dtype=torch.float32)
        grad_hidden = torch.empty_like(hidden) if want_grads else None
        grad_weight = torch.zeros(weight.shape, device=weight.device, dtype=torch.float32) if want_grads else None
        grad_bias = torch.zeros(weight.shape[0], device=weight.device, dtype=torch.float32) if want_grads else None
        for start in range(0, hidden.shape[0], chunk_size):
            h = hidden[start : start + chunk_size].to(compute)
            t = targets[start : start + chunk_size]
            logits = (torch.addmm(b, h, w.T) if b is not None else h @ w.T).float()
            is_target = t != IGNORE_INDEX
            safe_t = torch.where(is_target, t, 0)[:, None]
            target_logit = logits.gather(1, safe_t).squeeze(1)
            # log-sum-exp by hand, so that exp runs once for both the loss and the softmax below.
            row_max = logits.amax(dim=-1, keepdim=True)
            exps = logits.sub_(row_max).exp_()
            sum_exp = exps.sum(dim=-1)
            lse = row_max.squeeze(1) + sum_exp.log()
            total += torch.where(is_target, lse - target_logit, 0.0).sum()
            if not want_grads:
                continue
            # d(loss)/d(logits) = softmax - one_hot(target) on target rows, 0 on the others; in place.
            probs = exps.mul_(torch.where(is_target, sum_exp.reciprocal(), 0.0)[:, None])
            probs.scatter_(1, safe_t, probs.gather(1, safe_t) - is_target[:, None].float())
            grad_logits = probs.to(compute)
            grad_hidden[start : start + chunk_size] = grad_logits @ w
            _accumulate(grad_weight, grad_logits.T, h)
            grad_bias += probs.sum(0)
    if not want_grads:
        return total, []
    grads = [grad_hidden, grad_weight.to(weight.dtype), grad_bias.to(bias.dtype) if bias is not None else None]
    return total, [g if g is not None else hidden.new_zeros(0) for g in grads]  # on the device: no host tensor


def _accumulate(into: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """into += a @ b, with `into` fp32 whatever the dtype of a and b."""
    if a.dtype == into.dtype:
        into.addmm_(a, b)  # no temporary (vocab x d_model) matrix
    else:
        into += (a @ b).float()
