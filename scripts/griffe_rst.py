"""A griffe extension for the docs site: the reST bits of our docstrings, as Markdown.

The docstrings are Google style (mkdocstrings reads them) but keep a few
reST habits that ``help()`` shows well and Markdown does not:

* Sphinx roles, ``:class:`~phoenix_actors.errors.AskTimeoutError```: become
  code spans (the last dotted part when ``~`` asks for it);
* a paragraph ending in ``::`` before an indented block: a single ``:``
  (the indented block is a code block in Markdown too);
* simple tables (``====  ====`` borders): Markdown tables, a row's
  continuation lines (blank first column) joined to it.

mkdocs.yml loads it for the python handler (``extensions:``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|mod|func|meth|attr|exc|data|obj|ref):`(~?)([^`]+)`")
BORDER = re.compile(r"^( *)(=+)((?: +=+)+) *$")


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def _columns(border: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"=+", border)]


def _cells(line: str, columns: list[tuple[int, int]]) -> list[str]:
    cells = []
    for i, (start, end) in enumerate(columns):
        stop = columns[i + 1][0] if i + 1 < len(columns) else max(len(line), end)
        cells.append(line[start:stop].strip())
    return cells


def _table(lines: list[str], columns: list[tuple[int, int]], indent: str) -> list[str]:
    """Turn the rows between a simple table's borders into a Markdown table."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    for line in lines:
        if BORDER.match(line):  # the border under a header row
            header, rows = rows[-1] if rows else None, rows[:-1]
            continue
        if not line.strip():
            continue
        cells = _cells(line, columns)
        if rows and not cells[0]:  # continuation of the previous row
            for i, cell in enumerate(cells):
                if cell:
                    rows[-1][i] = f"{rows[-1][i]} {cell}".strip()
        else:
            rows.append(cells)
    head = header or [""] * len(columns)
    out = [indent + "| " + " | ".join(head) + " |", indent + "|" + "---|" * len(columns)]
    out.extend(indent + "| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows)
    return out


def rst_to_markdown(text: str) -> str:
    """Return ``text`` with roles, ``::`` paragraphs and simple tables in Markdown."""
    lines = ROLE.sub(_role, text).splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        border = BORDER.match(lines[i])
        if border:
            end = next((j for j in range(len(lines) - 1, i, -1) if lines[j] == lines[i]), None)
            if end is not None:
                if out and out[-1].strip():
                    out.append("")
                out.extend(_table(lines[i + 1 : end], _columns(lines[i]), border.group(1)))
                out.append("")
                i = end + 1
                continue
        line = lines[i]
        if line.rstrip().endswith("::") and not line.strip().startswith(">>>"):
            stripped = line.rstrip()[:-2].rstrip()
            line = f"{stripped}:" if stripped else ""
        out.append(line)
        i += 1
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring with :func:`rst_to_markdown` once the tree is loaded."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite ``obj``'s own docstring."""
        del loader, kwargs
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite the top package's docstring (on_object does not see the root)."""
        self.on_object(obj=pkg, loader=loader, **kwargs)
