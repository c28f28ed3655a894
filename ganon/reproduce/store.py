"""One place that writes results: atomically, and never leaving a stale sibling behind.

A result ``name`` owns the files ``<name>.csv``, ``<name>.png``, ``<name>.json`` (provenance),
``<name>_<key>.csv`` (extra frames) and ``<name>.absent.txt``. Saving writes the new ones through a
temporary file and ``os.replace``, then removes every file of that name it did not write, so a
result on disk is either fresh or recorded absent with its reason, never an old one that looks new.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganon.reproduce.result import Result

_NAME = re.compile(r"^[a-z][a-z0-9]*$")
_OWNED_SUFFIXES = (".csv", ".png", ".svg", ".jpg", ".json", ".absent.txt")
FIGURE_DPI = 110


class ResultStore:
    """The results folder of one profile run (``runs/book/<profile>/results`` for the book)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # --- writing -----------------------------------------------------------------------------------

    def save(self, result: Result) -> list[Path]:
        """Write ``result`` (or its absence) and remove whatever else that name had on disk."""
        _check_name(result.name)
        self.root.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        if not result.regenerated:
            written.append(self._write(f"{result.name}.absent.txt",
                                       lambda p: p.write_text(result.absent_reason + "\n", encoding="utf-8")))
        else:
            if result.table is not None:
                written.append(self._write(f"{result.name}.csv", lambda p: result.table.to_csv(p, index=False)))
            if result.figure is not None:
                written.append(self._write(f"{result.name}.png",
                                           lambda p: result.figure.savefig(p, dpi=FIGURE_DPI, format="png")))
            for key, frame in sorted(result.frames.items()):
                _check_name(key.replace("_", ""))
                written.append(self._write(f"{result.name}_{key}.csv", lambda p, f=frame: f.to_csv(p, index=False)))
        if result.provenance:
            text = json.dumps(result.provenance, indent=2, sort_keys=True, default=str) + "\n"
            written.append(self._write(f"{result.name}.json", lambda p: p.write_text(text, encoding="utf-8")))
        self._clear_others(result.name, keep=set(written))
        return written

    def absent(self, name: str, reason: str, **provenance: Any) -> Path:
        """Record that ``name`` is not regenerated in this run, and why."""
        return self.save(Result.absent(name, reason, **provenance))[0]

    # --- reading -----------------------------------------------------------------------------------

    def table(self, name: str, **read_csv: Any) -> Any | None:
        """Our table ``name`` as a DataFrame, or None when this run did not regenerate it."""
        import pandas as pd

        path = self.root / f"{name}.csv"
        return pd.read_csv(path, **read_csv) if path.is_file() else None

    def frame(self, name: str, key: str, **read_csv: Any) -> Any | None:
        import pandas as pd

        path = self.root / f"{name}_{key}.csv"
        return pd.read_csv(path, **read_csv) if path.is_file() else None

    def figure_path(self, name: str) -> Path | None:
        for suffix in (".png", ".svg", ".jpg"):
            path = self.root / f"{name}{suffix}"
            if path.is_file():
                return path
        return None

    def absent_reason(self, name: str) -> str | None:
        path = self.root / f"{name}.absent.txt"
        return path.read_text(encoding="utf-8").strip() if path.is_file() else None

    def provenance(self, name: str) -> dict[str, Any]:
        path = self.root / f"{name}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    # --- internals ---------------------------------------------------------------------------------

    def _write(self, filename: str, write: Callable[[Path], Any]) -> Path:
        target = self.root / filename
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=Path(filename).suffix, dir=self.root)
        os.close(fd)
        try:
            write(Path(tmp))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def _clear_others(self, name: str, *, keep: set[Path]) -> None:
        candidates = [self.root / f"{name}{suffix}" for suffix in _OWNED_SUFFIXES]
        candidates += list(self.root.glob(f"{name}_*.csv"))
        for path in candidates:
            if path not in keep and path.is_file():
                path.unlink()


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"result names are lower-case letters and digits (e.g. 'table1'), got {name!r}")
