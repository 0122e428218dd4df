"""What a first GPU run would hit, checked on CPU: the process-group timeout from the config, tokens/s
and MFU not inflated by validation or saving between logs, and each GPU's bf16 peak by its name."""

from __future__ import annotations

import datetime

import pytest
import torch
import torch.distributed as dist

from textbooks.config import load_config
from textbooks.errors import UserError
from textbooks.train import parallel
from textbooks.train.config import TrainConfig
from textbooks.train.metrics import Throughput, peak_tflops


def test_the_process_group_timeout_comes_from_the_config(monkeypatch):
    seen = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda **kwargs: seen.update(kwargs))
    cfg = load_config(TrainConfig, None, ["process_group_timeout_s=5400"])
    parallel.init_runtime(cfg.process_group_timeout_s)
    assert seen["timeout"] == datetime.timedelta(seconds=5400) and seen["backend"] == "gloo"
    assert TrainConfig().process_group_timeout_s > 600  # past NCCL's 10-minute default
    with pytest.raises(UserError, match="process_group_timeout_s: got 0"):
        TrainConfig(process_group_timeout_s=0)


def test_tokens_per_s_counts_only_the_steps_after_a_restart():
    now = [0.0]
    throughput = Throughput(flops_per_token=100, peak_flops=1000.0, world_size=1, clock=lambda: now[0])
    throughput.add(50)
    now[0] = 1.0
    throughput.restart()  # a validation or a save ended here: the 50 tokens before it are not in the interval
    throughput.add(10)
    now[0] = 2.0
    assert throughput.measure() == {"tokens_per_s": 10.0, "mfu": 1.0}
    assert throughput.tokens == 0


@pytest.mark.parametrize("name, tflops", [("NVIDIA H200 NVL", 835.0), ("NVIDIA H200", 989.0),
                                          ("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0),
                                          ("NVIDIA A100-SXM4-80GB", 312.0), ("a100", 312.0), ("NVIDIA L40S", 362.0),
                                          ("Some Future GPU", None)])
def test_each_gpus_bf16_peak_is_found_by_its_name(name, tflops):
    assert peak_tflops(name) == tflops


def test_batches_reach_the_device_as_they_are_on_cpu():
    batch = torch.arange(6).reshape(2, 3)
    assert torch.equal(parallel.to_device(batch, torch.device("cpu")), batch)
