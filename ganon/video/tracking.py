"""Face tracks across video frames: detections are linked by optimal assignment (Hungarian method).

The cost of pairing a track with a detection mixes box overlap (1 - IoU) and the mean distance of
the five RetinaFace points, normalised by the box diagonal; tracks move with a constant-velocity
prediction. A track the detector misses survives ``max_misses`` frames at its predicted position,
so a face lost for a frame or two is still anonymized there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ganon.types import Detection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerConfig:
    """Gating and lifetime of tracks."""

    max_misses: int = 5  # frames a track lives on at its predicted box without a detection
    min_iou: float = 0.1  # a pair must overlap at least this much, or ...
    max_point_distance: float = 0.5  # ... have points this close (fraction of the box diagonal)
    point_weight: float = 1.0  # weight of the point distance beside 1 - IoU
    velocity_smoothing: float = 0.5  # new velocity = s * old + (1 - s) * last displacement


@dataclass
class Track:
    """One face followed through the video; ``box`` and ``points`` are its latest (or predicted) state."""

    id: int
    box: np.ndarray
    points: np.ndarray
    score: float
    first_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    misses: int = 0
    hits: int = 1
    seen_centre: np.ndarray | None = None

    def predicted(self) -> tuple[np.ndarray, np.ndarray]:
        """Box and points moved by one frame of velocity."""
        shift = np.tile(self.velocity, 2)
        return self.box + shift, self.points + self.velocity

    def detection(self) -> Detection:
        """The track's current state as a Detection (used where the detector missed the face)."""
        return Detection(box=self.box.astype(np.float32), points=self.points.astype(np.float32), score=self.score)


@dataclass(frozen=True)
class TrackedFace:
    """A face in one frame: its track, the detection used, and whether the detector actually found it."""

    track_id: int
    detection: Detection
    detected: bool
    new: bool  # the track's first frame


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4)."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


class FaceTracker:
    """Feed it each frame's detections with ``update``; it returns every live face with a stable id."""

    def __init__(self, config: TrackerConfig = TrackerConfig()) -> None:
        self.config = config
        self.tracks: list[Track] = []
        self.frame = -1
        self._next_id = 0

    @property
    def total_tracks(self) -> int:
        return self._next_id

    def cost_matrix(self, detections: list[Detection]) -> np.ndarray:
        """Pairing cost of each live track (rows) with each detection (columns); inf where gated out."""
        if not self.tracks or not detections:
            return np.zeros((len(self.tracks), len(detections)))
        predicted = [t.predicted() for t in self.tracks]
        boxes = np.stack([p[0] for p in predicted])
        points = np.stack([p[1] for p in predicted])
        det_boxes = np.stack([d.box for d in detections]).astype(np.float64)
        det_points = np.stack([d.points for d in detections]).astype(np.float64)
        iou = iou_matrix(boxes, det_boxes)
        diagonal = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None]
        distance = np.linalg.norm(points[:, None] - det_points[None], axis=-1).mean(-1) / np.maximum(diagonal, 1e-9)
        cost = (1.0 - iou) + self.config.point_weight * distance
        allowed = (iou >= self.config.min_iou) | (distance <= self.config.max_point_distance)
        return np.where(allowed, cost, np.inf)

    def update(self, detections: list[Detection]) -> list[TrackedFace]:
        """Advance one frame: match, update matched tracks, coast missed ones, open new ones."""
        self.frame += 1
        cost = self.cost_matrix(detections)
        matched: dict[int, int] = {}
        if cost.size:
            finite = np.where(np.isfinite(cost), cost, 1e6)
            for row, col in zip(*linear_sum_assignment(finite)):
                if np.isfinite(cost[row, col]):
                    matched[row] = col
        faces: list[TrackedFace] = []
        survivors: list[Track] = []
        for row, track in enumerate(self.tracks):
            if row in matched:
                det = detections[matched[row]]
                self._correct(track, det)
                faces.append(TrackedFace(track.id, det, detected=True, new=False))
                survivors.append(track)
            elif track.misses < self.config.max_misses:
                track.box, track.points = track.predicted()
                track.misses += 1
                faces.append(TrackedFace(track.id, track.detection(), detected=False, new=False))
                survivors.append(track)
            else:
                logger.debug("track %d ended at frame %d", track.id, self.frame)
        taken = set(matched.values())
        for col, det in enumerate(detections):
            if col in taken:
                continue
            track = Track(id=self._next_id, box=det.box.astype(np.float64), points=det.points.astype(np.float64),
                          score=det.score, first_frame=self.frame)
            self._next_id += 1
            survivors.append(track)
            faces.append(TrackedFace(track.id, det, detected=True, new=True))
        self.tracks = survivors
        return sorted(faces, key=lambda f: f.track_id)

    def _correct(self, track: Track, det: Detection) -> None:
        box = det.box.astype(np.float64)
        # Velocity from the last detected position, not a coasted prediction.
        old_centre = track.seen_centre if track.seen_centre is not None else (track.box[:2] + track.box[2:]) / 2
        new_centre = (box[:2] + box[2:]) / 2
        steps = track.misses + 1
        s = self.config.velocity_smoothing
        track.velocity = s * track.velocity + (1 - s) * (new_centre - old_centre) / steps
        track.box, track.points, track.score = box, det.points.astype(np.float64), det.score
        track.seen_centre = new_centre
        track.misses = 0
        track.hits += 1
