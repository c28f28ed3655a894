"""Sections 3.1-3.3 as one step shared by training and inference: photo -> faces -> landmark canvases.

``ganon preprocess`` (training pairs) and ``Anonymizer`` (inference) both call ``FacePreparer``, so
the generator sees at inference exactly the canvas it was trained on: each face is aligned onto the
Section 3.1 crop (512 px in the paper), the face mesh runs on that crop, and the landmarks are drawn
at the generator's resolution. Training additionally keeps the masked face at that resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ganon.backends.detectors import Detector
from ganon.backends.face_mesh import FaceMesh
from ganon.pipeline.extract import AlignConfig, align_face
from ganon.pipeline.landmarks import RENDER_STYLES, render_landmarks
from ganon.pipeline.segment import Segmenter, apply_mask
from ganon.types import AlignedFace, Detection, Landmarks

__all__ = ["FacePreparer", "PrepareConfig", "PreparedFace", "resize_square"]


@dataclass(frozen=True)
class PrepareConfig:
    """What turns a photo into generator inputs; ``resolution`` is the generator's side in pixels.

    ``align`` is the Section 3.1 crop on which the face mesh runs. ``detect_padding`` (a fraction of
    the longer image side) looks for faces once more with a black border when none was found:
    crops that fill the frame are then found far more often. ``assume_aligned`` takes the whole
    image, centred on a black square, as the face. ``min_face`` drops detections whose longer box
    side is below that many pixels (0 keeps all).
    """

    resolution: int = 512
    align: AlignConfig = field(default_factory=AlignConfig.paper)
    render_style: str = "authors"
    detect_padding: float = 0.0
    assume_aligned: bool = False
    min_face: int = 0

    def __post_init__(self) -> None:
        if self.resolution < 16:
            raise ValueError(f"PrepareConfig.resolution must be at least 16 pixels, got {self.resolution}")
        if self.render_style not in RENDER_STYLES:
            raise ValueError(f"PrepareConfig.render_style must be one of {', '.join(RENDER_STYLES.names())}, "
                             f"got {self.render_style!r}")
        if not 0.0 <= self.detect_padding <= 2.0:
            raise ValueError(f"PrepareConfig.detect_padding must be in [0, 2], got {self.detect_padding}")
        if self.min_face < 0:
            raise ValueError(f"PrepareConfig.min_face must be >= 0, got {self.min_face}")


@dataclass
class PreparedFace:
    """One face after 3.1-3.3: the aligned crop, its landmarks (None if the mesh found none) and the
    landmark canvas at the generator's resolution (None without landmarks)."""

    aligned: AlignedFace
    landmarks: Landmarks | None
    canvas: np.ndarray | None

    @property
    def score(self) -> float:
        return float(self.aligned.detection.score)


def resize_square(image: np.ndarray, resolution: int) -> np.ndarray:
    """A square image at ``resolution``: area averaging to shrink, Lanczos to enlarge."""
    side = image.shape[0]
    if side == resolution:
        return np.ascontiguousarray(image)
    interpolation = cv2.INTER_AREA if resolution < side else cv2.INTER_LANCZOS4
    return cv2.resize(image, (resolution, resolution), interpolation=interpolation)


class FacePreparer:
    """Detector and face mesh held once; ``__call__`` gives every face of one RGB photo, prepared."""

    def __init__(self, config: PrepareConfig, *, detector: Detector | None, mesh: FaceMesh | None = None,
                 segmenter: Segmenter | None = None) -> None:
        if detector is None and not config.assume_aligned:
            raise ValueError("FacePreparer needs a detector unless config.assume_aligned")
        self.config = config
        self.detector = detector
        self.mesh = mesh if mesh is not None else FaceMesh()
        self.segmenter = segmenter

    def faces(self, image: np.ndarray) -> list[AlignedFace]:
        """Section 3.1: every face of ``image`` aligned onto the crop, in detection order."""
        config = self.config
        if config.assume_aligned:
            return [_whole_image(image, config.align.resolution)]
        assert self.detector is not None
        detections = self.detector.detect(image)
        if not detections and config.detect_padding:
            detections = self._detect_with_border(image)
        faces = [align_face(image, det, config.align) for det in detections]
        if config.min_face:
            faces = [f for f in faces if max(f.detection.width, f.detection.height) >= config.min_face]
        return faces

    def _detect_with_border(self, image: np.ndarray) -> list[Detection]:
        """Detect on a black-bordered copy, then map the detections back to ``image``'s pixels.

        Aligning the original with those detections samples black outside it, exactly as aligning
        the bordered copy would, and keeps every crop's matrix relative to the photo itself.
        """
        assert self.detector is not None
        pad = int(round(self.config.detect_padding * max(image.shape[:2])))
        bordered = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        shift = np.float32(pad)
        return [Detection(box=det.box - shift, points=det.points - shift, score=det.score)
                for det in self.detector.detect(bordered)]

    def prepare(self, face: AlignedFace) -> PreparedFace:
        """Section 3.3 on one aligned face: the mesh on the crop, the canvas at the generator's resolution."""
        marks = self.mesh(face.image)
        canvas = None
        if marks is not None:
            canvas = render_landmarks(marks, size=self.config.resolution, style=self.config.render_style)
        return PreparedFace(aligned=face, landmarks=marks, canvas=canvas)

    def __call__(self, image: np.ndarray) -> list[PreparedFace]:
        return [self.prepare(face) for face in self.faces(image)]

    def training_face(self, prepared: PreparedFace) -> np.ndarray:
        """The generator's target for one face (Section 3.2): the crop masked to the head, at its resolution."""
        face = prepared.aligned.image
        if self.segmenter is not None:
            face = apply_mask(face, self.segmenter(face, prepared.landmarks))
        return resize_square(face, self.config.resolution)


def _whole_image(image: np.ndarray, resolution: int) -> AlignedFace:
    """The whole image centred on a black square crop, as if it had been detected and aligned."""
    h, w = image.shape[:2]
    side = max(h, w)
    x0, y0 = (w - side) / 2, (h - side) / 2
    box = np.array([x0, y0, x0 + side, y0 + side], dtype=np.float32)
    detection = Detection(box=box, points=np.zeros((5, 2), dtype=np.float32), score=math.nan)
    return align_face(image, detection, AlignConfig(resolution=resolution, margin=0.0, rotate=False))
