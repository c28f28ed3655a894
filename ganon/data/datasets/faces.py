"""FACES (Ebner et al. 2010): person, age group, gender, expression and picture set from the file name."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from ganon.data.datasets.base import DATASETS, DatasetReader
from ganon.imageio import IMAGE_SUFFIXES
from ganon.data.datasets.splits import subject_disjoint_split

logger = logging.getLogger(__name__)

#: ``004_o_m_a_A.jpg``: person 004, older, male, anger, picture set A.
FILENAME = re.compile(
    r"^(?P<person>\d{3})_(?P<age>[ymo])_(?P<gender>[mf])_(?P<expression>[adfhns])_(?P<set>[AB])\.jpe?g$",
    re.IGNORECASE,
)


def parse_faces_filename(name: str) -> dict[str, str] | None:
    """The five fields of a FACES file name, lower-cased except the picture set; None if it does not fit."""
    match = FILENAME.match(name)
    if match is None:
        return None
    fields = {k: v.lower() for k, v in match.groupdict().items()}
    fields["set"] = fields["set"].upper()
    return fields


@DATASETS.register("faces")
class Faces(DatasetReader):
    """Reads every ``NNN_a_g_e_S.jpg`` under the root (recursively); seeded person-disjoint split."""

    name = "faces"

    def __init__(self, root: Path | str, *, seed: int | None = None, val_fraction: float | None = None) -> None:
        super().__init__(root)
        self.seed = self.manifest.split.seed if seed is None else seed
        self.val_fraction = self.manifest.split.val_fraction if val_fraction is None else val_fraction

    def _read(self) -> pd.DataFrame:
        annotations = self.manifest.annotations
        rows, strangers = [], []
        for path in sorted(self.root.rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                continue
            fields = parse_faces_filename(path.name)
            if fields is None:
                strangers.append(path)
                continue
            rows.append({
                "path": str(path),
                "subject": fields["person"],
                "age_group": annotations["age_group"][fields["age"]],
                "gender": annotations["gender"][fields["gender"]],
                "picture_set": fields["set"],
                "expression_code": fields["expression"],
            })
        if strangers:
            logger.warning("faces: ignored %d JPEG files whose names do not fit NNN_a_g_e_S.jpg, e.g. %s",
                           len(strangers), strangers[0])
        if not rows:
            raise self.layout_error(
                f"no files named like 004_o_m_a_A.jpg under {self.root}"
                + (f" (found {len(strangers)} other JPEGs, e.g. {strangers[0].name})" if strangers else "")
            )
        frame = pd.DataFrame(rows)
        duplicated = frame.duplicated(["subject", "expression_code", "picture_set"], keep=False)
        if duplicated.any():
            raise self.layout_error(f"the same picture appears twice: {sorted(frame.loc[duplicated, 'path'])[:4]}")
        per_person = frame.groupby("subject")[["age_group", "gender"]].nunique()
        inconsistent = per_person[(per_person > 1).any(axis=1)].index.tolist()
        if inconsistent:
            raise self.layout_error(f"persons {inconsistent[:5]} have file names with different age groups or genders")
        frame = self.with_labels(frame, frame["expression_code"])
        frame["split"] = subject_disjoint_split(frame["subject"], val_fraction=self.val_fraction, seed=self.seed)
        frame.attrs["split_seed"] = self.seed
        frame.attrs["val_fraction"] = self.val_fraction
        return frame
