"""Every intermediate picture of the method on one photo, in the order the data flows (3.1 -> 3.4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganon.imageio import write_image
from ganon.pipeline.anonymize import Anonymizer
from ganon.pipeline.segment import Segmenter, apply_mask

#: File name of each stage, numbered in pipeline order.
STAGE_NAMES = ("1_aligned", "2_head_mask", "3_segmented", "4_landmarks", "5_synthesized")


def face_stage_images(anonymizer: Anonymizer, segmenter: Segmenter, image: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Per detected face, the stage pictures named in ``STAGE_NAMES`` (missing stages left out)."""
    faces = []
    for stage in anonymizer.stages(image):
        mask = segmenter(stage.aligned.image, stage.landmarks)
        pictures = {
            "1_aligned": stage.aligned.image,
            "2_head_mask": np.repeat((mask[..., None] * 255).round().astype(np.uint8), 3, axis=2),
            "3_segmented": apply_mask(stage.aligned.image, mask),
        }
        if stage.canvas is not None:
            pictures["4_landmarks"] = stage.canvas
        if stage.synthesized is not None:
            pictures["5_synthesized"] = stage.synthesized
        faces.append(pictures)
    return faces


def write_stages(anonymizer: Anonymizer, segmenter: Segmenter, image: np.ndarray, folder: Path, *,
                 overwrite: bool = False) -> list[Path]:
    """Write ``face<i>_<stage>.png`` for every face plus ``composite.png``; return the paths."""
    folder = Path(folder)
    written = []
    for index, pictures in enumerate(face_stage_images(anonymizer, segmenter, image)):
        for name, picture in pictures.items():
            written.append(write_image(folder / f"face{index:02d}_{name}.png", picture, overwrite=overwrite))
    composite = anonymizer.with_config(mode="composite")(image).composite
    written.append(write_image(folder / "composite.png", composite, overwrite=overwrite))
    return written
