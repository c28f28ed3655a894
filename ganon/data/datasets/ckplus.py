"""CK+ (Lucey et al. 2010): the peak frame of each of the 327 emotion-labelled sequences."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganon.data.datasets.base import DATASETS, DatasetReader
from ganon.data.datasets.splits import subject_disjoint_split

IMAGE_DIRS = ("cohn-kanade-images", "extended-cohn-kanade-images/cohn-kanade-images", "CK+/cohn-kanade-images")
EMOTION_DIRS = ("Emotion", "Emotion_labels/Emotion", "CK+/Emotion")
LABEL_SUFFIX = "_emotion.txt"


@DATASETS.register("ckplus")
class CKPlus(DatasetReader):
    """Reads ``cohn-kanade-images/`` and ``Emotion/``; label = official code - 1 (anger .. surprise).

    The split is seeded and subject-disjoint (``seed`` and ``val_fraction`` default to the manifest's).
    """

    name = "ckplus"

    def __init__(self, root: Path | str, *, seed: int | None = None, val_fraction: float | None = None) -> None:
        super().__init__(root)
        self.seed = self.manifest.split.seed if seed is None else seed
        self.val_fraction = self.manifest.split.val_fraction if val_fraction is None else val_fraction

    def _read(self) -> pd.DataFrame:
        images = self.find(*IMAGE_DIRS, kind="dir")
        emotion = self.find(*EMOTION_DIRS, kind="dir")
        label_files = sorted(emotion.glob(f"*/*/*{LABEL_SUFFIX}"))
        if not label_files:
            raise self.layout_error(f"no label files <subject>/<sequence>/*{LABEL_SUFFIX} under {emotion}")
        rows = []
        for label_file in label_files:
            subject, sequence = label_file.parent.parent.name, label_file.parent.name
            frame_name = label_file.name[: -len(LABEL_SUFFIX)]
            image = images / subject / sequence / f"{frame_name}.png"
            if not image.is_file():
                raise self.layout_error(f"label file {label_file} has no image {image}")
            text = label_file.read_text(encoding="ascii", errors="replace").strip()
            try:
                code = float(text)
            except ValueError:
                raise self.layout_error(f"{label_file}: expected one number, found {text!r}") from None
            if code != int(code):
                raise self.layout_error(f"{label_file}: label {text!r} is not a whole number")
            frames = sorted(image.parent.glob("*.png"))
            rows.append({
                "path": str(image),
                "subject": subject,
                "sequence": f"{subject}_{sequence}",
                "frame": int(frame_name.rsplit("_", 1)[-1]),
                "n_frames": len(frames),
                "label_code": int(code),
            })
        frame = pd.DataFrame(rows)
        frame = self.with_labels(frame, [str(c) for c in frame["label_code"]])
        frame["split"] = subject_disjoint_split(frame["subject"], val_fraction=self.val_fraction, seed=self.seed)
        frame.attrs["split_seed"] = self.seed
        frame.attrs["val_fraction"] = self.val_fraction
        return frame
