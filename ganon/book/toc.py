"""The book's layout: its root, the chapters ``_toc.yml`` lists, their titles, and the repository setting.

The repository (``repository.url`` and ``.branch`` in ``_config.yml``) is read here and nowhere else,
so a fork changes one line to get working Colab links and a working repository button.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ganon.book.paths import GENERATED_DIR, NOTEBOOKS_DIR

__all__ = ["Repository", "colab_url", "find_root", "repository", "stem_title", "toc_entries", "toc_notebooks"]


def find_root(start: Path | str = ".") -> Path:
    """The nearest folder at or above ``start`` holding both ``_config.yml`` and ``_toc.yml``."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(f"no _config.yml with _toc.yml at or above {start}")


def _toc_files(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                yield node[key]
        for key in ("parts", "chapters", "sections"):
            yield from _toc_files(node.get(key, []))
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def toc_entries(root: Path | str) -> list[str]:
    """Every document ``_toc.yml`` lists (root first), as written there, in reading order."""
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8")) or {}
    return list(dict.fromkeys(_toc_files(toc)))


def toc_notebooks(root: Path | str, *, generated_dir: Path = GENERATED_DIR) -> list[str]:
    """Stems of the generated notebooks that ``_toc.yml`` lists, in reading order."""
    prefix = generated_dir.as_posix().rstrip("/") + "/"
    stems: list[str] = []
    for entry in toc_entries(root):
        entry = entry.removesuffix(".ipynb")
        if entry.startswith(prefix) and "/" not in entry[len(prefix):]:
            stem = entry[len(prefix):]
            if stem not in stems:
                stems.append(stem)
    return stems


def stem_title(stem: str) -> str:
    """``"3_1_face_extraction"`` -> ``"3.1 Face extraction"`` (section numbers, then words)."""
    parts = stem.split("_")
    numbers = [p for p in parts if p.isdigit()]
    words = " ".join(parts[len(numbers):]) if parts[: len(numbers)] == numbers else " ".join(parts)
    words = words[:1].upper() + words[1:]
    return f"{'.'.join(numbers)} {words}".strip()


@dataclass(frozen=True)
class Repository:
    """Where the book's sources are published: ``repository`` in ``_config.yml``."""

    url: str = ""
    branch: str = "main"

    @property
    def github(self) -> str | None:
        """``owner/name`` when the repository is on GitHub, else None."""
        found = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?", self.url)
        return found.group(1) if found else None


def repository(root: Path | str) -> Repository:
    """The repository setting of the book at ``root`` (empty URL when ``_config.yml`` names none)."""
    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8")) or {}
    section = config.get("repository") or {}
    return Repository(url=str(section.get("url", "")), branch=str(section.get("branch", "main")))


def colab_url(root: Path | str, stem: str) -> str | None:
    """Colab's address for ``notebooks/<stem>.ipynb`` on the repository and branch of ``_config.yml``.

    None when the repository is not on GitHub (Colab opens notebooks from GitHub only).
    """
    repo = repository(root)
    if repo.github is None:
        return None
    return (f"https://colab.research.google.com/github/{repo.github}/blob/{repo.branch}/"
            f"{NOTEBOOKS_DIR.as_posix()}/{stem}.ipynb")
