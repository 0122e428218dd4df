"""What users already have must keep working through refactors: the stage keys of the shipped
pipelines (a changed key silently re-runs every user's cached stage) and every command's flags.

Both are pinned in tests/data/. A change that means to change them (a new output-affecting field,
a renamed flag with its old spelling kept as an alias) re-pins with
`TEXTBOOKS_REPIN=1 pytest tests/test_compatibility.py` and says why in its commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer

from textbooks.cli import app
from textbooks.pipeline import plan as plan_module
from textbooks.pipeline.kinds import STAGES
from textbooks.pipeline.spec import load_spec

DATA = Path(__file__).parent / "data"
STAGE_KEYS = DATA / "stage_keys.json"
CLI_OPTIONS = DATA / "cli_options.json"
SHIPPED_PIPELINES = ("demo", "ci", "phi-1-small", "phi-1")
REPIN = os.environ.get("TEXTBOOKS_REPIN") == "1"


def shipped_stage_keys(monkeypatch, tmp_path) -> dict[str, dict[str, str]]:
    # A source tree's listing differs between machines (this Python's standard library, a /data
    # that exists only on the cluster): the pinned keys are of the configs and the graph alone.
    for stage in STAGES.values():
        monkeypatch.setattr(type(stage), "key_extra", lambda self, config: "listing")
    keys = {}
    for name in SHIPPED_PIPELINES:
        spec = load_spec(name)
        plan = plan_module.make_plan(spec, tmp_path / name)
        keys[name] = {stage: planned.key for stage, planned in plan.stages.items()}
    return keys


def command_options() -> dict[str, list[str]]:
    """Every command path (`synth exercises`) with its parameter spellings, sorted."""
    found: dict[str, list[str]] = {}

    # typer ships its own copy of click: a group is what has subcommands, an option what has a dash.
    def walk(command, path: tuple[str, ...]) -> None:
        if getattr(command, "commands", None):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
            return
        names = []
        for param in command.params:
            spellings = [*param.opts, *param.secondary_opts]
            names += spellings if spellings[0].startswith("-") else [f"<{param.name}>"]
        found[" ".join(path)] = sorted(names)

    walk(typer.main.get_command(app), ())
    return found


def test_the_shipped_pipelines_keep_their_stage_keys(monkeypatch, tmp_path):
    keys = shipped_stage_keys(monkeypatch, tmp_path)
    if REPIN:
        STAGE_KEYS.write_text(json.dumps(keys, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(STAGE_KEYS.read_text())
    for pipeline, stages in pinned.items():
        for stage, key in stages.items():
            assert keys[pipeline].get(stage) == key, (
                f"{pipeline}.{stage}: its key changed, so every user's cached output of it would run again; "
                "keep the config's meaning, or re-pin (see this file's docstring)")


def test_every_command_keeps_its_flags():
    options = command_options()
    assert {"run", "synth exercises", "curate clean", "eval", "train"} <= set(options)  # the walk reaches them
    if REPIN:
        CLI_OPTIONS.write_text(json.dumps(options, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(CLI_OPTIONS.read_text())
    for command, names in pinned.items():
        assert command in options, f"`textbooks {command}` is gone"
        missing = sorted(set(names) - set(options[command]))
        assert not missing, f"`textbooks {command}` lost {missing}; keep an old spelling as an alias"


@pytest.mark.parametrize("pipeline", SHIPPED_PIPELINES)
def test_a_pinned_key_is_sensitive_to_the_config(pipeline, monkeypatch, tmp_path):
    # The pin would be worthless if keys ignored the config: one changed step count moves the key.
    base = shipped_stage_keys(monkeypatch, tmp_path)[pipeline]
    spec = load_spec(pipeline, ["stages.pretrain.config.max_steps=3"])
    changed = plan_module.make_plan(spec, tmp_path / "changed").stages
    assert changed["pretrain"].key != base["pretrain"]
    assert changed["hf"].key != base["hf"]  # and everything downstream
    assert changed["pretrain-pack"].key == base["pretrain-pack"]
