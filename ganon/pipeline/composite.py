"""Putting a synthesized face back into the photo (not in the paper, whose output is the 512 crop).

The synthesized canvas is warped back through the exact inverse of the alignment transform, its
colours are matched to the original face (Reinhard transfer in Lab, inside the face outline), and it
is blended with a feathered mask of the original face outline, so hair, ears and background stay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ganon.types import AlignedFace, Detection


@dataclass(frozen=True)
class BlendConfig:
    """Paste-back settings, as fractions of the canvas size so they do not depend on resolution."""

    feather: float = 0.04  # Gaussian sigma of the mask edge
    erode: float = 0.02  # pull the mask edge inside the face outline before feathering
    color_match: bool = True


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def canvas_to_source(face: AlignedFace, canvas_size: int) -> np.ndarray:
    """3x3 affine from a ``canvas_size`` canvas (e.g. the generator's resolution) to photo pixels."""
    rescale = np.diag([canvas_size / face.size, canvas_size / face.size, 1.0])
    return np.linalg.inv(rescale @ _homogeneous(face.matrix))


def _roi(face: AlignedFace, to_source: np.ndarray, mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask > 0)
    if len(xs) == 0:
        return None
    corners = np.array([[xs.min(), ys.min(), 1], [xs.max() + 1, ys.min(), 1],
                        [xs.min(), ys.max() + 1, 1], [xs.max() + 1, ys.max() + 1, 1]], dtype=np.float64)
    mapped = corners @ to_source.T
    height, width = face.source_size
    x0 = max(0, math.floor(mapped[:, 0].min()) - 2)
    y0 = max(0, math.floor(mapped[:, 1].min()) - 2)
    x1 = min(width, math.ceil(mapped[:, 0].max()) + 2)
    y1 = min(height, math.ceil(mapped[:, 1].max()) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def soft_mask(hard: np.ndarray, config: BlendConfig) -> np.ndarray:
    """Erode then feather a 0/1 mask on its own canvas; 1 well inside, 0 at and beyond the outline."""
    size = hard.shape[0]
    mask = (hard > 0.5).astype(np.uint8)
    radius = max(1, round(config.erode * size))
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    sigma = max(0.5, config.feather * size / 2)
    return np.clip(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma), 0.0, 1.0)


def match_colors(source: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Shift ``source``'s Lab mean and spread to ``target``'s, both measured where ``weight`` > 0.5."""
    inside = weight > 0.5
    if inside.sum() < 16:
        return source
    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mean, s_std = src[inside].mean(0), src[inside].std(0) + 1e-3
    r_mean, r_std = ref[inside].mean(0), ref[inside].std(0) + 1e-3
    out = (src - s_mean) * (r_std / s_std) + r_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def paste_back(photo: np.ndarray, synthesized: np.ndarray, face: AlignedFace, outline: np.ndarray,
               config: BlendConfig = BlendConfig()) -> np.ndarray:
    """Blend one synthesized face (any square resolution) into ``photo`` where ``face`` came from.

    ``outline`` is the 0/1 mask of the region to replace, on the synthesized canvas's grid.
    Returns a new array; ``photo`` is not modified.
    """
    size = synthesized.shape[0]
    if outline.shape[:2] != synthesized.shape[:2]:
        outline = cv2.resize(outline.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    alpha_canvas = soft_mask(outline, config)
    to_source = canvas_to_source(face, size)
    roi = _roi(face, to_source, alpha_canvas)
    result = photo.copy()
    if roi is None:
        return result
    x0, y0, x1, y1 = roi
    shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
    warp = (shift @ to_source)[:2]
    flags = cv2.INTER_LANCZOS4 if abs(np.linalg.det(warp[:, :2])) > 1 else cv2.INTER_AREA
    region = (x1 - x0, y1 - y0)
    face_px = cv2.warpAffine(synthesized, warp, region, flags=flags, borderValue=0)
    alpha = cv2.warpAffine(alpha_canvas, warp, region, flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
    original = result[y0:y1, x0:x1]
    if config.color_match:
        face_px = match_colors(face_px, original, alpha[..., 0])
    blended = alpha * face_px.astype(np.float32) + (1 - alpha) * original.astype(np.float32)
    result[y0:y1, x0:x1] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return result


def obscure_region(photo: np.ndarray, detection: Detection, *, grow: float = 0.25, cells: int = 8) -> np.ndarray:
    """Fail-closed fallback for a face we could not re-synthesize: coarse pixelation plus blur of its box."""
    height, width = photo.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in detection.box)
    g = grow * max(x2 - x1, y2 - y1)
    x0, y0 = max(0, int(x1 - g)), max(0, int(y1 - g))
    x3, y3 = min(width, int(math.ceil(x2 + g))), min(height, int(math.ceil(y2 + g)))
    result = photo.copy()
    if x3 <= x0 or y3 <= y0:
        return result
    box = result[y0:y3, x0:x3]
    small = cv2.resize(box, (cells, cells), interpolation=cv2.INTER_AREA)
    # Blur the mosaic at no more than 64 px and scale it up: a sigma of 0.15 box sides at full size
    # costs up to a second on a large face, for the same smooth 8x8 cells.
    side = max(x3 - x0, y3 - y0)
    factor = min(1.0, 64 / side)
    w, h = max(1, round((x3 - x0) * factor)), max(1, round((y3 - y0) * factor))
    coarse = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    blurred = cv2.GaussianBlur(coarse, (0, 0), max(1.0, 0.15 * side * factor))
    result[y0:y3, x0:x3] = cv2.resize(blurred, (x3 - x0, y3 - y0), interpolation=cv2.INTER_LINEAR)
    return result


def box_change(original: np.ndarray, output: np.ndarray, box: "np.ndarray | tuple[float, ...]", *,
               inner: float = 0.6) -> float:
    """Mean absolute difference (grey levels) between two photos over the central ``inner`` part of
    ``box``: how much of a face's eyes, nose and mouth an output actually changed."""
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * inner / 2, (y1 - y0) * inner / 2
    ys = slice(max(0, int(cy - hh)), max(1, int(math.ceil(cy + hh))))
    xs = slice(max(0, int(cx - hw)), max(1, int(math.ceil(cx + hw))))
    a = original[ys, xs, :3].astype(np.float32)
    b = output[ys, xs, :3].astype(np.float32)
    return float(np.abs(a - b).mean()) if a.size else 0.0
