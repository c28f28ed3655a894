"""Typed values that flow through the pipeline: image -> faces -> masks -> landmarks -> synthesis.

Conventions used everywhere in ``ganon``:
- images are ``numpy.ndarray`` of shape (H, W, 3), dtype uint8, **RGB** order;
- masks are float32 in [0, 1] of shape (H, W);
- points are float32 pixel coordinates (x, y), origin at the top-left pixel's corner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Number of MediaPipe face-mesh points with iris refinement (468 + 10), Section 3.3.
N_LANDMARKS = 478

#: Order of the five RetinaFace points (from the viewer's point of view, "left" is image-left).
FIVE_POINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True)
class Detection:
    """One detected face in source-image coordinates."""

    box: np.ndarray  # (4,) float32: x1, y1, x2, y2
    points: np.ndarray  # (5, 2) float32, FIVE_POINT_NAMES order
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])


@dataclass(frozen=True)
class AlignedFace:
    """A face cropped, rotated upright and centred on a black square canvas (Section 3.1).

    ``matrix`` is the 2x3 affine that maps source-image pixels to canvas pixels; its inverse puts a
    synthesized face back where it came from. ``valid`` marks canvas pixels that came from inside the
    detection box (the rest is the paper's zero padding).
    """

    image: np.ndarray  # (S, S, 3) uint8
    matrix: np.ndarray  # (2, 3) float64, source -> canvas
    detection: Detection
    source_size: tuple[int, int]  # (height, width) of the source image
    valid: np.ndarray = field(repr=False, default=None)  # (S, S) bool

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True)
class Landmarks:
    """478 MediaPipe face-mesh points of one aligned face (Section 3.3), in canvas pixels."""

    points: np.ndarray  # (478, 3) float32: x, y in pixels; z in MediaPipe's relative units
    canvas_size: int

    @property
    def xy(self) -> np.ndarray:
        return self.points[:, :2]
