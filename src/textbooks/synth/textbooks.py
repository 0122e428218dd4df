"""Synthetic textbooks: sections written by the teacher on a drawn topic, for a drawn audience, in a drawn style.

phi-1 trained on under 1B tokens of GPT-3.5 textbooks whose diversity came from constraining the
topic and the target audience of each one; here the constraints come from the shipped taxonomy
(synth/data/) and the prompt from templates/textbook.txt (placeholders {topic}, {subtopic},
{audience}, {style}).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textbooks.synth.constraints import Pools
from textbooks.synth.generate import GenerationConfig, Generator, Item
from textbooks.synth.templates import builtin_template_path, load_template

PLACEHOLDERS = ("topic", "subtopic", "audience", "style")
# Shorter answers are refusals, apologies or a lone heading, not a textbook section.
MIN_CHARS = 200


class TextbookGenerator(Generator):
    stage = "synth-textbooks"
    kind = "textbook"
    placeholders = PLACEHOLDERS

    def judge(self, items: list[Item]) -> list[dict[str, Any] | str]:
        return [self._judge(item) for item in items]

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "min_chars": MIN_CHARS}

    def _judge(self, item: Item) -> dict[str, Any] | str:
        text = item.answer.text.strip()
        if not text:
            return "empty"
        if len(text) < MIN_CHARS:
            return "too_short"
        return {
            **self.base_record(item),
            "text": text + "\n",
            "audience": item.constraints.audience,
            "style": item.constraints.style,
        }


def textbook_generator(config: GenerationConfig, template: str | Path | None = None, pools: Pools | None = None) -> TextbookGenerator:
    """The generator with the shipped (or given) template and pools, all checked before any request."""
    return TextbookGenerator(
        config,
        pools or Pools.load(),
        load_template(template or builtin_template_path("textbook"), PLACEHOLDERS),
    )
