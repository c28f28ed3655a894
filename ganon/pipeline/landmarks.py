"""Section 3.3, facial landmarks: MediaPipe face mesh -> 478 points -> a landmark canvas.

Two renderings, chosen by name:
- ``authors``: what the published weights were trained on. The authors drew with MediaPipe's
  drawing utility (radius-0 dots), which paints each point as a 5-pixel plus of value 224.
- ``paper``: what Section 3.3 describes, one white pixel (255) per landmark.
Coordinates follow MediaPipe's drawing utility: x*W and y*H floored, points outside the image dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from ganon.registry import Registry
from ganon.types import N_LANDMARKS, Landmarks

logger = logging.getLogger(__name__)


RENDER_STYLES: Registry[Callable[[np.ndarray, int], np.ndarray]] = Registry("landmark rendering")

_PLUS = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]])


def pixel_coordinates(normalized_xy: np.ndarray, size: int) -> np.ndarray:
    """MediaPipe's normalised -> pixel rule: floor(v * size), capped at size-1; rows outside [0, 1] dropped."""
    xy = np.asarray(normalized_xy, dtype=np.float64)
    inside = np.all((xy >= 0) | np.isclose(xy, 0), axis=1) & np.all((xy <= 1) | np.isclose(xy, 1), axis=1)
    px = np.minimum(np.floor(xy[inside] * size), size - 1).astype(np.int64)
    return np.maximum(px, 0)


@RENDER_STYLES.register("authors")
def render_authors(normalized_xy: np.ndarray, size: int) -> np.ndarray:
    """5-pixel plus of value 224 per point, as MediaPipe draws radius-0, thickness-1 dots."""
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    px = pixel_coordinates(normalized_xy, size)
    if len(px):
        spots = (px[:, None, :] + _PLUS[None]).reshape(-1, 2)
        ok = np.all((spots >= 0) & (spots < size), axis=1)
        spots = spots[ok]
        canvas[spots[:, 1], spots[:, 0]] = 224
    return canvas


@RENDER_STYLES.register("paper")
def render_paper(normalized_xy: np.ndarray, size: int) -> np.ndarray:
    """One white pixel per landmark, as the paper's Section 3.3 describes."""
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    px = pixel_coordinates(normalized_xy, size)
    canvas[px[:, 1], px[:, 0]] = 255
    return canvas


def render_landmarks(landmarks: Landmarks, *, size: int | None = None, style: str = "authors") -> np.ndarray:
    """Draw ``landmarks`` on a black ``size`` square (default: the canvas they were found on)."""
    size = size or landmarks.canvas_size
    normalized = landmarks.xy / landmarks.canvas_size
    return RENDER_STYLES.get(style)(normalized, size)


#: Indices of the face-mesh points on the outline of the face (MediaPipe's FACEMESH_FACE_OVAL), in order.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
CHIN = 152
NOSE_TIP = 1
LIPS_INNER = (13, 14)  # upper and lower inner lip, centre
LEFT_EYE_LIDS = (159, 145)  # image-left eye (subject's right): upper and lower lid
RIGHT_EYE_LIDS = (386, 374)
LEFT_EYE_CORNERS = (33, 133)
RIGHT_EYE_CORNERS = (362, 263)


def mouth_opening(landmarks: Landmarks) -> float:
    """Inner-lip gap divided by the inter-ocular distance (scale-free)."""
    xy = landmarks.xy
    gap = np.linalg.norm(xy[LIPS_INNER[0]] - xy[LIPS_INNER[1]])
    return float(gap / _interocular(xy))


def eye_opening(landmarks: Landmarks) -> float:
    """Mean lid gap of both eyes divided by the inter-ocular distance."""
    xy = landmarks.xy
    left = np.linalg.norm(xy[LEFT_EYE_LIDS[0]] - xy[LEFT_EYE_LIDS[1]])
    right = np.linalg.norm(xy[RIGHT_EYE_LIDS[0]] - xy[RIGHT_EYE_LIDS[1]])
    return float((left + right) / 2 / _interocular(xy))


def _interocular(xy: np.ndarray) -> float:
    left = xy[list(LEFT_EYE_CORNERS)].mean(axis=0)
    right = xy[list(RIGHT_EYE_CORNERS)].mean(axis=0)
    return float(np.linalg.norm(left - right)) + 1e-9
