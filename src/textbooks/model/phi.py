"""The phi-1 model ("Textbooks Are All You Need", Gunasekar et al. 2023), in one file.

A decoder-only transformer in the CodeGen/GPT-J layout:
- each block runs attention and MLP in parallel on ONE shared LayerNorm:
  x + attn(ln(x)) + mlp(ln(x));
- rotary position embeddings on the first `rotary_dim` dimensions of each head only
  (GPT-NeoX "rotate_half" layout);
- gelu with the tanh approximation ("gelu_new"), a final LayerNorm, an untied LM head with a bias.

Parameter names are those of transformers' `PhiForCausalLM`, so its state dict loads with
`strict=True` in both directions. Attention is `F.scaled_dot_product_attention` (FlashAttention
kernels on GPU). A preallocated `KVCache` serves generation: one write per layer per step, no
concatenation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from textbooks.errors import UserError
from textbooks.model.loss import lm_loss


@dataclass(frozen=True)
class PhiConfig:
    name: str = "custom"
    vocab_size: int = 51200  # the 50,295-token codegen tokenizer padded to 50 * 1024 rows
    n_layer: int = 24
    n_head: int = 32
    d_model: int = 2048
    d_mlp: int = 8192
    rotary_dim: int = 32  # rotated dimensions per head; the rest of the head passes unchanged
    max_seq_len: int = 2048
    rope_theta: float = 10000.0
    layer_norm_eps: float = 1e-5
    embd_pdrop: float = 0.0
    attn_pdrop: float = 0.0
    resid_pdrop: float = 0.0
    init_std: float = 0.02

    def __post_init__(self) -> None:
        for field in ("vocab_size", "n_layer", "n_head", "d_model", "d_mlp", "max_seq_len"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"PhiConfig.{field}: got {value!r}; expected a positive integer")
        for field in ("rope_theta", "layer_norm_eps", "init_std"):
            if not getattr(self, field) > 0:
                raise UserError(f"PhiConfig.{field}: got {getattr(self, field)!r}; expected a positive number")
        for field in ("embd_pdrop", "attn_pdrop", "resid_pdrop"):
            if not 0.0 <= getattr(self, field) < 1.0:
                raise UserError(f"PhiConfig.{field}: got {getattr(self, field)!r}; expected a probability in [0, 1)")
        if self.d_model % self.n_head:
            raise UserError(f"PhiConfig.n_head: {self.n_head} heads do not divide d_model {self.d_model}; "
                            "expected a divisor of d_model")
        if not isinstance(self.rotary_dim, int) or not 0 < self.rotary_dim <= self.head_dim or self.rotary_dim % 2:
            raise UserError(f"PhiConfig.rotary_dim: got {self.rotary_dim!r}; expected an even number in "
                            f"2..head_dim ({self.head_dim})")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @classmethod
    def from_preset(cls, name: str, **overrides) -> PhiConfig:
        if name not in PRESETS:
            raise UserError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
        return dataclasses.replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PhiConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"PhiConfig: unknown field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
        return cls(**data)


PRESETS: dict[str, PhiConfig] = {
    # Paper, section 2: 1.3B parameters, 24 layers, hidden 2048, MLP 8192, 32 heads of 64 dims,
    # rotary dimension 32, sequence length 2048. Exactly 1,418,270,720 parameters with vocab 51,200.
    "phi-1": PhiConfig(name="phi-1", n_layer=24, n_head=32, d_model=2048, d_mlp=8192, rotary_dim=32),
    # Paper: 350M parameters, 20 layers, hidden 1024, MLP 4096, 16 heads of 64 dims: 356,794,368.
    "phi-1-small": PhiConfig(name="phi-1-small", n_layer=20, n_head=16, d_model=1024, d_mlp=4096, rotary_dim=32),
    # CPU scale, same shape of heads (64 dims): 29.4M parameters, 26.3M of them the embedding and
    # head (2 * 51,200 * 256); trains at hundreds of tokens/s on two cores.
    "tiny": PhiConfig(name="tiny", n_layer=4, n_head=4, d_model=256, d_mlp=1024, rotary_dim=32),
    # For tests: 6.7M parameters, nearly all embedding and head (2 * 51,200 * 64).
    "nano": PhiConfig(name="nano", n_layer=2, n_head=2, d_model=64, d_mlp=256, rotary_dim=16, max_seq_len=256),
}


class KVCache:
    """Keys and values of every layer, preallocated for `max_len` positions.

    `length` positions are filled; the model writes the next ones in place and advances it.
    """

    def __init__(self, config: PhiConfig, batch_size: int, max_len: int, *, device=None, dtype=torch.float32):
        shape = (batch_size, config.n_head, max_len, config.head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.length = 0

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop the batch rows not in `rows` (finished sequences stop costing compute)."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]


def rotary_cos_sin(config: PhiConfig, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of shape (batch, 1, seq, rotary_dim), computed in fp32 as transformers does."""
    exponents = torch.arange(0, config.rotary_dim, 2, device=position_ids.device, dtype=torch.float32)
    inv_freq = 1.0 / (config.rope_theta ** (exponents / config.rotary_dim))
    freqs = position_ids.float()[..., None] * inv_freq
    angles = torch.cat([freqs, freqs], dim=-1).unsqueeze(1)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first rotary_dim dims of each head of x (batch, head, seq, head_dim)."""
    rotary_dim = cos.shape[-1]
    x_rot, x_pass = x[..., :rotary_dim], x[..., rotary_dim:]
    x1, x2 = x_rot.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)  # GPT-NeoX rotate_half: pairs dim i with dim i + rotary_dim/2
    return torch.cat([x_rot * cos + rotated * sin, x_pass], dim=-1)


class PhiAttention(nn.Module):
    def __init__(self, config: PhiConfig):
        super().__init__()
        self.config = config
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.dense = nn.Linear(config.d_model, config.d_model)

    def forward(self, x, cos, sin, mask, cache: tuple[torch.Tensor, torch.Tensor] | None, past_len: int):
        batch, seq, _ = x.shape
        heads = (batch, seq, self.config.n_head, self.config.head_dim)
        q = self.q_proj(x).view(heads).transpose(1, 2)
        k = self.k_proj(x).view(heads).transpose(1, 2)
        v = self.v_proj(x).view(heads).transpose(1, 2)
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:
            k_cache, v_cache = cache
            k_cache[:, :, past_len : past_len + seq] = k
            v_cache[:, :, past_len : past_len + seq] = v
            k, v = k_cache[:, :, : past_len + seq], v_cache[:, :, : past_len + seq]
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=mask is None and seq > 1,
            dropout_p=self.config.attn_pdrop if self.training else 0.0,
        )
        return self.dense(out.transpose(1, 2).reshape(batch, seq, self.config.d_model))


class PhiMLP(nn.Module):
    def __init__(self, config: PhiConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.d_model, config.d_mlp)
        self.fc2 = nn.Linear(config.d_mlp, config.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class PhiBlock(nn.Module):
    """One layer: attention and MLP side by side on one LayerNorm (GPT-J's parallel block)."""

    def __init__(self, config: PhiConfig):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.self_attn = PhiAttention(config)
        self.mlp = PhiMLP(config)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, x, cos, sin, mask=None, cache=None, past_len: int = 0):
        h = self.input_layernorm(x)
        attn = self.self_attn(h, cos, sin, mask, cache, past_len)
        return x + self.resid_dropout(attn) + self.resid_dropout(self.mlp(h))


class Phi(nn.Module):
    def __init__(self, config: PhiConfig):
        super().__init__()
        self.config = config
        # `model.*` and `lm_head.*` mirror PhiForCausalLM's state dict; the trainer shards
        # each element of `model.layers` on its own (FSDP2) and may checkpoint its activations.
        self.model = nn.ModuleDict(dict(
            embed_tokens=nn.Embedding(config.vocab_size, config.d_model),
            layers=nn.ModuleList(PhiBlock(config) for _ in range(config.n_layer)),
            final_layernorm=nn.LayerNorm(config.d_model, eps=config.layer_norm_eps),
        ))
        self.embed_dropout = nn.Dropout(config.embd_pdrop)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=True)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """transformers' initialisation: N(0, 0.02) weights, zero biases, LayerNorm ones."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.normal_(0.0, self.config.init_std)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.LayerNorm):
                module.reset_parameters()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden_states(self, input_ids, *, position_ids=None, attention_mask=None, kv_cache: KVCache | None = None):
        """The final LayerNorm's output (batch, seq, d_model): what the head turns into logits."""
        seq = input_ids.shape[1]
        past_len = kv_cache.length if kv_cache is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past_len, past_len + seq, device=input_ids.device)[None]
        cos, sin = rotary_cos_sin(self.config, position_ids)
        mask = attention_bias(attention_mask, seq, past_len, input_ids.device)

        x = self.embed_dropout(self.model.embed_tokens(input_ids))
        for i, block in enumerate(self.model.layers):
            cache = (kv_cache.keys[i], kv_cache.values[i]) if kv_cache is not None else None
            x = block(x, cos, sin, mask, cache, past_len)
        if kv_cache is not None:
            kv_cache.length += seq
        return self.model.final_layernorm(x)

    def forward(self, input_ids, *, position_ids=None, attention_mask=None, kv_cache: KVCache | None = None,
                targets=None, last_only: bool = False, loss_reduction: str = "mean",
                loss_chunk_size: int | None = None):
        """Logits (batch, seq, vocab) -- or (batch, 1, vocab) with `last_only` -- and the loss.

        attention_mask: (batch, past + seq), 1 for real tokens, 0 for left padding; None means all real.
        targets: (batch, seq) next-token ids aligned with input_ids (targets[:, t] is predicted at
        position t); IGNORE_INDEX (-100) entries do not count. The loss (textbooks.model.loss.lm_loss) is
        the cross-entropy in fp32, a mean over target tokens or with loss_reduction="sum" their
        sum; None without targets. With targets and `loss_chunk_size`, the head and the loss run
        chunk by chunk and the logits returned are None: training needs only the loss.
        `last_only` applies without targets (decoding).
        """
        x = self.hidden_states(input_ids, position_ids=position_ids, attention_mask=attention_mask, kv_cache=kv_cache)
        if targets is not None:
            return lm_loss(x, self.lm_head, targets, reduction=loss_reduction, chunk_size=loss_chunk_size)
        if last_only:
            # Decoding: few rows against a (vocab x d_model) head. Computed as head @ x^T, BLAS streams
            # the head once in a tall-skinny product, 2-3x faster on CPU than x @ head^T.
            return torch.addmm(self.lm_head.bias[:, None], self.lm_head.weight, x[:, -1].T).T[:, None], None
        return self.lm_head(x), None


def attention_bias(attention_mask, seq: int, past_len: int, device) -> torch.Tensor | None:
    """Boolean mask (batch, 1, seq, past_len + seq), True where a query may attend; None where
    plain causal attention (or, for one new token, attention to everything) is exact."""
    if attention_mask is None and (past_len == 0 or seq == 1):
        return None
    query_pos = torch.arange(past_len, past_len + seq, device=device)[:, None]
    key_pos = torch.arange(past_len + seq, device=device)[None, :]
    allowed = key_pos <= query_pos
    if attention_mask is not None:
        # A padding query would see no key at all and SDPA would return NaN; letting it see itself
        # keeps the numbers finite. Its output is never read.
        real_key = attention_mask[:, None, None, : past_len + seq].bool()
        allowed = (allowed & real_key) | (key_pos == query_pos)
    return allowed[None, None] if allowed.dim() == 2 else allowed


def count_parameters(config: PhiConfig) -> int:
    """Parameters of a model with this config, counted on the meta device (nothing allocated)."""
    with torch.device("meta"):
        return Phi(config).num_parameters()


def flops_per_token(config: PhiConfig, seq_len: int) -> int:
    """Training FLOPs per token (forward + backward), for MFU: 6N + 12 * n_layer * d_model * seq.

    N leaves out the input embedding, a lookup with no multiply (PaLM appendix B); the LM head is
    a matmul and counts. The second term is attention's scores and weighted sum.
    """
    n = count_parameters(config) - config.vocab_size * config.d_model
    return 6 * n + 12 * config.n_layer * config.d_model * seq_len
