"""Held-out loss: the reference solution's tokens scored given the prompt, as the model's own loss would."""

from __future__ import annotations

import json

import pytest
import torch

from textbooks.benchmarks import load_benchmark
from textbooks.errors import UserError
from textbooks.eval.heldout import HeldoutConfig, heldout_loss, read_losses
from textbooks.model.load import load_model
from textbooks.model.loss import IGNORE_INDEX
from textbooks.tokenizer import load_tokenizer


def test_each_task_loss_is_the_models_own_loss_on_the_solution_tokens(tmp_path, shared_assets):
    data_dir = shared_assets / "benchmarks"
    summary = heldout_loss(HeldoutConfig(model="preset:nano", out=tmp_path, benchmarks=["humaneval", "mbpp"], limit=3,
                                         batch_size=2, data_dir=data_dir, progress=False))
    lines = read_losses(tmp_path)
    assert [(line["benchmark"], line["task_id"]) for line in lines] == [
        ("humaneval", "HumanEval/0"), ("humaneval", "HumanEval/1"), ("humaneval", "HumanEval/2"),
        ("mbpp", 11), ("mbpp", 12), ("mbpp", 13)]  # file order, whatever the batching by length
    model, tokenizer = load_model("preset:nano"), load_tokenizer()
    for line in lines:  # the model's forward with targets, one task at a time, no batching or padding
        task = load_benchmark(line["benchmark"], data_dir).tasks[line["task_id"]]
        prompt, solution = tokenizer.encode(task.prompt).ids, tokenizer.encode(task.reference).ids
        ids = (prompt + solution)[-model.config.max_seq_len - 1:]
        labels = ([IGNORE_INDEX] * len(prompt) + solution)[-model.config.max_seq_len - 1:]
        with torch.no_grad():
            total = model(torch.tensor([ids[:-1]]), targets=torch.tensor([labels[1:]]), loss_reduction="sum")[1]
        assert line["tokens"] == sum(label != IGNORE_INDEX for label in labels[1:])
        assert line["sum"] == pytest.approx(float(total), rel=1e-4)
    humaneval = summary["benchmarks"]["humaneval"]
    assert humaneval["tasks"] == 3 and humaneval["loss"] == pytest.approx(
        sum(line["sum"] for line in lines[:3]) / sum(line["tokens"] for line in lines[:3]))
    assert json.loads((tmp_path / "summary.json").read_text()) == summary


def test_a_benchmark_without_one_reference_per_task_is_refused():
    with pytest.raises(UserError, match=r"benchmarks: humaneval\+; expected some of humaneval, mbpp"):
        HeldoutConfig(benchmarks=["humaneval+"])
