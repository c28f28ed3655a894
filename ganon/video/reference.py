"""A mean face shape (478 normalised face-mesh points) of openpeople's ten synthetic studio portraits.

Used to move a tracked person's face geometry towards an average one, so that the generator paints a
face that resembles the person less while mouth and eyes still move as theirs do. The shape ships as
``mean_face.json`` (so videos need no extra package); ``compute_mean_face_shape`` rebuilds it from
openpeople==0.1.2, and a test checks that the two agree.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from ganon.backends.errors import BackendUnavailableError

logger = logging.getLogger(__name__)

_PORTRAIT_SIDE = 768


def _portraits() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("openpeople")
    if spec is None or spec.origin is None:
        raise BackendUnavailableError("reference-face", "mean-face", "package openpeople",
                                      "pip install openpeople==0.1.2")
    return sorted((Path(spec.origin).parent / "data" / "curated").glob("P*/assets/studio_portrait.jpg"))


MEAN_FACE_FILE = Path(__file__).with_name("mean_face.json")


@lru_cache(maxsize=1)
def mean_face_shape() -> np.ndarray:
    """(478, 2) landmarks on a unit canvas, as shipped in ``mean_face.json``."""
    data = json.loads(MEAN_FACE_FILE.read_text(encoding="utf-8"))
    return np.asarray(data["points"], dtype=np.float64)


def write_mean_face(path: Path = MEAN_FACE_FILE) -> Path:
    """Recompute the mean face from openpeople and write it (with its origin) as JSON."""
    shape = compute_mean_face_shape()
    record = {"origin": "Procrustes mean of the MediaPipe face mesh of openpeople==0.1.2's ten "
                        "data/curated/P*/assets/studio_portrait.jpg, aligned as ganon's Section 3.1 (512 px canvas, "
                        f"portraits shrunk to {_PORTRAIT_SIDE} px), coordinates divided by the canvas size",
              "points": np.round(shape, 6).tolist()}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def compute_mean_face_shape() -> np.ndarray:
    """(478, 2) landmarks on a unit canvas: Procrustes mean of the portraits' aligned face meshes."""
    import cv2

    from ganon.backends import build
    from ganon.backends.face_mesh import FaceMesh
    from ganon.imageio import read_image
    from ganon.pipeline.extract import AlignConfig, extract_faces
    from ganon.video.anonymize import similarity

    detector = build("detector", "retinaface-mobilenet")
    shapes = []
    with FaceMesh() as mesh:
        for path in _portraits():
            image = read_image(path).rgb
            shrink = _PORTRAIT_SIDE / max(image.shape[:2])  # the portraits are 1.5-2.8K px; the face is large
            if shrink < 1:
                image = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
            for face in extract_faces(image, detector, AlignConfig(resolution=512))[:1]:
                marks = mesh(face.image)
                if marks is not None:
                    shapes.append(marks.xy.astype(np.float64) / marks.canvas_size)
    if len(shapes) < 3:
        raise BackendUnavailableError("reference-face", "mean-face", "openpeople's portraits (found "
                                      f"{len(shapes)} faces)", "pip install openpeople==0.1.2")
    mean = shapes[0]
    for _ in range(3):
        aligned = []
        for shape in shapes:
            scale, rotation, shift = similarity(shape, mean)
            aligned.append(scale * shape @ rotation.T + shift)
        mean = np.mean(aligned, axis=0)
    logger.info("mean face from %d portraits", len(shapes))
    return mean
