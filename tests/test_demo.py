"""`make demo` is a contract with users: every step must be a command line the CLI accepts."""

from __future__ import annotations

from typer.testing import CliRunner

from textbooks.cli import app
from textbooks.demo import demo_commands


def test_every_demo_step_is_a_command_line_the_cli_accepts(tmp_path):
    runner = CliRunner()
    for args in demo_commands(tmp_path):
        # The whole line is parsed before `--help` acts: an unknown command or flag fails here.
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, f"textbooks {' '.join(args)}: {result.output}"
    bad = runner.invoke(app, ["synth", "exercises", "--no-such-flag", "--help"])
    assert bad.exit_code == 2, "the check above must be able to fail"


def test_the_demo_chains_each_output_into_the_next_step(tmp_path):
    commands = demo_commands(tmp_path)
    assert [args[0] for args in commands][:2] == ["synth", "synth"] and commands[-1][0] == "eval"
    produced = {args[args.index("--out") + 1] for args in commands if "--out" in args}
    # `--decontaminate` writes OUT.decontam/ beside OUT (its pruned/ dataset is read later).
    produced |= {args[args.index("--out") + 1] + ".decontam" for args in commands if "--decontaminate" in args}
    consumed = {value.split(":")[0] for args in commands for flag, value in zip(args, args[1:])
                if flag in ("--input", "--data", "--init", "--model")}
    unmade = {path for path in consumed if not any(path == out or path.startswith(out + "/") for out in produced)}
    assert not unmade, f"steps read what no step writes: {unmade}"
