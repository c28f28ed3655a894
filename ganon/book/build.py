"""Building the HTML: Jupyter Book 1 over the executed notebooks, where any warning fails the build."""

from __future__ import annotations

import collections
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ganon.book.paths import GENERATED_DIR, RUN_RECORD_FILE, read_json, shown_path
from ganon.book.toc import toc_notebooks

__all__ = ["BookBuildError", "build_book", "bundled_mathjax"]

logger = logging.getLogger(__name__)


class BookBuildError(RuntimeError):
    """``jupyter-book build`` failed or emitted a warning; the message lists the warnings."""


_WARNING_LINE = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b|Sphinx error|Extension error")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def bundled_mathjax(root: Path) -> Path | None:
    """The MathJax script that ``_config.yml`` bundles (``sphinx.config.mathjax_path`` under an
    ``html_static_path``), or None when the book loads MathJax from a URL or names no path.

    Raises :class:`BookBuildError` when the bundled script is missing, since pages would then show raw
    LaTeX offline; ``scripts/fetch_mathjax.sh`` bundles it.
    """
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    sphinx = (config.get("sphinx") or {}).get("config") or {}
    path = sphinx.get("mathjax_path")
    if not path or re.match(r"^([a-z]+:)?//", str(path)):
        return None
    candidates = [root / folder / path for folder in sphinx.get("html_static_path") or []]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    shown = ", ".join(shown_path(c, root) for c in candidates) or f"{path} (no html_static_path)"
    raise BookBuildError(f"{shown}: the bundled MathJax is missing; run scripts/fetch_mathjax.sh")


def _jupyter_book_command(root: Path, *, nitpicky: bool) -> list[str]:
    # This interpreter's Jupyter Book, never whatever `jupyter-book` the PATH finds first.
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(root),
           "--all", "-W", "--keep-going"]
    return cmd + (["-n"] if nitpicky else [])


def build_book(
    *,
    root: Path | str = ".",
    nitpicky: bool = True,
    allow_failed: bool = False,
    echo: Callable[[str], Any] | None = None,
) -> Path:
    """Run ``jupyter-book build --all -W --keep-going`` (and ``-n``); any warning fails. Returns index.html.

    Refuses to build when a notebook's last run failed (its partial output is in the book) unless
    ``allow_failed``. ``echo`` receives every output line (default: written to stdout as it comes).
    """
    root = Path(root).resolve()
    write = echo or (lambda line: (sys.stdout.write(line + "\n"), sys.stdout.flush()))
    record = read_json(root / GENERATED_DIR / RUN_RECORD_FILE)
    failed = [s for s in toc_notebooks(root)
              if record.get("notebooks", {}).get(s, {}).get("status") in {"failed", "running"}]
    if failed and not allow_failed:
        raise BookBuildError(
            f"{shown_path(root / GENERATED_DIR, root)}: the last run of {', '.join(failed)} did not finish; "
            "rerun `ganon book run` (or build with --allow-failed to inspect the partial output)"
        )
    bundled_mathjax(root)
    cmd = _jupyter_book_command(root, nitpicky=nitpicky)
    logger.info("building the book: %s", " ".join(cmd[3:]))
    start = time.perf_counter()
    warnings: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=15)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, bufsize=1) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = _ANSI.sub("", raw.rstrip("\n"))
            write(line)
            tail.append(line)
            if _WARNING_LINE.search(line):
                warnings.append(line)
        code = proc.wait()
    wall = time.perf_counter() - start
    index = root / "_build" / "html" / "index.html"
    if code != 0 or warnings:
        listed = "\n  ".join(warnings[:50] or ["(no warning line; the output ended with:)", *tail])
        raise BookBuildError(
            f"jupyter-book build of {root} failed (exit {code}, {len(warnings)} warning lines, {wall:.0f} s):"
            f"\n  {listed}"
        )
    if not index.is_file():
        raise BookBuildError(f"{index}: not produced by the build")
    logger.info("book built in %.1f s: %s", wall, index.as_uri())
    return index
