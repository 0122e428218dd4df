"""DESIGN.md's layer order, kept true: a package imports only from lower layers (a `cli.py` may
compose across), the stages never import each other, and nothing imports upward.

    1. errors   2. io, config, locks, tokenizer, slurm   3. sandbox, benchmarks, teacher, model   4. data
    5. the stages: curate, synth, decontam, train, eval   6. pipeline   7. experiments   8. cli   9. __main__
"""

from __future__ import annotations

import ast
from pathlib import Path

import textbooks

PACKAGE = Path(textbooks.__file__).parent
LAYERS = [("errors",), ("io", "locks", "config", "tokenizer", "slurm"), ("sandbox", "benchmarks", "teacher", "model"), ("data",),
          ("curate", "synth", "decontam", "train", "eval"), ("pipeline",), ("experiments",), ("cli",), ("__main__",)]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def imported_modules(path: Path, root: Path) -> set[str]:
    """Every `textbooks.*` module a file imports, function-level imports included."""
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
    return {m for m in found if m == "textbooks" or m.startswith("textbooks.")}


def top_package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_violations(root: Path = PACKAGE) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        here = rel.parts[0].removesuffix(".py")
        if path.name == "cli.py" or here not in LAYER_OF:
            continue
        for module in imported_modules(path, root):
            there = top_package(module)
            if there == here or there == "__init__":
                continue
            if there not in LAYER_OF:
                bad.append(f"{rel}: imports {module}, a package DESIGN.md's layers do not list")
            elif LAYER_OF[there] >= LAYER_OF[here]:
                bad.append(f"{rel}: imports {module} (layer {LAYER_OF[there] + 1} into layer {LAYER_OF[here] + 1})")
    return bad


def test_every_package_imports_only_lower_layers():
    assert layer_violations() == []


def test_every_package_is_in_a_layer():
    packages = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")}
    assert packages - set(LAYER_OF) == set()


def test_the_check_reports_a_stage_importing_another_or_upward_and_allows_the_rest(tmp_path):
    root = tmp_path / "textbooks"
    for relative, source in {
        "decontam/scoring.py": "from textbooks.eval.runner import evaluate\nfrom textbooks.benchmarks import Task\n",
        "decontam/cli.py": "from textbooks.eval.runner import evaluate\n",  # a cli composes across
        "model/phi.py": "def f():\n    from ..train import state\n",  # relative, inside a function
        "eval/runner.py": "from . import passk\n",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(source)
    assert layer_violations(root) == [
        "decontam/scoring.py: imports textbooks.eval.runner (layer 5 into layer 5)",
        "model/phi.py: imports textbooks.train (layer 5 into layer 3)",
    ]
