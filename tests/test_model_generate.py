"""Batched generation: same answer alone or in a batch, the KV cache, sampling, stops and EOS."""

from __future__ import annotations

import pytest
import torch

from textbooks.errors import UserError
from textbooks.model.generate import generate, generate_tokens
from textbooks.model.phi import Phi, PhiConfig
from textbooks.tokenizer import load_tokenizer

PROMPTS = [
    "def fibonacci(n):\n    ",
    "import os\n",
    'class Stack:\n    """A last-in, first-out stack."""\n\n    def push(self, item):\n        ',
    "# print the numbers from 1 to 10\nfor",
]


@pytest.fixture(scope="module")
def model() -> Phi:
    torch.manual_seed(0)
    return Phi(PhiConfig.from_preset("nano")).eval()


@pytest.fixture(scope="module")
def prompt_ids() -> list[list[int]]:
    return [e.ids for e in load_tokenizer().encode_batch(PROMPTS)]


def greedy_without_cache(model: Phi, prompt: list[int], n: int) -> list[int]:
    """The definition of greedy decoding: a full forward per token, no cache, no padding."""
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(torch.tensor([ids]))
            ids.append(int(logits[0, -1, :50295].argmax()))
    return ids[len(prompt):]


def test_greedy_decoding_with_the_cache_equals_full_forwards(model, prompt_ids):
    [new] = generate_tokens(model, [prompt_ids[2]], max_new_tokens=12, eos_id=None, vocab_size=50295)
    assert new == greedy_without_cache(model, prompt_ids[2], 12)


def test_a_batch_gives_the_same_greedy_output_as_each_prompt_alone(model, prompt_ids):
    assert len({len(p) for p in prompt_ids}) == len(prompt_ids)  # different lengths: real left padding
    batch = generate_tokens(model, prompt_ids, max_new_tokens=20, eos_id=None)
    alone = [generate_tokens(model, [p], max_new_tokens=20, eos_id=None)[0] for p in prompt_ids]
    assert batch == alone
    assert all(len(new) == 20 for new in batch)


def test_rows_that_stop_early_leave_the_others_unchanged(model, prompt_ids):
    full = generate_tokens(model, prompt_ids, max_new_tokens=16, eos_id=None)
    stop_after = {0: 3, 2: 7}
    cut = generate_tokens(model, prompt_ids, max_new_tokens=16, eos_id=None,
                          stop_check=lambda row, ids: len(ids) >= stop_after.get(row, 99))
    assert cut == [ids[: stop_after.get(row, 16)] for row, ids in enumerate(full)]


def test_eos_ends_a_row_and_is_not_returned(model, prompt_ids):
    [full] = generate_tokens(model, [prompt_ids[1]], max_new_tokens=16, eos_id=None)
    k = next(i for i, token in enumerate(full) if i > 0 and token not in full[:i])
    [cut] = generate_tokens(model, [prompt_ids[1]], max_new_tokens=16, eos_id=full[k])
    assert cut == full[:k]


def test_seeded_sampling_repeats_and_seeds_differ(model):
    tokenizer = load_tokenizer()
    run = lambda seed: generate(model, tokenizer, PROMPTS, max_new_tokens=12, temperature=1.0, top_p=0.9, seed=seed)
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_tiny_top_p_is_greedy(model, prompt_ids):
    greedy = generate_tokens(model, prompt_ids, max_new_tokens=8, eos_id=None)
    nucleus = generate_tokens(model, prompt_ids, max_new_tokens=8, eos_id=None, temperature=1.0, top_p=1e-6, seed=3)
    assert nucleus == greedy


def test_text_generation_cuts_before_the_first_stop_sequence(model):
    tokenizer = load_tokenizer()
    full = generate(model, tokenizer, PROMPTS, max_new_tokens=24, eos_id=None)
    stop = full[0][5:8]  # a piece of row 0's own output, so that it certainly appears
    cut = generate(model, tokenizer, PROMPTS, max_new_tokens=24, eos_id=None, stop=[stop, "\x00never"], batch_size=3)
    for before, after in zip(full, cut):
        assert after == before[: before.find(stop)] if stop in before else after == before
    assert cut[0] == full[0][: full[0].find(stop)]


def test_bad_requests_are_user_errors(model, prompt_ids):
    with pytest.raises(UserError, match="max_seq_len"):
        generate_tokens(model, [prompt_ids[0]], max_new_tokens=256)
    with pytest.raises(UserError, match="prompt 1"):
        generate_tokens(model, [[1], []], max_new_tokens=4)
    with pytest.raises(UserError, match="temperature"):
        generate_tokens(model, [[1]], max_new_tokens=4, temperature=-1.0)


def test_greedy_output_matches_transformers_generate(model, prompt_ids):
    from test_model_phi import hf_twin

    hf = hf_twin(model.config)
    hf.load_state_dict(model.state_dict(), strict=True)
    ours = generate_tokens(model, prompt_ids[:3], max_new_tokens=10, eos_id=None)
    width = max(len(p) for p in prompt_ids[:3])
    ids = torch.tensor([[50256] * (width - len(p)) + p for p in prompt_ids[:3]])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompt_ids[:3]])
    out = hf.generate(ids, attention_mask=mask, max_new_tokens=10, do_sample=False, pad_token_id=50256,
                      eos_token_id=None)
    assert out[:, width:].tolist() == ours


def test_greedy_picks_the_first_of_tied_tokens_as_argmax_does(prompt_ids):
    torch.manual_seed(0)
    model = Phi(PhiConfig.from_preset("nano")).eval()
    with torch.no_grad():  # every row's logits are the bias: tokens 300 and 7 tie for the maximum
        model.lm_head.weight.zero_()
        model.lm_head.bias.zero_()
        model.lm_head.bias[[300, 7]] = 1.0
    assert generate_tokens(model, prompt_ids, max_new_tokens=3, eos_id=None) == [[7, 7, 7]] * len(prompt_ids)


def test_generation_turns_dropout_off_and_restores_training_mode(prompt_ids):
    torch.manual_seed(0)
    model = Phi(PhiConfig.from_preset("nano", attn_pdrop=0.5, resid_pdrop=0.5, embd_pdrop=0.5)).train()
    first = generate_tokens(model, prompt_ids, max_new_tokens=6, eos_id=None)
    assert generate_tokens(model, prompt_ids, max_new_tokens=6, eos_id=None) == first
    assert model.training
