"""The classical anonymizers of Table 1: pixelation 8x8 and 16x16, Gaussian blur 9x9 and 17x17.

Each baseline is a callable image -> image (RGB uint8, same size), registered by name in
``BASELINES`` so that the evaluation can anonymize a folder with any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from ganon.registry import Registry

__all__ = ["BASELINES", "GaussianBlur", "Pixelate", "build_baseline", "gaussian_blur", "pixelate"]

PixelateMode = Literal["grid", "block"]


def _edges(length: int, count: int) -> np.ndarray:
    """Start index of each of ``count`` nearly equal spans covering ``range(length)``."""
    return np.unique(np.round(np.linspace(0, length, count + 1)[:-1]).astype(np.int64))


def pixelate(image: np.ndarray, *, size: int = 8, mode: PixelateMode = "grid") -> np.ndarray:
    """Replace each cell of the image by its mean colour.

    ``mode="grid"`` (default) divides the image into ``size x size`` cells, whatever its resolution;
    ``mode="block"`` uses square cells of ``size x size`` pixels. The paper's "pixelation with a
    kernel sized 8x8 / 16x16" admits both readings. We default to the grid because only it
    reproduces Table 1's ordering: measured with dlib (euclidean) on aligned 512x512 face crops, the
    grid gives mean distances 0.76 (8x8) > 0.68 (16x16), like the paper's 0.8791 > 0.6651, whereas
    8- and 16-pixel blocks give 0.12 < 0.34 (the opposite order, and hardly any anonymization: at 512
    px an 8-pixel block keeps the face recognisable).
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    height, width = image.shape[:2]
    if mode == "grid":
        rows, cols = _edges(height, size), _edges(width, size)
    elif mode == "block":
        rows, cols = np.arange(0, height, size), np.arange(0, width, size)
    else:
        raise ValueError(f"mode must be 'grid' or 'block', got {mode!r}")
    sums = np.add.reduceat(np.add.reduceat(image.astype(np.float64), rows, axis=0), cols, axis=1)
    row_counts = np.diff(np.append(rows, height))
    col_counts = np.diff(np.append(cols, width))
    counts = np.outer(row_counts, col_counts).reshape(sums.shape[:2] + (1,) * (image.ndim - 2))
    means = sums / counts
    cells = np.clip(np.rint(means), 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(cells, row_counts, axis=0), col_counts, axis=1)


def gaussian_blur(image: np.ndarray, *, kernel: int = 9) -> np.ndarray:
    """OpenCV Gaussian blur with a ``kernel x kernel`` window and sigma derived from it.

    With sigma=0 OpenCV uses ``0.3 * ((kernel - 1) / 2 - 1) + 0.8``: 1.7 for 9x9, 2.9 for 17x17.
    """
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be a positive odd number, got {kernel}")
    return cv2.GaussianBlur(image, (kernel, kernel), 0)


@dataclass(frozen=True)
class Pixelate:
    """Pixelation as a configured callable (see ``pixelate``)."""

    size: int = 8
    mode: PixelateMode = "grid"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return pixelate(image, size=self.size, mode=self.mode)


@dataclass(frozen=True)
class GaussianBlur:
    """Gaussian blur as a configured callable (see ``gaussian_blur``)."""

    kernel: int = 9

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return gaussian_blur(image, kernel=self.kernel)


BASELINES: Registry = Registry("baseline")
BASELINES.register("pixelate-8x8")(Pixelate(size=8))
BASELINES.register("pixelate-16x16")(Pixelate(size=16))
BASELINES.register("blur-9x9")(GaussianBlur(kernel=9))
BASELINES.register("blur-17x17")(GaussianBlur(kernel=17))


def build_baseline(name: str, **options: object) -> Pixelate | GaussianBlur:
    """A registered baseline, optionally changed: ``build_baseline("pixelate-8x8", mode="block")``."""
    preset = BASELINES.get(name)
    return type(preset)(**{**preset.__dict__, **options}) if options else preset
