"""The phi-1 model: presets, validation, shapes, causality, KV cache, and parity with transformers."""

from __future__ import annotations

import json

import pytest
import torch

from textbooks.errors import UserError
from textbooks.model.loss import IGNORE_INDEX
from textbooks.model.phi import PRESETS, KVCache, Phi, PhiConfig, count_parameters, flops_per_token


def nano_model(seed: int = 0, **overrides) -> Phi:
    torch.manual_seed(seed)
    return Phi(PhiConfig.from_preset("nano", **overrides)).eval()


def random_ids(batch: int, seq: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 50295, (batch, seq), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("preset", "expected"), [
    ("phi-1", 1_418_270_720),
    ("phi-1-small", 356_794_368),
    ("tiny", 29_423_104),
    ("nano", 6_704_640),
])
def test_presets_have_the_expected_parameter_counts(preset, expected):
    assert count_parameters(PhiConfig.from_preset(preset)) == expected


def test_flops_per_token_is_six_n_plus_attention():
    config = PRESETS["phi-1"]
    n = 1_418_270_720 - 51200 * 2048
    assert flops_per_token(config, 2048) == 6 * n + 12 * 24 * 2048 * 2048


@pytest.mark.parametrize(("overrides", "field"), [
    (dict(n_head=3), "n_head"),
    (dict(rotary_dim=15), "rotary_dim"),
    (dict(rotary_dim=64), "rotary_dim"),
    (dict(n_layer=0), "n_layer"),
    (dict(attn_pdrop=1.5), "attn_pdrop"),
    (dict(layer_norm_eps=0.0), "layer_norm_eps"),
])
def test_a_bad_config_raises_user_error_naming_the_field(overrides, field):
    with pytest.raises(UserError, match=field):
        PhiConfig.from_preset("nano", **overrides)


def test_unknown_preset_and_unknown_field_are_user_errors():
    with pytest.raises(UserError, match="unknown preset 'phi-9'; expected one of phi-1, phi-1-small, tiny, nano"):
        PhiConfig.from_preset("phi-9")
    with pytest.raises(UserError, match="n_heads"):
        PhiConfig.from_dict({**PRESETS["nano"].to_dict(), "n_heads": 4})


def test_config_round_trips_through_json():
    config = PhiConfig.from_preset("tiny", resid_pdrop=0.1)
    assert PhiConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_forward_gives_logits_for_every_position_and_a_loss_near_uniform_at_init():
    model = nano_model()
    ids = random_ids(2, 16)
    logits, loss = model(ids)
    assert logits.shape == (2, 16, 51200) and loss is None
    logits, loss = model(ids, targets=ids)
    assert loss.shape == () and abs(loss.item() - torch.log(torch.tensor(51200.0)).item()) < 0.5
    last, _ = model(ids, last_only=True)
    torch.testing.assert_close(last, logits[:, -1:])


def test_loss_skips_ignored_targets():
    model = nano_model()
    ids = random_ids(1, 12)
    targets = ids.clone()
    targets[:, :6] = IGNORE_INDEX
    logits, loss = model(ids, targets=targets)
    expected = torch.nn.functional.cross_entropy(logits[0, 6:], ids[0, 6:])
    torch.testing.assert_close(loss, expected)


def test_attention_is_causal():
    model = nano_model()
    ids = random_ids(1, 20)
    changed = ids.clone()
    changed[0, 12] = (changed[0, 12] + 1) % 50295
    before, _ = model(ids)
    after, _ = model(changed)
    torch.testing.assert_close(before[:, :12], after[:, :12], rtol=0, atol=0)
    assert not torch.allclose(before[:, 12:], after[:, 12:])


def test_kv_cache_steps_give_the_full_forward_logits():
    model = nano_model()
    ids = random_ids(2, 24)
    full, _ = model(ids)
    cache = KVCache(model.config, 2, 24)
    pieces = [model(ids[:, :10], kv_cache=cache)[0], model(ids[:, 10:16], kv_cache=cache)[0]]
    pieces += [model(ids[:, t : t + 1], kv_cache=cache)[0] for t in range(16, 24)]
    assert cache.length == 24
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=1e-5, atol=1e-5)


def test_left_padding_does_not_change_a_rows_logits():
    model = nano_model()
    ids = random_ids(1, 10)
    alone, _ = model(ids)
    padded = torch.cat([torch.full((1, 5), 50256), ids], dim=1)
    mask = torch.cat([torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 10, dtype=torch.long)], dim=1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits, _ = model(padded, attention_mask=mask, position_ids=positions)
    torch.testing.assert_close(logits[:, 5:], alone, rtol=1e-5, atol=1e-5)


def test_dropout_is_active_only_in_training():
    model = nano_model(attn_pdrop=0.1, resid_pdrop=0.1, embd_pdrop=0.1)
    ids = random_ids(1, 8)
    torch.testing.assert_close(model(ids)[0], model(ids)[0])
    model.train()
    assert not torch.allclose(model(ids)[0], model(ids)[0])


def hf_twin(config: PhiConfig):
    """transformers' PhiForCausalLM with the same shape as `config`."""
    import transformers

    hf_config = transformers.PhiConfig(
        vocab_size=config.vocab_size, hidden_size=config.d_model, intermediate_size=config.d_mlp,
        num_hidden_layers=config.n_layer, num_attention_heads=config.n_head,
        max_position_embeddings=config.max_seq_len, layer_norm_eps=config.layer_norm_eps,
        partial_rotary_factor=config.rotary_dim / config.head_dim, rope_theta=config.rope_theta,
        hidden_act="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0,
    )
    return transformers.PhiForCausalLM(hf_config).eval()


def test_logits_match_transformers_phi_with_the_same_state_dict():
    model = nano_model(n_layer=3, n_head=4, d_model=128, d_mlp=512, rotary_dim=16)
    hf = hf_twin(model.config)
    with torch.no_grad():  # make biases and norms non-trivial so that every parameter is compared
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    hf.load_state_dict(model.state_dict(), strict=True)
    model.load_state_dict(hf.state_dict(), strict=True)

    ids = random_ids(2, 32)
    targets = torch.cat([ids[:, 1:], torch.full((2, 1), IGNORE_INDEX)], dim=1)  # HF shifts its labels itself
    with torch.no_grad():
        ours, loss = model(ids, targets=targets)
        theirs = hf(ids, labels=ids)
    assert (ours - theirs.logits).abs().max().item() < 1e-5
    torch.testing.assert_close(loss, theirs.loss, rtol=1e-5, atol=1e-5)

    # Left padding: the HF mask and its position ids give the same real-token logits.
    mask = torch.ones(2, 32, dtype=torch.long)
    mask[1, :7] = 0
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        ours, _ = model(ids, attention_mask=mask, position_ids=positions)
        theirs = hf(ids, attention_mask=mask, position_ids=positions).logits
    real = mask.bool()
    assert (ours[real] - theirs[real]).abs().max().item() < 1e-5
