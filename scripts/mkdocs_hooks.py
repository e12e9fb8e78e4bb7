"""mkdocs hooks for the docs site (mkdocs.yml ``hooks:``).

Every ``docs/howto/*.md`` is a how-to guide: the ones mkdocs.yml's nav lists
keep their place, any other is appended to the "How-to guides" section (in
name order), so a new recipe is on the site without an edit to mkdocs.yml
and ``mkdocs build --strict`` does not fail on it as a page left out of the nav.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig

SECTION = "How-to guides"


def _path(entry: Any) -> Any:
    return next(iter(entry.values())) if isinstance(entry, dict) else entry


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Append the how-to pages the nav does not list to its how-to section."""
    howto = Path(config.docs_dir) / "howto"
    for section in config.nav or []:
        if isinstance(section, dict) and SECTION in section:
            pages: list[Any] = section[SECTION]
            listed = {_path(entry) for entry in pages}
            pages.extend(
                f"howto/{page.name}"
                for page in sorted(howto.glob("*.md"))
                if f"howto/{page.name}" not in listed
            )
    return config
