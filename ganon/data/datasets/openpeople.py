"""openpeople (PyPI ``openpeople==0.1.2``): 10 synthetic people, labelled by identity, expression, attributes.

Every person has five photos (studio portrait, studio posture, selfie, amateur posture, character
sheet) and a 4x4 expression sheet whose cells follow one fixed, captioned order (``EXPRESSIONS``).
The reader lists both: photos as files, expressions as boxes inside the sheet, found by the sheet's
grid and checked to hold exactly one face each. ``materialize`` writes them as an identity-folder
tree (``<out>/<person>/<name>.png``), the input of ``ganon evaluate reid`` and the attack suite.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ganon.data.datasets.base import DATASETS, DatasetReader
from ganon.data.datasets.splits import subject_disjoint_split

__all__ = [
    "EXPRESSIONS", "PHOTOS", "GridCell", "OpenPeople", "cut_expression_sheet", "openpeople_root",
    "young_from_age_range",
]

logger = logging.getLogger(__name__)

#: The 16 cells of every expression sheet, row by row (as captioned on the sheets).
EXPRESSIONS = (
    "neutral", "happy", "sad", "angry", "surprised", "disgusted", "scared", "confused",
    "smug", "flirty", "thoughtful", "pensive", "exhausted", "shocked", "playful", "determined",
)
#: The five photos of every person (file stems inside ``<person>/assets``).
PHOTOS = ("studio_portrait", "studio_posture", "amateur_selfie", "amateur_posture", "character_sheet")
SHEET = "emotions_sheet"
GRID = 4
#: Side of an expression crop relative to the detected face height (enough hair and chin for a detector).
CROP_SCALE = 2.0
#: An age range counts as Young when it ends at this age or earlier (see the manifest's notes).
YOUNG_UP_TO = 35


def openpeople_root() -> Path:
    """The ``curated`` folder inside the installed openpeople package (found without importing it)."""
    spec = importlib.util.find_spec("openpeople")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("openpeople is not installed: pip install --no-deps openpeople==0.1.2")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "curated"


def young_from_age_range(age_range: str) -> int:
    """CelebA's binary Young from an ``"a-b"`` age range: 1 when ``b <= YOUNG_UP_TO``, else 0."""
    try:
        low, high = (int(part) for part in age_range.split("-"))
    except ValueError:
        raise ValueError(f"age range must look like '25-35', got {age_range!r}") from None
    if low > high:
        raise ValueError(f"age range {age_range!r} ends before it starts")
    return int(high <= YOUNG_UP_TO)


@dataclass(frozen=True)
class GridCell:
    """One expression cell: its index in ``EXPRESSIONS``, the cell and the face crop as (x0, y0, x1, y1)."""

    index: int
    cell: tuple[int, int, int, int]
    crop: tuple[int, int, int, int]
    face_score: float


def _grid_lines(centres: np.ndarray, length: int) -> np.ndarray:
    """Cell borders along one axis: the image edges and midpoints between the 4 clusters of face centres."""
    ordered = np.sort(centres)
    gaps = np.argsort(np.diff(ordered))[::-1][: GRID - 1]  # the 3 largest gaps separate the 4 rows/columns
    groups = np.split(ordered, np.sort(gaps) + 1)
    means = np.array([g.mean() for g in groups])
    return np.concatenate([[0], (means[:-1] + means[1:]) / 2, [length]]).round().astype(int)


Box = tuple[int, int, int, int]


def _inside_frame(image: np.ndarray, cell: Box, face: np.ndarray) -> Box:
    """The part of a cell inside its white picture frame, so that no caption gets into the crop.

    A frame line is a row (column) of the cell that is bright over at least 70 % of its width
    (height); the innermost lines around the face are taken, and the cell itself where none exists.
    """
    x0, y0, x1, y1 = (int(v) for v in cell)
    bright = (image[y0:y1, x0:x1] >= 200).all(axis=2)
    rows = np.flatnonzero(bright.mean(axis=1) > 0.7) + y0
    cols = np.flatnonzero(bright.mean(axis=0) > 0.7) + x0
    top, bottom = face[1], face[1] + face[3]
    left, right = face[0], face[0] + face[2]
    above, below = rows[rows < top], rows[rows > bottom]
    before, after = cols[cols < left], cols[cols > right]
    margin = 4  # the frame line's own width
    return (int(before.max()) + margin if len(before) else x0,
            int(above.max()) + margin if len(above) else y0,
            int(after.min()) - margin if len(after) else x1,
            int(below.max()) - margin if len(below) else y1)


def cut_expression_sheet(image: np.ndarray, *, name: str = "sheet") -> list[GridCell]:
    """The 16 cells of a 4x4 expression sheet, row by row, each with a square crop of its face.

    The grid is where the faces are: YuNet finds the faces, their centres form 4 rows and 4
    columns, and the borders lie halfway between them. Every cell must hold exactly one face;
    the crop (``CROP_SCALE`` times the face height, clipped to the cell) leaves the caption out.
    """
    from ganon.backends.identity import yunet_faces

    height, width = image.shape[:2]
    faces = yunet_faces(image, max_side=1200, score_threshold=0.5)
    if len(faces) < GRID * GRID:
        raise ValueError(f"{name}: found {len(faces)} faces, a 4x4 expression sheet needs 16")
    cx, cy = faces[:, 0] + faces[:, 2] / 2, faces[:, 1] + faces[:, 3] / 2
    xs, ys = _grid_lines(cx, width), _grid_lines(cy, height)
    cells = []
    for index in range(GRID * GRID):
        row, col = divmod(index, GRID)
        x0, x1, y0, y1 = xs[col], xs[col + 1], ys[row], ys[row + 1]
        inside = np.flatnonzero((cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1))
        if len(inside) != 1:
            raise ValueError(f"{name}: cell {index} ({EXPRESSIONS[index]}, row {row}, column {col}) holds "
                             f"{len(inside)} faces, expected exactly one")
        face = faces[inside[0]]
        half = CROP_SCALE * face[3] / 2
        centre_x, centre_y = cx[inside[0]], cy[inside[0]]
        fx0, fy0, fx1, fy1 = _inside_frame(image, (x0, y0, x1, y1), face)
        crop = (max(fx0, round(centre_x - half)), max(fy0, round(centre_y - half)),
                min(fx1, round(centre_x + half)), min(fy1, round(centre_y + half)))
        cells.append(GridCell(index, (int(x0), int(y0), int(x1), int(y1)), tuple(int(v) for v in crop),
                              float(face[14])))
    return cells


@lru_cache(maxsize=16)
def _sheet_cells(path: str, mtime_ns: int) -> tuple[GridCell, ...]:
    from ganon.imageio import read_image

    return tuple(cut_expression_sheet(read_image(path).rgb, name=path))


@DATASETS.register("openpeople")
class OpenPeople(DatasetReader):
    """One row per photo and per expression crop of every person under ``root`` (default: the package's).

    Columns: ``path`` (the photo, or the sheet an expression is cut from), ``split`` (seeded, by
    person), ``subject`` (``P001``...), ``kind`` (photo, expression), ``name`` (photo stem or
    expression), ``expression`` and ``label`` (index in ``EXPRESSIONS``; NA for photos), ``crop``
    (x0, y0, x1, y1 inside the sheet; NA for photos), ``sex``, ``age_range``, ``ethnicity``,
    ``Male`` and ``Young`` (0/1).
    """

    name = "openpeople"

    def __init__(self, root: Path | str | None = None, *, kinds: tuple[str, ...] = ("photo", "expression"),
                 seed: int | None = None, val_fraction: float | None = None) -> None:
        super().__init__(openpeople_root() if root is None else root)
        unknown = sorted(set(kinds) - {"photo", "expression"})
        if unknown:
            raise ValueError(f"unknown kinds {unknown}; choose from photo, expression")
        self.kinds = tuple(kinds)
        self.seed = self.manifest.split.seed if seed is None else seed
        self.val_fraction = self.manifest.split.val_fraction if val_fraction is None else val_fraction

    def _person(self, folder: Path) -> dict[str, object]:
        metadata = folder / "metadata.json"
        try:
            details = json.loads(metadata.read_text(encoding="utf-8"))["character_details"]
            demographics = details["demographics"]
            sex, age_range = str(demographics["sex"]).lower(), str(demographics["age_range"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise self.layout_error(f"{metadata}: unreadable or without sex/age_range ({error})") from None
        if sex not in ("male", "female"):
            raise self.layout_error(f"{metadata}: sex must be male or female, got {sex!r}")
        try:
            young = young_from_age_range(age_range)
        except ValueError as error:
            raise self.layout_error(f"{metadata}: {error}") from None
        return {"sex": sex, "age_range": age_range, "ethnicity": demographics.get("ethnicity", ""),
                "Male": int(sex == "male"), "Young": young}

    def _read(self) -> pd.DataFrame:
        people = sorted(p for p in self.root.iterdir() if p.is_dir() and (p / "metadata.json").is_file())
        if not people:
            raise self.layout_error(f"no person folders with metadata.json under {self.root}")
        rows = []
        for folder in people:
            person = self._person(folder)
            if "photo" in self.kinds:
                for stem in PHOTOS:
                    path = self.find(f"{folder.name}/assets/{stem}.jpg")
                    rows.append({"path": str(path), "subject": folder.name, "kind": "photo", "name": stem,
                                 "expression": pd.NA, "label": pd.NA, "crop": pd.NA, **person})
            if "expression" in self.kinds:
                sheet = self.find(f"{folder.name}/assets/{SHEET}.jpg")
                try:
                    cells = _sheet_cells(str(sheet), sheet.stat().st_mtime_ns)
                except (OSError, ValueError) as error:
                    raise self.layout_error(str(error)) from None
                for cell in cells:
                    expression = EXPRESSIONS[cell.index]
                    rows.append({"path": str(sheet), "subject": folder.name, "kind": "expression",
                                 "name": f"{cell.index:02d}_{expression}", "expression": expression,
                                 "label": cell.index, "crop": cell.crop, **person})
        frame = pd.DataFrame(rows)
        frame["label"] = frame["label"].astype("Int64")
        frame["split"] = subject_disjoint_split(frame["subject"], val_fraction=self.val_fraction,
                                                seed=self.seed)
        frame.attrs["split_seed"] = self.seed
        return frame

    def materialize(self, out: Path | str, *, frame: pd.DataFrame | None = None, max_side: int | None = 1024,
                    overwrite: bool = False) -> pd.DataFrame:
        """Write each row as ``<out>/<subject>/<name>.png`` (expressions cut out); adds ``file``.

        Photos are shrunk to ``max_side`` pixels on their longer side (None keeps them at 1.5-2.8K).
        Existing files are kept unless ``overwrite`` (the tree is a cache of the package's pictures).
        """
        import cv2

        from ganon.imageio import read_image, write_image

        frame = self.read() if frame is None else frame.copy()
        out = Path(out)
        files, loaded = [], {}
        for row in frame.itertuples(index=False):
            target = out / str(row.subject) / f"{row.name}.png"
            files.append(str(target))
            if target.is_file() and not overwrite:
                continue
            if row.path not in loaded:
                loaded = {row.path: read_image(row.path).rgb}  # rows of one sheet are adjacent
            image = loaded[row.path]
            if row.kind == "expression":
                x0, y0, x1, y1 = row.crop
                image = image[y0:y1, x0:x1]
            elif max_side and max(image.shape[:2]) > max_side:
                scale = max_side / max(image.shape[:2])
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_image(target, np.ascontiguousarray(image), overwrite=overwrite)
        frame["file"] = files
        logger.info("openpeople: %d images in %s", len(frame), out)
        return frame
