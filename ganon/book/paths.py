"""The book's fixed folders and file names, and the small file helpers every part of the driver uses."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

NOTEBOOKS_DIR = Path("notebooks")
GENERATED_DIR = Path("book/generated")
PROFILES_DIR = Path("profiles")
HASHES_FILE = ".hashes.json"
RUN_RECORD_FILE = "run_record.json"
#: The reproduction report as data, written into the results folder (one row per table and figure).
REPORT_FILE = "reproduction.csv"


def under(base: Path, path: str | Path) -> Path:
    """``path`` with ``~`` and ``$VARS`` expanded, taken relative to ``base`` unless absolute."""
    path = Path(os.path.expandvars(str(path))).expanduser()
    return path if path.is_absolute() else base / path


def shown_path(path: Path, root: Path) -> str:
    """POSIX path relative to root when inside it (machine-independent keys), else absolute."""
    path = Path(os.path.abspath(path))
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.as_posix()


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; an empty dict when the file is missing or not valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError:
        logger.warning("%s is not valid JSON; starting afresh", path)
        return {}


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


#: An absolute POSIX path of at least two parts, not inside a URL, a relative path or base64 text.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~+=-])/(?:[\w.+@-]+/)+[\w.+@-]*")


def shown_text(value: Any, *, root: Path | str | None = None) -> Any:
    """``value`` with every absolute path made relative to ``root`` (default: the working folder),
    ``~/...`` under the home folder, else cut to its last part; a non-string is returned unchanged.

    What the book shows passes through this, so no page names a folder of the machine that built it.
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        return value
    bases = ((Path(root) if root is not None else Path.cwd()).resolve(), ""), (Path.home(), "~/")

    def relative(match: re.Match[str]) -> str:
        path = Path(match.group(0))
        for base, prefix in bases:
            try:
                return prefix + (path.relative_to(base).as_posix() or ".")
            except ValueError:
                continue
        return f"…/{path.name}" if path.name else "…/"

    return _ABSOLUTE_PATH.sub(relative, value)
