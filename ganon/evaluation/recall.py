"""Detector recall against hand-checked face boxes (tests/annotations/faces.csv), and whether an
anonymizer's output actually changed each annotated face.

A file is named ``samples:<path under samples/>`` or ``openpeople:<person>/<asset>.jpg`` (a photo
inside the installed ``openpeople`` wheel), so the annotations carry no machine paths.
"""

from __future__ import annotations

import csv
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganon.types import Detection


@dataclass(frozen=True)
class FaceBox:
    """One annotated face: which photo, its box (x0, y0, x1, y1 in pixels) and a note."""

    file: str
    box: tuple[float, float, float, float]
    note: str = ""

    @property
    def hard(self) -> bool:
        """Marked ``hard`` in its note: a face no detector here scores above ~0.2 (kept to be counted)."""
        return self.note.startswith("hard")


def load_annotations(path: str | Path) -> list[FaceBox]:
    """Every row of an annotation CSV (columns file, x0, y0, x1, y1, note)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [FaceBox(row["file"], tuple(float(row[k]) for k in ("x0", "y0", "x1", "y1")), row.get("note", ""))
            for row in rows]


def resolve(file: str, samples_dir: str | Path = "samples") -> Path:
    """The local path of an annotated file name (see the module docstring)."""
    source, _, relative = file.partition(":")
    if source == "samples":
        return Path(samples_dir) / relative
    if source == "openpeople":
        person, asset = relative.split("/", 1)
        return Path(str(importlib.metadata.distribution("openpeople").locate_file(
            f"openpeople/data/curated/{person}/assets/{asset}")))
    raise ValueError(f"{file!r}: unknown source {source!r} (expected samples: or openpeople:)")


def by_file(faces: Sequence[FaceBox]) -> dict[str, list[FaceBox]]:
    """Annotations grouped by file, in their order of appearance."""
    grouped: dict[str, list[FaceBox]] = {}
    for face in faces:
        grouped.setdefault(face.file, []).append(face)
    return grouped


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two x0, y0, x1, y1 boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Match:
    """Detections of one photo against its annotations: which faces were found, how many extras."""

    found: tuple[bool, ...]  # per annotated face
    false_positives: int

    @property
    def recall(self) -> float:
        return sum(self.found) / len(self.found) if self.found else 1.0


def match(detections: Sequence[Detection], faces: Sequence[FaceBox], *, min_iou: float = 0.3) -> Match:
    """Greedy one-to-one matching by IoU (detectors draw boxes of different shapes, so 0.3)."""
    pairs = sorted(((iou(d.box, f.box), i, j) for i, d in enumerate(detections) for j, f in enumerate(faces)),
                   reverse=True)
    used_d: set[int] = set()
    used_f: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < min_iou:
            break
        if i not in used_d and j not in used_f:
            used_d.add(i)
            used_f.add(j)
    return Match(tuple(j in used_f for j in range(len(faces))), len(detections) - len(used_d))


def altered(original: np.ndarray, output: np.ndarray, box: Sequence[float], *, inner: float = 0.6,
            min_change: float = 8.0) -> tuple[bool, float]:
    """Whether ``output`` changed the face in ``box``: the mean absolute difference (grey levels) over
    the central ``inner`` part of the box is at least ``min_change``. Returns (altered, difference)."""
    from ganon.pipeline.composite import box_change

    if original.shape != output.shape:
        raise ValueError(f"output shape {output.shape} differs from the original's {original.shape}")
    difference = box_change(original, output, box, inner=inner)
    return difference >= min_change, difference
