"""Section 3.1, face extraction: detect -> align by the eye line -> crop -> resize -> zero-pad.

The paper crops each detected box, rotates it so the eyes are level, scales the longer side to 512
(Lanczos) and centres it on a black 512x512 canvas. Here those steps are one affine map from the
photo to the canvas, so the exact inverse is known and a synthesized face can be put back.
Difference from the authors' code (which rotates the already-cropped box and leaves black corners):
we sample the rotated box from the photo, so the corners hold real pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ganon.backends.detectors import Detector
from ganon.config import renamed_keywords
from ganon.types import AlignedFace, Detection


@renamed_keywords(size="resolution")
@dataclass(frozen=True)
class AlignConfig:
    """How a detection becomes a square canvas of ``resolution`` pixels; ``paper()`` is Section 3.1."""

    resolution: int = 512
    margin: float = 0.0  # extra context around the box, as a fraction of its longer side
    rotate: bool = True

    def __post_init__(self) -> None:
        if self.resolution < 16:
            raise ValueError(f"AlignConfig.resolution must be at least 16 pixels, got {self.resolution}")
        if self.margin < 0:
            raise ValueError(f"AlignConfig.margin must be >= 0, got {self.margin}")

    @classmethod
    def paper(cls) -> "AlignConfig":
        return cls(resolution=512, margin=0.0, rotate=True)


def eye_angle(detection: Detection) -> float:
    """Angle of the line from the image-left eye to the image-right eye, in degrees."""
    (lx, ly), (rx, ry) = detection.points[0], detection.points[1]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def alignment_matrix(detection: Detection, config: AlignConfig) -> tuple[np.ndarray, tuple[float, float]]:
    """The 2x3 source->canvas affine and the (width, height) of the box's footprint on the canvas."""
    x1, y1, x2, y2 = (float(v) for v in detection.box)
    w, h = x2 - x1, y2 - y1
    grow = config.margin * max(w, h)
    w, h = w + 2 * grow, h + 2 * grow
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    scale = config.resolution / max(w, h)
    angle = eye_angle(detection) if config.rotate else 0.0
    # cv2's angle is counter-clockwise in image coordinates; rotating by the eye angle levels the eyes.
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[:, 2] += np.array([config.resolution / 2 - cx, config.resolution / 2 - cy])
    return matrix, (w * scale, h * scale)


def _valid_region(size: int, footprint: tuple[float, float]) -> np.ndarray:
    fw, fh = footprint
    x0, x1 = round((size - fw) / 2), round((size + fw) / 2)
    y0, y1 = round((size - fh) / 2), round((size + fh) / 2)
    valid = np.zeros((size, size), dtype=bool)
    valid[max(0, y0):min(size, y1), max(0, x0):min(size, x1)] = True
    return valid


def _crop_to_canvas(image: np.ndarray, matrix: np.ndarray, size: int, *, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` that the canvas sees (plus ``margin``), and the affine from that part,
    so that a large photo is not shrunk whole for every face."""
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    source = cv2.transform(corners[None], cv2.invertAffineTransform(matrix))[0]
    height, width = image.shape[:2]
    x0, y0 = (max(0, int(math.floor(v)) - margin) for v in source.min(axis=0))
    x1, y1 = (int(math.ceil(v)) + margin for v in source.max(axis=0))
    x1, y1 = min(width, x1), min(height, y1)
    if x1 <= x0 or y1 <= y0:
        return image, matrix
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ np.array([x0, y0], dtype=np.float64)
    return image[y0:y1, x0:x1], shifted


def warp_to_canvas(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp ``image`` with a source->canvas affine; anti-aliased when it shrinks, Lanczos otherwise."""
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale < 0.5:
        image, matrix = _crop_to_canvas(image, matrix, size, margin=int(math.ceil(8 / scale)))
        # Lanczos in warpAffine does not low-pass: shrink by area first, then warp the rest.
        factor = 2 * scale  # leaves a residual scale of 0.5..1 for the warp
        small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        pre = np.diag([factor, factor, 1.0])
        matrix = matrix @ np.linalg.inv(pre)
        image = small
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LANCZOS4,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def align_face(image: np.ndarray, detection: Detection, config: AlignConfig = AlignConfig()) -> AlignedFace:
    """Crop one detected face upright onto a black ``config.resolution`` square canvas."""
    matrix, footprint = alignment_matrix(detection, config)
    canvas = warp_to_canvas(image, matrix, config.resolution)
    valid = _valid_region(config.resolution, footprint)
    canvas[~valid] = 0  # the paper's zero padding beside the box
    return AlignedFace(image=canvas, matrix=matrix, detection=detection,
                       source_size=(int(image.shape[0]), int(image.shape[1])), valid=valid)


def extract_faces(image: np.ndarray, detector: Detector, config: AlignConfig = AlignConfig()) -> list[AlignedFace]:
    """Every face in ``image``, aligned, in detection order (highest score first)."""
    return [align_face(image, det, config) for det in detector.detect(image)]
