"""AffectNet (Mollahosseini et al. 2019): the 8 expression classes, official train and validation sets.

Two layouts are read. Layout A (the ``train_set/`` + ``val_set/`` release) keeps one
``annotations/<id>_exp.npy`` per image; layout B (the original release) lists everything in
``Manually_Annotated_file_lists/{training,validation}.csv``. Codes 8-10 (None, Uncertain,
Non-Face) are not expressions and are dropped.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ganon.data.datasets.base import DATASETS, DatasetReader
from ganon.imageio import IMAGE_SUFFIXES

logger = logging.getLogger(__name__)

SPLIT_DIRS = {"train": "train_set", "val": "val_set"}
CSV_FILES = {"train": "Manually_Annotated_file_lists/training.csv",
             "val": "Manually_Annotated_file_lists/validation.csv"}
CSV_IMAGES = "Manually_Annotated_Images"
CSV_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
               "expression", "valence", "arousal")


def _scalar(path: Path) -> float:
    """The single value of an annotation ``.npy`` (stored as a string or a number)."""
    value = np.load(path, allow_pickle=False)
    return float(np.asarray(value).reshape(-1)[0])


@DATASETS.register("affectnet")
class AffectNet(DatasetReader):
    """One row per image: ``path``, ``split``, ``label``, ``label_name``, ``valence``, ``arousal``."""

    name = "affectnet"

    def __init__(self, root: Path | str, *, layout: Literal["auto", "npy", "csv"] = "auto",
                 valence_arousal: bool = True, progress: bool = True) -> None:
        super().__init__(root)
        self.layout = layout
        self.valence_arousal = valence_arousal
        self.progress = progress

    def detect_layout(self) -> str:
        if self.layout != "auto":
            return self.layout
        if (self.root / SPLIT_DIRS["train"]).is_dir():
            return "npy"
        if (self.root / CSV_FILES["train"]).is_file() or (self.root / CSV_IMAGES).is_dir():
            return "csv"
        raise self.layout_error(
            f"found neither {self.root / SPLIT_DIRS['train']} (layout A) nor {self.root / CSV_FILES['train']} (layout B)"
        )

    def _read(self) -> pd.DataFrame:
        parts = [self._read_npy(s) if self.detect_layout() == "npy" else self._read_csv(s) for s in SPLIT_DIRS]
        frame = pd.concat(parts, ignore_index=True)
        excluded = ~frame["expression_code"].isin([int(c) for c in self.manifest.label_codes])
        if excluded.any():
            known = {int(k) for k in self.manifest.annotations.get("expression_excluded", {})}
            strange = sorted(set(frame.loc[excluded, "expression_code"]) - known)
            if strange:
                raise self.layout_error(f"unknown expression codes {strange}; expected 0..10")
            logger.info("affectnet: dropped %d images coded None/Uncertain/Non-Face", int(excluded.sum()))
            frame = frame.loc[~excluded].reset_index(drop=True)
        frame = self.with_labels(frame, frame["expression_code"].astype(str))
        frame["subject"] = pd.NA
        return frame

    def _read_npy(self, split: str) -> pd.DataFrame:
        base = SPLIT_DIRS[split]
        images = self.find(f"{base}/images", kind="dir")
        annotations = self.find(f"{base}/annotations", kind="dir")
        by_id = {}
        with os.scandir(images) as entries:
            for entry in entries:
                stem, suffix = os.path.splitext(entry.name)
                if suffix.lower() in IMAGE_SUFFIXES:
                    by_id[stem] = entry.path
        label_files = sorted(annotations.glob("*_exp.npy"))
        if not label_files:
            raise self.layout_error(f"no <id>_exp.npy files in {annotations}")
        rows, orphans = [], []
        for label_file in tqdm(label_files, desc=f"affectnet {split}", disable=not self.progress, leave=False):
            image_id = label_file.name[: -len("_exp.npy")]
            if image_id not in by_id:
                orphans.append(label_file.name)
                continue
            try:
                code = _scalar(label_file)
            except (ValueError, OSError) as error:
                raise self.layout_error(f"{label_file}: not a readable expression code ({error})") from None
            row = {"path": by_id[image_id], "image_id": image_id, "split": split, "expression_code": int(code)}
            if self.valence_arousal:
                for column, suffix in (("valence", "_val.npy"), ("arousal", "_aro.npy")):
                    extra = annotations / f"{image_id}{suffix}"
                    row[column] = _scalar(extra) if extra.is_file() else np.nan
            rows.append(row)
        if orphans:
            raise self.layout_error(f"{len(orphans)} annotations in {annotations} have no image in {images}, "
                                    f"e.g. {orphans[0]}")
        return pd.DataFrame(rows)

    def _read_csv(self, split: str) -> pd.DataFrame:
        listing = self.find(CSV_FILES[split])
        images = self.find(CSV_IMAGES, kind="dir")
        with open(listing, newline="", encoding="utf-8") as handle:
            first = next(csv.reader(handle), [])
        has_header = bool(first) and first[0] == CSV_COLUMNS[0]
        try:
            table = pd.read_csv(listing, header=0 if has_header else None, names=None if has_header else CSV_COLUMNS,
                                dtype={"subDirectory_filePath": str})
        except (ValueError, pd.errors.ParserError) as error:
            raise self.layout_error(f"{listing}: not the AffectNet CSV format ({error})") from None
        absent = [c for c in ("subDirectory_filePath", "expression") if c not in table.columns]
        if absent:
            raise self.layout_error(f"{listing}: missing columns {absent}; expected {list(CSV_COLUMNS)}")
        frame = pd.DataFrame({
            "path": [str(images / p) for p in table["subDirectory_filePath"]],
            "image_id": table["subDirectory_filePath"].astype(str),
            "split": split,
            "expression_code": table["expression"].astype(int),
        })
        absent_images = [p for p in frame["path"] if not os.path.isfile(p)]
        if absent_images:
            raise self.layout_error(f"{len(absent_images)} images listed in {listing} are missing, "
                                    f"e.g. {absent_images[0]}")
        for column in ("valence", "arousal", "face_x", "face_y", "face_width", "face_height"):
            if column in table.columns and (self.valence_arousal or column.startswith("face")):
                frame[column] = table[column].to_numpy()
        return frame
