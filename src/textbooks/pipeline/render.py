"""The report's building blocks (tables, figures, paragraphs) and their rendering as Markdown and HTML.

Stage kinds build their report sections from these blocks; the pipeline report and the experiments'
reports render them the same way: HTML self-contained (plots inlined as base64 PNG, no script, no
network), Markdown with its plots as files beside it.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILES = "report-files"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Figure:
    name: str  # file name stem in report-files/
    caption: str
    png: bytes


Block = str | Table | Figure  # a str is a paragraph (Markdown inline code allowed)


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


def duration(seconds: float | None) -> str:
    """Seconds as the report and the console write them: `45 s`, `3.2 min`."""
    if seconds is None:
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def new_figure(height: float = 3.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, height))
    return plt, fig, ax


def figure_png(plt, fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def render_markdown(title: str, sections: list[Section], files: Path) -> str:
    lines = [f"# {title}", ""]
    for sec in sections:
        lines += [f"## {sec.title}", ""]
        for block in sec.blocks:
            if isinstance(block, Table):
                lines += ["| " + " | ".join(block.headers) + " |", "|" + " --- |" * len(block.headers)]
                lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in block.rows]
            elif isinstance(block, Figure):
                (files / f"{block.name}.png").write_bytes(block.png)
                lines.append(f"![{block.caption}]({FILES}/{block.name}.png)")
            else:
                lines.append(block)
            lines.append("")
    return "\n".join(lines)


STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
th{background:#f3f3f3}figure{margin:1rem 0}img{max-width:100%}code{background:#f3f3f3;padding:0 .2rem}"""


def _inline(text: str) -> str:
    """Escape, then render Markdown's `code` and **bold** (all the paragraphs use)."""
    parts = html.escape(text).split("`")
    out = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    bold = out.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(bold))


def render_html(title: str, sections: list[Section]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for sec in sections:
        body.append(f"<h2>{html.escape(sec.title)}</h2>")
        for block in sec.blocks:
            if isinstance(block, Table):
                head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
                rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                               for row in block.rows)
                body.append(f"<table><tr>{head}</tr>{rows}</table>")
            elif isinstance(block, Figure):
                data = base64.b64encode(block.png).decode()
                body.append(f'<figure><img alt="{html.escape(block.caption)}" src="data:image/png;base64,{data}">'
                            f"<figcaption>{html.escape(block.caption)}</figcaption></figure>")
            else:
                body.append(f"<p>{_inline(block)}</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
