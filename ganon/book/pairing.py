"""Jupytext pairing: the ``notebooks/<stem>.ipynb`` beside each ``py:percent`` source, which Colab opens."""

from __future__ import annotations

from pathlib import Path

from ganon.book.paths import NOTEBOOKS_DIR
from ganon.book.toc import toc_notebooks

__all__ = ["pair_notebooks"]


def pair_notebooks(root: Path | str = ".", *, check: bool = False) -> list[Path]:
    """Write ``notebooks/<stem>.ipynb`` beside each toc notebook's Jupytext source, the files Colab opens.

    Returns the notebooks that were (``check``: would be) rewritten because they differ from their source.
    """
    import jupytext

    root = Path(root)
    stale: list[Path] = []
    for stem in toc_notebooks(root):
        source = root / NOTEBOOKS_DIR / f"{stem}.py"
        if not source.is_file():
            continue
        target = source.with_suffix(".ipynb")
        notebook = jupytext.read(source)
        for index, cell in enumerate(notebook.cells):
            cell["id"] = f"cell-{index}"  # stable ids, so an unchanged source gives an identical file
        text = jupytext.writes(notebook, fmt="ipynb")
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            target.write_text(text, encoding="utf-8")
    return stale
