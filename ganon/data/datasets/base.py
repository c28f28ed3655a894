"""What every dataset reader shares: the registry, the layout checks and the table it returns.

A reader takes the root folder of a dataset in its official on-disk layout and returns a tidy
``pandas.DataFrame``, one row per sample, with at least the columns ``path`` (absolute), ``split``
and ``subject`` (``<NA>`` where the dataset has no identities), plus ``label`` and ``label_name``
for single-label datasets.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import pandas as pd

from ganon.data.manifests import DatasetManifest, load_dataset
from ganon.registry import Registry

logger = logging.getLogger(__name__)

#: Dataset readers by manifest name, e.g. ``DATASETS.get("ckplus")(root).read()``.
DATASETS: Registry[type[DatasetReader]] = Registry("dataset")

BASE_COLUMNS = ("path", "split", "subject")


class DatasetLayoutError(FileNotFoundError):
    """The folder does not hold the dataset in its official layout; the message names what is wrong."""


class DatasetReader(ABC):
    """Reads one dataset from ``root``; subclasses set ``name`` and implement ``_read``."""

    name: ClassVar[str]

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.manifest: DatasetManifest = load_dataset(self.name)
        if not self.root.is_dir():
            raise self.layout_error(f"the dataset root {self.root} is not a folder")

    def layout_error(self, problem: str) -> DatasetLayoutError:
        """An error that names the problem, the expected layout and where to get the dataset."""
        layout = "\n".join("    " + line for line in self.manifest.layout.rstrip().splitlines())
        return DatasetLayoutError(
            f"{self.manifest.title}: {problem}\n  expected layout:\n{layout}\n"
            f"  get it from {self.manifest.homepage} ({self.manifest.access.strip()})"
        )

    def find(self, *candidates: str, kind: str = "file") -> Path:
        """The first candidate path (relative to root) that exists; a clear error naming all otherwise."""
        for rel in candidates:
            path = self.root / rel
            if (path.is_file() if kind == "file" else path.is_dir()):
                return path
        tried = " or ".join(str(self.root / rel) for rel in candidates)
        raise self.layout_error(f"missing {kind} {tried}")

    def find_optional(self, *candidates: str, kind: str = "file") -> Path | None:
        try:
            return self.find(*candidates, kind=kind)
        except DatasetLayoutError:
            return None

    def read(self) -> pd.DataFrame:
        """All samples as a tidy table (see the module docstring for the columns)."""
        frame = self._read().reset_index(drop=True)
        missing = [c for c in BASE_COLUMNS if c not in frame.columns]
        if missing:  # a reader bug, not a data problem
            raise AssertionError(f"{type(self).__name__} returned no {missing} column")
        frame["split"] = frame["split"].astype("string")
        frame["subject"] = frame["subject"].astype("string")
        frame.attrs["dataset"] = self.name
        frame.attrs["root"] = str(self.root)
        logger.info("%s: %d samples from %s (%s)", self.name, len(frame), self.root,
                    ", ".join(f"{k} {v}" for k, v in frame["split"].value_counts().sort_index().items()))
        return frame

    @abstractmethod
    def _read(self) -> pd.DataFrame: ...

    def verify_checksums(self) -> list[str]:
        """Compare the files that the manifest gives a checksum for; one message per mismatch."""
        problems = []
        for entry in self.manifest.files:
            expected = {algo: getattr(entry, algo) for algo in ("sha256", "md5") if getattr(entry, algo)}
            path = self.find_optional(entry.path, *entry.alternatives, kind=entry.kind) if expected else None
            if path is None or not path.is_file():
                continue
            for algo, value in expected.items():
                digest = hashlib.new(algo)
                with open(path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
                if digest.hexdigest() != value:
                    problems.append(f"{path}: {algo} {digest.hexdigest()}, the official file has {value}")
        return problems

    def with_labels(self, frame: pd.DataFrame, codes: Iterable[str]) -> pd.DataFrame:
        """Add ``label`` (class index) and ``label_name`` from the dataset's official label codes."""
        mapping = self.manifest.label_codes
        labels = []
        for code in codes:
            if code not in mapping:
                raise self.layout_error(f"unknown label code {code!r}; known codes: {sorted(mapping)}")
            labels.append(mapping[code])
        frame["label"] = pd.Series(labels, index=frame.index, dtype="int64")
        frame["label_name"] = frame["label"].map(self.manifest.label_map).astype("string")
        return frame


def read_dataset(name: str, root: Path | str, **options: object) -> pd.DataFrame:
    """Read a dataset by manifest name, e.g. ``read_dataset("celeba", "/data/celeba")``."""
    return DATASETS.get(name)(root, **options).read()
