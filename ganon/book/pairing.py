"""Jupytext pairing: the ``notebooks/<stem>.ipynb`` beside each ``py:percent`` source, which Colab opens.

The paired notebook's ``repository_url`` default is the repository of ``_config.yml``, so a fork that
changes that one setting and pairs again gets notebooks that install from the fork.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ganon.book.paths import NOTEBOOKS_DIR
from ganon.book.toc import repository, toc_notebooks

_REPOSITORY_DEFAULT = re.compile(r'^repository_url = "[^"\n]*"', flags=re.MULTILINE)

__all__ = ["pair_notebooks"]


def pair_notebooks(root: Path | str = ".", *, check: bool = False) -> list[Path]:
    """Write ``notebooks/<stem>.ipynb`` beside each toc notebook's Jupytext source, the files Colab opens.

    Returns the notebooks that were (``check``: would be) rewritten because they differ from their source.
    """
    import jupytext

    root = Path(root)
    url = repository(root).url
    stale: list[Path] = []
    for stem in toc_notebooks(root):
        source = root / NOTEBOOKS_DIR / f"{stem}.py"
        if not source.is_file():
            continue
        target = source.with_suffix(".ipynb")
        notebook = jupytext.read(source)
        for index, cell in enumerate(notebook.cells):
            cell["id"] = f"cell-{index}"  # stable ids, so an unchanged source gives an identical file
            if url and "parameters" in cell.get("metadata", {}).get("tags", []):
                default = f"repository_url = {json.dumps(url)}"
                cell["source"] = _REPOSITORY_DEFAULT.sub(default, cell["source"])
        text = jupytext.writes(notebook, fmt="ipynb")
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            target.write_text(text, encoding="utf-8")
    return stale
