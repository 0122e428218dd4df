"""Prompt templates kept in files, with their `{placeholder}`s checked before anything is sent.

A template is plain text with `str.format` fields: `{topic}` is replaced, `{{` and `}}` are literal
braces (write a JSON example as `{{"code": ...}}`). A template may use only the placeholders its
generator fills; any other name is a user error naming the file and the placeholder, raised when
the template is loaded, so a typo never costs a single request.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from textbooks.errors import UserError
from textbooks.synth.constraints import read_text


@dataclass(frozen=True)
class Template:
    path: str  # where it came from, for messages and the manifest
    text: str
    placeholders: frozenset[str]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def render(self, **values: str) -> str:
        missing = sorted(self.placeholders - set(values))
        if missing:  # the generator passes every allowed name: a miss is a bug, not bad input
            raise KeyError(f"{self.path}: no value for placeholder {{{missing[0]}}}")
        return self.text.format(**values)


def builtin_template_path(name: str) -> Path:
    """A template shipped with the package, e.g. "textbook" -> synth/templates/textbook.txt."""
    return Path(str(resources.files("textbooks.synth") / "templates" / f"{name}.txt"))


def load_template(path: str | Path, allowed: Collection[str]) -> Template:
    """Read and check a template; `allowed` are the placeholder names its generator fills."""
    path = Path(path)
    text = read_text(path, "template file")
    names = placeholders_of(text, str(path))
    for name in sorted(names):
        if name not in allowed:
            raise UserError(
                f"{path}: unknown placeholder {{{name}}}; expected only {', '.join('{' + a + '}' for a in sorted(allowed))}"
                " (write literal braces as {{ and }})"
            )
    return Template(str(path), text, frozenset(names))


def placeholders_of(text: str, where: str) -> set[str]:
    """The field names of a format string; conversions, format specs and attribute access are refused."""
    names: set[str] = set()
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as err:  # a lone { or }
        raise UserError(f"{where}: malformed template ({err}); write literal braces as {{{{ and }}}}") from None
    for _literal, field, spec, conversion in fields:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            shown = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise UserError(f"{where}: unknown placeholder {{{shown}}}; expected a plain name such as {{topic}}")
        names.add(field)
    return names
