"""The offline ``samples`` dataset: ganon's sample photos and video frames as a dataset table.

The files come from :func:`ganon.data.samples.ensure_samples`; this reader only lists them. There are
no emotion or attribute labels: the table serves the inference-side evaluations of Section 4.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from ganon.data.datasets.base import DATASETS, DatasetReader
from ganon.data.samples import EXPECTED_FACES
from ganon.imageio import IMAGE_SUFFIXES

#: Which parts of the samples folder become rows, and the ``kind`` each gets.
KINDS = {"photos": "photo", "frames": "frame", "no_face": "no_face"}


@DATASETS.register("samples")
class Samples(DatasetReader):
    """One row per photo, video frame and no-face picture listed in ``manifest.csv``.

    Columns: ``path``, ``relative`` (to the root), ``split`` (always "val"), ``subject`` (the photo's
    stem, ``video:<name>`` for every frame of a video, ``<NA>`` for pictures without a face),
    ``kind`` (photo, frame, no_face), ``video`` and ``expected_faces`` (where a person counted them).
    ``kinds`` selects parts; ``frame_stride`` keeps every n-th frame of each video.
    """

    name = "samples"

    def __init__(
        self,
        root: Path | str,
        *,
        kinds: tuple[str, ...] = ("photo", "frame"),
        frame_stride: int = 1,
    ) -> None:
        super().__init__(root)
        unknown = sorted(set(kinds) - set(KINDS.values()))
        if unknown:
            raise ValueError(f"unknown kinds {unknown}; choose from {sorted(KINDS.values())}")
        if frame_stride < 1:
            raise ValueError(f"frame_stride must be positive, got {frame_stride}")
        self.kinds = tuple(kinds)
        self.frame_stride = frame_stride

    def _read(self) -> pd.DataFrame:
        manifest = self.find("manifest.csv")
        self.find("photos", kind="dir")
        with open(manifest, newline="", encoding="utf-8") as handle:
            listed = [row["path"] for row in csv.DictReader(handle)]
        rows, frame_index = [], {}
        for relative in sorted(listed):
            parts = Path(relative).parts
            kind = KINDS.get(parts[0])
            if kind is None or kind not in self.kinds or Path(relative).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            path = self.root / relative
            if not path.is_file():
                raise self.layout_error(f"{manifest} lists {relative}, which is missing")
            video = parts[1] if kind == "frame" else None
            if video is not None:
                index = frame_index[video] = frame_index.get(video, -1) + 1
                if index % self.frame_stride:
                    continue
            subject = {"photo": Path(relative).stem, "frame": f"video:{video}", "no_face": None}[kind]
            expected = {"no_face": 0, "frame": 1}.get(kind, EXPECTED_FACES.get(relative))
            rows.append({"path": str(path), "relative": relative, "split": "val", "subject": subject,
                         "kind": kind, "video": video, "expected_faces": expected})
        if not rows:
            raise self.layout_error(f"{manifest} lists no images of the kinds {list(self.kinds)}")
        frame = pd.DataFrame(rows)
        frame["expected_faces"] = frame["expected_faces"].astype("Int64")
        frame["video"] = frame["video"].astype("string")
        return frame
