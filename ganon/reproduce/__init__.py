"""Every table and figure of the paper, made by one package function each (``ganon reproduce``).

``REPRODUCERS`` maps a result name (``table1`` ... ``table6``, ``figure3`` ... ``figure11``) to a
function ``f(settings, *, workdir) -> Result``. ``workdir`` is the run's results folder: functions may
keep intermediate artefacts there (anonymized face folders, trained classifiers) so that results of one
section reuse one another's work. Notebooks call them one per result; the CLI calls them by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from ganon.registry import Registry
from ganon.reproduce.result import Result, Settings
from ganon.reproduce.store import ResultStore

__all__ = ["REPRODUCERS", "Result", "ResultStore", "Settings", "names", "reproduce"]

Reproducer = Callable[..., Result]

REPRODUCERS: Registry[Reproducer] = Registry("paper result")

#: Modules that register reproducers, one per section of the paper.
SECTION_MODULES: tuple[str, ...] = ("ganon.reproduce.anonymization", "ganon.reproduce.expression",
                                     "ganon.reproduce.attributes")


def _load() -> None:
    for module in SECTION_MODULES:
        importlib.import_module(module)


def names() -> list[str]:
    """Every result that can be reproduced: the tables, then the figures, each in the paper's order."""
    _load()
    kinds = {"table": 0, "figure": 1}

    def order(name: str) -> tuple[int, int]:
        kind = name.rstrip("0123456789")
        return kinds.get(kind, len(kinds)), int(name[len(kind):] or 0)

    return sorted(REPRODUCERS.names(), key=order)


def reproduce(name: str, settings: Settings, *, workdir: str | Path, store: ResultStore | None = None) -> Result:
    """Make result ``name`` with ``settings``; with a ``store``, also write it there (or its absence)."""
    _load()
    result = REPRODUCERS.get(name)(settings, workdir=Path(workdir))
    if store is not None:
        store.save(result)
    return result
