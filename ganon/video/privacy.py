"""Per-track privacy check: a face recognizer compares each track's output face with the real one.

The rule. Every ``every``-th frame of a track (and its first), the recognizer embeds the face box in the
original frame and in the anonymized one. When their distance falls below the recognizer's
same-person threshold plus ``margin``, the track moves one step up a ladder of stronger treatments
and the frames of the current window are made again with it; a track never steps down, so its face
changes at most once per step and stays stable otherwise. The steps push the track's face geometry
beyond the mean face, away from the person (``strengths``: 1 is the mean face, 2 is as far past it as
the person is before it); past the last step the track is obscured (privacy fails closed). The
margin covers the frames between checks and the recognizer's noise: along a track the distance moves
by a few hundredths from frame to frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrivacyGuardConfig:
    """Recognizer, threshold and ladder of the per-track check (see the module's docstring)."""

    recognizer: str = "dlib"  # an ``identity`` backend, compared with the euclidean distance
    threshold: float = 0.6  # the recognizer's same-person distance (dlib's published 0.6)
    margin: float = 0.05  # a track steps up while its face is closer than threshold + margin
    every: int = 3  # frames between checks along a track (1: every frame)
    strengths: tuple[float, ...] = (2.0, 2.5)  # toward_mean_face of the steps above the default
    crop_margin: float = 0.1  # context around the face box in the recognizer's crop, fraction of its size

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"PrivacyGuardConfig.every must be >= 1, got {self.every}")
        if self.margin < 0 or self.threshold <= 0:
            raise ValueError("PrivacyGuardConfig.threshold must be > 0 and margin >= 0")

    @property
    def limit(self) -> float:
        """Distances below this make a track step up."""
        return self.threshold + self.margin


def box_crop(frame: np.ndarray, box: np.ndarray, grow: float) -> np.ndarray | None:
    """The face box of ``frame`` grown by ``grow`` of its longer side, clipped; None when too small."""
    x1, y1, x2, y2 = (float(v) for v in box)
    g = grow * max(x2 - x1, y2 - y1)
    height, width = frame.shape[:2]
    x0, y0 = max(0, int(x1 - g)), max(0, int(y1 - g))
    x3, y3 = min(width, int(np.ceil(x2 + g))), min(height, int(np.ceil(y2 + g)))
    if x3 <= x0 + 4 or y3 <= y0 + 4:
        return None
    return np.ascontiguousarray(frame[y0:y3, x0:x3])


class PrivacyGuard:
    """Distance between the real and the anonymized face in one box, by the configured recognizer.

    The crop is handed to the recognizer as an aligned face (no second detector), so a check costs two
    descriptor runs. Raises ``BackendUnavailableError`` when the recognizer is not installed: a video
    is then not anonymized with the guard on (pass ``guard=None`` in ``VideoConfig`` to go without).
    """

    def __init__(self, config: PrivacyGuardConfig = PrivacyGuardConfig()) -> None:
        from ganon.backends import build

        self.config = config
        self.model = build("identity", config.recognizer, metric="euclidean", assume_aligned=True)

    def distance(self, original: np.ndarray, anonymized: np.ndarray, box: np.ndarray) -> float | None:
        """Recognizer distance between the two frames' faces in ``box``; None when it cannot tell."""
        real = box_crop(original, box, self.config.crop_margin)
        fake = box_crop(anonymized, box, self.config.crop_margin)
        if real is None or fake is None:
            return None
        a, b = self.model.embed(real), self.model.embed(fake)
        if a is None or b is None:
            return None
        return float(self.model.distance(a, b))

    def too_close(self, distance: float | None) -> bool:
        return distance is not None and distance < self.config.limit
