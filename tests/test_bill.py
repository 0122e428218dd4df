"""The bill (pipeline/bill.py): FLOPs per token against PyTorch's own counter, phi-1-base's
pretraining against the paper's A100-hours, the full-scale pipelines planned from raw code (their
paths replaced by small local stand-ins), and the bill in the dry run, in bill.json and in the report.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from conftest import run_cli
from textbooks.config import load_config
from textbooks.errors import UserError
from textbooks.model.phi import Phi, PhiConfig, flops_per_token
from textbooks.pipeline.bill import gpus_of, make_bill, train_bill
from textbooks.pipeline.plan import make_plan
from textbooks.pipeline.runner import RunOptions, run_pipeline
from textbooks.pipeline.spec import Launcher, load_spec
from textbooks.train.config import TrainConfig, preset_path

CONFIGS = Path(__file__).parents[1] / "src" / "textbooks" / "configs" / "pipelines"


@pytest.mark.parametrize("preset, seq", [("nano", 256), ("tiny", 512)])
def test_flops_per_token_is_within_5_percent_of_pytorchs_flop_counter(preset, seq):
    config = PhiConfig.from_preset(preset)
    model = Phi(config)
    ids = torch.randint(0, config.vocab_size, (1, seq))
    # The math backend runs attention as matmuls the counter sees (CPU's fused kernel it does not);
    # the unfused loss, since the counter misses the chunked loss's in-place addmm_.
    with FlopCounterMode(display=False) as counter, sdpa_kernel(SDPBackend.MATH):
        model(ids, targets=ids, loss_reduction="sum", loss_chunk_size=None)[1].backward()
    counted = counter.get_total_flops() / ids.numel()
    assert counted == pytest.approx(flops_per_token(config, seq), rel=0.05)


def test_phi_1_base_pretraining_costs_650_to_900_a100_hours_at_mfu_half():
    cfg = load_config(TrainConfig, preset_path("phi-1-pretrain"), [])
    bill, disk = train_bill(cfg, gpus=8, gpu="A100", mfu=0.5)
    assert bill.tokens == 24_000 * 1024 * 2048  # the paper's ~50B tokens seen
    assert 650 <= bill.gpu_hours <= 900  # the paper: 770 A100-hours
    assert bill.wall_hours == pytest.approx(bill.gpu_hours / 8)
    slower, _ = train_bill(cfg, gpus=8, gpu="A100", mfu=0.25)
    assert slower.gpu_hours == pytest.approx(2 * bill.gpu_hours)
    assert disk > 0


def test_gpus_come_from_processes_per_node_times_nodes():
    assert gpus_of(Launcher(nproc_per_node=8)) == 8
    assert gpus_of(Launcher(nproc_per_node=8, torchrun_args=["--nnodes=2"])) == 16
    assert gpus_of(Launcher(prefix="srun --nodes 4 --ntasks-per-node 1", nproc_per_node=8)) == 32


def stand_ins(tmp_path: Path) -> list[str]:
    """The full-scale pipelines' Hub dataset and dump replaced by a small tree and a small Posts.xml."""
    tree = tmp_path / "code"
    tree.mkdir(exist_ok=True)
    (tree / "add.py").write_text("def add(a, b):\n    return a + b\n")
    posts = tmp_path / "Posts.xml"
    posts.write_text('<?xml version="1.0"?>\n<posts></posts>\n')
    # Synthetic sizes cut down too: seconds instead of the ~10 s a full-size sample of requests takes.
    return [f"stages.code.config.sources=[{tree},{posts}]", "stages.textbooks.config.tokens=20480",
            "stages.exercises.config.tokens=20480"]


@pytest.mark.parametrize("name", ["phi-1", "phi-1-small"])
def test_full_scale_pipelines_start_from_raw_code_and_their_dry_run_prints_the_bill(name, tmp_path):
    shipped = load_spec(name).stages["code"]
    assert shipped.kind == "curate"
    assert shipped.config["sources"][0] == "hf:bigcode/the-stack-dedup" and shipped.config["hf_data_dir"] == "data/python"
    assert shipped.config["sources"][1].endswith("Posts.xml")
    assert shipped.config["annotate"]["sample"] == 100_000 and shipped.config["executor"]["kind"] == "slurm"
    text = (CONFIGS / f"{name}.yaml").read_text()
    for line in text.splitlines():  # every path, endpoint and partition to edit says so
        if re.search(r"^\s*(run_dir|endpoints|model|launcher|gpu|partition):|^\s*- /", line):
            assert "EDIT" in line, line

    lines: list[str] = []
    spec = load_spec(name, stand_ins(tmp_path))
    run_pipeline(spec, tmp_path / "run", RunOptions(dry_run=True, check_endpoints=False), echo=lines.append)
    printed = "\n".join(lines)
    assert "code (curate)" in printed and "bill (estimates" in printed
    rows = {line.split(")")[0].strip() + ")": line for line in printed.splitlines() if ") " in line}
    assert "100,000" in rows["code (curate)"]  # the paper's ~100K rated files
    assert "50.3B" in rows["pretrain (train)"] and re.search(r"\d+\.\d h", rows["pretrain (train)"])
    assert not (tmp_path / "run").exists()


def test_demo_dry_run_prints_the_bill_and_assume_mfu_scales_the_gpu_hours(tmp_path):
    plan = make_plan(load_spec("demo"), tmp_path)
    half = make_bill(plan, list(plan.stages), mfu=0.5)
    quarter = make_bill(plan, list(plan.stages), mfu=0.25)
    rows = {s.name: s for s in half.stages}
    assert rows["pretrain"].train.tokens == 100 * 8 * 256 and rows["code"].teacher.requests == 100
    assert rows["textbooks"].teacher.requests == 8 and rows["exercises"].teacher.requests == 48
    assert quarter.totals()["gpu_hours"] == pytest.approx(2 * half.totals()["gpu_hours"])
    with pytest.raises(UserError, match="--assume-mfu: 1.5"):
        make_bill(plan, list(plan.stages), mfu=1.5)


def test_prices_give_dollars_for_the_teacher_stages(tmp_path):
    spec = load_spec("phi-1-small", [*stand_ins(tmp_path), "teacher.prices={Qwen/Qwen2.5-72B-Instruct: [1.0, 2.0]}"])
    bill = make_bill(make_plan(spec, tmp_path / "run"), ["code", "textbooks"])
    code = bill.stages[0].teacher
    assert code.usd == pytest.approx((code.prompt_tokens * 1.0 + code.completion_tokens * 2.0) / 1e6)
    assert bill.totals()["usd"] == pytest.approx(code.usd + bill.stages[1].teacher.usd)


def test_a_run_writes_its_bill_before_the_stages_and_the_report_shows_it(tmp_path):
    tree = tmp_path / "code"
    tree.mkdir()
    for i in range(4):
        (tree / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n" * 20)
    path = tmp_path / "pipe.yaml"
    path.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), "stages": {
        "code": {"kind": "import", "config": {"roots": [str(tree)]}},
        "pack": {"kind": "tokenize", "inputs": {"datasets": ["code:2"]}, "config": {"workers": 1}}}}))
    run_pipeline(load_spec(path), None, RunOptions(), echo=lambda line: None)
    bill = json.loads((tmp_path / "run" / "bill.json").read_text())
    code, pack = bill["stages"]
    assert code["disk_bytes"] == sum(f.stat().st_size for f in tree.iterdir())
    assert pack["tokens"] == 2 * code["tokens"]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Bill, estimated before the run" in report and "pack (tokenize)" in report


def test_the_cli_dry_run_prints_the_bill_at_the_assumed_mfu(tmp_path):
    tree = tmp_path / "code"
    tree.mkdir()
    (tree / "m.py").write_text("def f(x):\n    return x\n")
    path = tmp_path / "pipe.yaml"
    path.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), "launcher": {"gpu": "H100"}, "stages": {
        "code": {"kind": "import", "config": {"roots": [str(tree)]}},
        "pack": {"kind": "tokenize", "inputs": {"datasets": ["code"]}},
        "model": {"kind": "train", "base": "tiny-pretrain", "inputs": {"data": "pack"}}}}))
    done = run_cli("run", str(path), "--dry-run", "--assume-mfu", "0.25")
    assert done.returncode == 0, done.stderr
    assert "GPU-hours at MFU 0.25 of H100's bf16 peak" in done.stdout and "model (train)" in done.stdout
    assert not (tmp_path / "run").exists()
