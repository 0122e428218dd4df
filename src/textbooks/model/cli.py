"""`textbooks model info`, `textbooks export-hf`, `textbooks import-hf`.

--model takes what `textbooks.model.checkpoint.load_model` takes: a checkpoint directory, a
training run directory (its best, else latest, `checkpoints/step-XXXXXXX/model/`), a Hugging Face Phi folder,
or `preset:NAME`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from textbooks.errors import UserError

DTYPE_HELP = "Weight dtype: float32, bfloat16 or float16."


def model_info(
    preset: str = typer.Option(None, help="A preset name: phi-1, phi-1-small, tiny, nano."),
    model: str = typer.Option(None, help="A checkpoint, run directory or Hugging Face Phi folder."),
) -> None:
    """Print a model's config and its parameter count (no weights are read)."""
    if (preset is None) == (model is None):  # before torch is imported (seconds)
        raise UserError("model info: give exactly one of --preset NAME or --model PATH")
    from textbooks.model.load import PRESET_PREFIX, read_model_config
    from textbooks.model.phi import count_parameters

    config = read_model_config(PRESET_PREFIX + preset if preset is not None else model)
    rows = {**config.to_dict(), "head_dim": config.head_dim, "parameters": f"{count_parameters(config):,}"}
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")


def export_hf_command(
    model: str = typer.Option(..., help="A checkpoint, run directory, Hugging Face folder or preset:NAME."),
    out: Path = typer.Option(..., help="The folder to write (replaced if it holds a model)."),
    dtype: str = typer.Option("float32", help=DTYPE_HELP),
) -> None:
    """Write a transformers PhiForCausalLM folder (weights, config, tokenizer; a model card when it comes from `textbooks run`)."""
    from textbooks.model.hf import export_hf
    from textbooks.model.load import load_model
    from textbooks.pipeline.cards import card_for_model

    loaded = load_model(model, dtype=dtype)
    export_hf(loaded, out, card=card_for_model(model))
    print(f"wrote {out}: {loaded.num_parameters():,} parameters in {dtype}; "
          f"transformers.AutoModelForCausalLM.from_pretrained({str(out)!r}) loads it")


def import_hf_command(
    hf: Path = typer.Option(..., help="A transformers Phi folder, e.g. a download of microsoft/phi-1."),
    out: Path = typer.Option(..., help="The checkpoint directory to write."),
    dtype: str = typer.Option("float32", help=DTYPE_HELP),
) -> None:
    """Convert a transformers Phi folder into our checkpoint format."""
    from textbooks.model.checkpoint import save_checkpoint
    from textbooks.model.hf import load_hf

    loaded = load_hf(hf, dtype=dtype)
    save_checkpoint(loaded, None, out)
    print(f"wrote {out}: {loaded.num_parameters():,} parameters in {dtype} ({loaded.config.name})")


def register(app: typer.Typer) -> None:
    model_app = typer.Typer(help="Inspect phi models.", no_args_is_help=True)
    model_app.command("info")(model_info)
    app.add_typer(model_app, name="model")
    app.command("export-hf")(export_hf_command)
    app.command("import-hf")(import_hf_command)
