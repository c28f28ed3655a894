"""WIDER FACE (Yang et al. 2016): images by event, with boxes and attributes from the official gt files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ganon.data.datasets.base import DATASETS, DatasetReader

GT_FILES = {
    "train": "wider_face_split/wider_face_train_bbx_gt.txt",
    "val": "wider_face_split/wider_face_val_bbx_gt.txt",
}
TEST_LIST = "wider_face_split/wider_face_test_filelist.txt"
IMAGE_DIRS = {"train": "WIDER_train/images", "val": "WIDER_val/images", "test": "WIDER_test/images"}
#: The ten integers of a box line, in the file's order.
BOX_FIELDS = ("x", "y", "w", "h", "blur", "expression", "illumination", "invalid", "occlusion", "pose")
ATTRIBUTES = BOX_FIELDS[4:]


class WiderGtError(ValueError):
    """A line of a ``wider_face_*_bbx_gt.txt`` file does not fit the format."""


def parse_wider_gt(path: Path | str) -> list[tuple[str, np.ndarray]]:
    """``[(relative image path, int32 array (N, 10))]`` from a WIDER FACE gt file.

    An image without faces is written as a count of 0 followed by one line of ten zeros; it gets an
    empty (0, 10) array.
    """
    path = Path(path)
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    out: list[tuple[str, np.ndarray]] = []
    i = 0
    while i < len(lines):
        name = lines[i]
        if not name:
            i += 1
            continue
        if not name.lower().endswith(".jpg"):
            raise WiderGtError(f"{path}:{i + 1}: expected an image path, found {name!r}")
        try:
            count = int(lines[i + 1])
        except (IndexError, ValueError):
            raise WiderGtError(f"{path}:{i + 2}: expected the number of faces of {name}") from None
        body = lines[i + 2 : i + 2 + max(count, 1)]
        if len(body) < max(count, 1):
            raise WiderGtError(f"{path}: {name} announces {count} faces but the file ends")
        boxes = []
        for offset, line in enumerate(body):
            fields = line.split()
            if len(fields) < len(BOX_FIELDS):
                raise WiderGtError(f"{path}:{i + 3 + offset}: a box line needs {len(BOX_FIELDS)} integers, found {line!r}")
            try:
                boxes.append([int(v) for v in fields[: len(BOX_FIELDS)]])
            except ValueError:
                raise WiderGtError(f"{path}:{i + 3 + offset}: not integers: {line!r}") from None
        array = np.asarray(boxes, dtype=np.int32).reshape(-1, len(BOX_FIELDS))
        out.append((name, array if count > 0 else array[:0]))
        i += 2 + max(count, 1)
    return out


@DATASETS.register("wider-face")
class WiderFace(DatasetReader):
    """One row per image: ``path``, ``split``, ``event``, ``event_id``, ``n_faces``, ``boxes`` (N, 4)
    float32 x1, y1, w, h, and one (N,) int8 array per attribute (blur ... pose). ``test`` has no boxes."""

    name = "wider-face"

    def __init__(self, root: Path | str, *, splits: Sequence[str] = ("train", "val"),
                 check_images: bool = True) -> None:
        super().__init__(root)
        unknown = set(splits) - set(IMAGE_DIRS)
        if unknown:
            raise ValueError(f"unknown WIDER FACE splits {sorted(unknown)}; choose from {sorted(IMAGE_DIRS)}")
        self.splits = tuple(splits)
        self.check_images = check_images

    def _read(self) -> pd.DataFrame:
        rows = []
        for split in self.splits:
            images = self.find(IMAGE_DIRS[split], kind="dir")
            if split == "test":
                listing = self.find(TEST_LIST)
                entries = [(line.strip(), None) for line in listing.read_text().splitlines() if line.strip()]
            else:
                gt = self.find(GT_FILES[split])
                try:
                    entries = parse_wider_gt(gt)
                except WiderGtError as error:
                    raise self.layout_error(str(error)) from None
            for name, boxes in entries:
                image = images / name
                if self.check_images and not image.is_file():
                    raise self.layout_error(f"{name} is listed for {split} but {image} does not exist")
                event = name.split("/", 1)[0]
                row = {
                    "path": str(image),
                    "split": split,
                    "subject": pd.NA,
                    "event": event,
                    "event_id": int(event.split("--", 1)[0]) if "--" in event else -1,
                    "n_faces": -1 if boxes is None else len(boxes),
                    "boxes": np.zeros((0, 4), np.float32) if boxes is None else boxes[:, :4].astype(np.float32),
                }
                for k, field in enumerate(ATTRIBUTES, start=4):
                    row[field] = np.zeros(0, np.int8) if boxes is None else boxes[:, k].astype(np.int8)
                rows.append(row)
        return pd.DataFrame(rows)

    @staticmethod
    def faces(frame: pd.DataFrame) -> pd.DataFrame:
        """One row per annotated face (``face_index``, ``x``, ``y``, ``w``, ``h`` and the attributes)."""
        records = []
        for row in frame.itertuples(index=False):
            for j in range(max(row.n_faces, 0)):
                record = {"path": row.path, "split": row.split, "event": row.event, "face_index": j}
                record.update(zip(("x", "y", "w", "h"), row.boxes[j].tolist()))
                record.update({field: int(getattr(row, field)[j]) for field in ATTRIBUTES})
                records.append(record)
        return pd.DataFrame(records, columns=["path", "split", "event", "face_index", *BOX_FIELDS])
