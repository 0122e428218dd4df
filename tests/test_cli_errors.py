"""Every command that does work: a user error exits 2 with one line naming what was wrong, no traceback;
and its typed config comes from `--config FILE` plus `key=value` overrides, flags winning over the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from textbooks.config import command_config
from textbooks.errors import UserError
from textbooks.eval.runner import EvalConfig
from textbooks.synth.job import SynthConfig
from textbooks.teacher.server import ServerConfig
from textbooks.train.tokenize import TokenizeConfig


def _bad_yaml(tmp: Path) -> Path:
    path = tmp / "bad.yaml"
    path.write_text("key: [unclosed\n")
    return path


def _unknown_key(tmp: Path) -> Path:
    path = tmp / "unknown.yaml"
    path.write_text("no_such_key: 1\n")
    return path


# (command line, a piece of the one error line). `{tmp}` is a fresh directory.
CASES = [
    (["dataset", "import", "{tmp}/missing.jsonl", "--out", "{tmp}/ds"], "missing.jsonl: file not found"),
    (["dataset", "export", "{tmp}/nothing", "--out", "{tmp}/x.jsonl"], "dataset directory not found"),
    (["dataset", "info", "{tmp}/nothing"], "dataset directory not found"),
    (["teacher", "serve", "--gguf", "{tmp}/no.gguf"], "no.gguf: no such model file"),
    (["teacher", "serve", "--config", "{bad_yaml}"], "not valid YAML"),
    (["teacher", "ping", "http://127.0.0.1:9/v1"], "127.0.0.1:9"),
    (["synth", "textbooks", "--out", "{tmp}/tb", "--endpoint", "http://127.0.0.1:9/v1", "--num", "1"], "--model: required with --endpoint"),
    (["synth", "exercises", "--out", "{tmp}/ex", "--config", "{unknown_key}", "--num", "1"], "unknown key 'no_such_key'"),
    (["synth", "report", "{tmp}/nothing"], "dataset directory not found"),
    (["decontam", "--out", "{tmp}/d"], "--input: required"),
    (["decontam", "--input", "{tmp}/nothing", "--out", "{tmp}/d"], "nothing: not found; expected a dataset directory or a JSONL file"),
    (["decontam", "--config", "{unknown_key}"], "unknown key 'no_such_key'"),
    (["decontam", "--input", "{tmp}/nothing", "--out", "{tmp}/d", "tau=1.5"], "tau: 1.5; expected 0 < tau <= 1"),
    (["decontam", "--input", "{tmp}/nothing", "--out", "{tmp}/d", "--judge-endpoint", "http://127.0.0.1:9/v1"],
     "judge.model: required with judge.endpoints"),
    (["tokenize", "--out", "{tmp}/pack"], "tokenize: no input"),
    (["tokenize", "--input", "{tmp}/nothing", "--out", "{tmp}/pack", "seed=oops"], "seed: expected int"),
    (["train", "--config", "{tmp}/missing.yaml", "--data", "{tmp}/pack", "--out", "{tmp}/run"], "no such config file or preset"),
    (["train", "--config", "tiny-pretrain", "--data", "{tmp}/pack", "--out", "{tmp}/run", "no_such_key=1"],
     "tiny-pretrain.yaml (with command-line flags): unknown key 'no_such_key'"),
    (["model", "info"], "give exactly one of --preset NAME or --model PATH"),
    (["export-hf", "--model", "{tmp}/nothing", "--out", "{tmp}/hf"], "no such directory"),
    (["import-hf", "--hf", "{tmp}/nothing", "--out", "{tmp}/ckpt"], "nothing"),
    (["eval", "humaneval", "--out", "{tmp}/e"], "give exactly one of --model M"),
    (["eval", "no-such-bench", "--samples", "{tmp}/s.jsonl", "--out", "{tmp}/e"], "unknown; expected one of"),
    (["eval", "--config", "{unknown_key}"], "unknown key 'no_such_key'"),
    (["eval", "humaneval", "--samples", "{tmp}/s.jsonl", "--out", "{tmp}/e", "--mode", "talk"], "--mode 'talk': unknown; expected one of auto, completion, chat"),
    (["heldout-loss", "--model", "preset:nano", "--out", "{tmp}/l", "--benchmark", "humaneval+"], "benchmarks: humaneval+; expected some of"),
    (["experiment", "data-quality", "{tmp}/missing.yaml"], "no such experiment file or shipped experiment"),
    (["experiment", "pruning", "pruning-demo", "decontam={tmp}/nothing", "--dry-run"], "no decontamination output (summary.json missing)"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(c[0][:2]) + f" #{i}" for i, c in enumerate(CASES)])
def test_a_user_error_exits_2_with_one_line_and_no_traceback(argv, message, tmp_path):
    fill = {"tmp": str(tmp_path), "bad_yaml": str(_bad_yaml(tmp_path)), "unknown_key": str(_unknown_key(tmp_path))}
    done = run_cli(*[arg.format(**fill) for arg in argv], timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr


def test_flags_win_over_the_config_file_and_overrides_win_over_flags(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text("benchmark: mbpp\nout: from-file\nsettings:\n  n: 4\n  temperature: 0.8\n")
    cfg = command_config(EvalConfig, path, ["settings.n=8"], {"out": Path("from-flag"), "settings.n": 2, "model": None})
    assert (cfg.benchmark, cfg.out, cfg.settings.n, cfg.settings.temperature) == ("mbpp", Path("from-flag"), 8, 0.8)


def test_the_whole_teacher_config_is_settable_from_a_file(tmp_path):
    path = tmp_path / "synth.yaml"
    path.write_text(
        "num: 10\nteacher:\n  endpoints: [http://a/v1, http://b/v1]\n  model: m\n  requests_per_minute: 600\n"
        "  tokens_per_minute: 100000\n  max_tokens_total: 5000\n  max_cost_usd: 2.5\n"
        "  prices: {m: [0.5, 1.5]}\n  timeout_s: 30\n  max_retries: 2\n  backoff_base_s: 0.1\n"
        "  backoff_max_s: 5\n  cooldown_s: 10\n  failures_before_cooldown: 1\n  max_in_flight: 64\n"
    )
    job = command_config(SynthConfig, path, ["teacher.max_cost_usd=3"])
    teacher = job.teacher
    assert teacher.endpoints == ["http://a/v1", "http://b/v1"] and teacher.in_flight == 64
    assert (teacher.requests_per_minute, teacher.tokens_per_minute, teacher.max_tokens_total) == (600, 100000, 5000)
    assert teacher.max_cost_usd == 3 and teacher.prices == {"m": [0.5, 1.5]}
    assert (teacher.timeout_s, teacher.max_retries, teacher.cooldown_s, teacher.failures_before_cooldown) == (30, 2, 10, 1)
    assert job.generation_config("exercises", teacher.model).max_tokens_per_doc == 512


def test_tokenize_and_serve_configs_read_their_keys(tmp_path):
    path = tmp_path / "tok.yaml"
    path.write_text("inputs: [a:2, b]\nloss_on: solution\nworkers: 1\n")
    cfg = command_config(TokenizeConfig, path, ["seed=5"], {"out": Path("pack")})
    assert (cfg.inputs, cfg.loss_on, cfg.seed, cfg.workers, cfg.out) == (["a:2", "b"], "solution", 5, 1, Path("pack"))
    with pytest.raises(UserError, match="loss_on: got 'none'"):
        command_config(TokenizeConfig, None, ["loss_on=none"])
    assert command_config(ServerConfig, None, ["n_ctx=4096"], {"port": 8081}) == ServerConfig(port=8081, n_ctx=4096)
