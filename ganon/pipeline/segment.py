"""Section 3.2, head segmentation: keep face and hair, set everything else to 0.

The paper uses a head-segmentation U-Net (``head-unet``, weights through ``data_manifests``). The
offline default ``mediapipe-head`` combines MediaPipe's bundled selfie (person) segmentation with the
face mesh: the person mask, cut below the chin so neck and shoulders go, united with the filled face
outline so the face itself is never lost.
"""

from __future__ import annotations

import threading
from typing import Protocol

import cv2
import numpy as np

from ganon.backends.errors import BackendUnavailableError
from ganon.pipeline.landmarks import CHIN, FACE_OVAL
from ganon.registry import Registry
from ganon.types import Landmarks


class Segmenter(Protocol):
    """Head mask (float32 in [0, 1]) of an aligned face canvas."""

    name: str

    def __call__(self, image: np.ndarray, landmarks: Landmarks | None = None) -> np.ndarray: ...


SEGMENTERS: Registry = Registry("segmenter")


def build_segmenter(name: str, **options: object) -> Segmenter:
    return SEGMENTERS.get(name)(**options)


def face_outline_mask(landmarks: Landmarks, size: int | None = None) -> np.ndarray:
    """Filled polygon of the face-mesh outline (forehead to chin), float32 0/1."""
    size = size or landmarks.canvas_size
    scale = size / landmarks.canvas_size
    polygon = np.round(landmarks.xy[list(FACE_OVAL)] * scale).astype(np.int32)
    mask = np.zeros((size, size), dtype=np.uint8)
    cv2.fillPoly(mask, [polygon], 1)
    return mask.astype(np.float32)


def apply_mask(image: np.ndarray, mask: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
    """Zero every pixel outside the mask, as the paper does before training."""
    return np.where((mask >= threshold)[..., None], image, 0).astype(np.uint8)


@SEGMENTERS.register("mediapipe-head")
class MediaPipeHead:
    """Person mask from MediaPipe selfie segmentation, cut below the chin, plus the face outline."""

    name = "mediapipe-head"

    def __init__(self, *, chin_margin: float = 0.03, model_selection: int = 0) -> None:
        import mediapipe as mp

        self._model = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=model_selection)
        self._lock = threading.Lock()
        self.chin_margin = chin_margin

    def person_mask(self, image: np.ndarray) -> np.ndarray:
        with self._lock:
            result = self._model.process(np.ascontiguousarray(image))
        return np.clip(result.segmentation_mask.astype(np.float32), 0.0, 1.0)

    def __call__(self, image: np.ndarray, landmarks: Landmarks | None = None) -> np.ndarray:
        mask = self.person_mask(image)
        if landmarks is None:
            return mask
        size = image.shape[0]
        # The canvas is upright (eyes level), so "below the chin" is simply rows below it.
        chin_row = int(np.ceil(landmarks.xy[CHIN, 1] + self.chin_margin * size))
        mask[max(0, chin_row):] = 0.0
        return np.maximum(mask, face_outline_mask(landmarks, size))


@SEGMENTERS.register("head-unet")
class HeadUNet:
    """The paper's head-segmentation U-Net (wiktorlazarski/head-segmentation), weights via data_manifests.

    The package and its weights cannot be installed offline; this backend loads them when present.
    """

    name = "head-unet"

    def __init__(self, *, device: str = "cpu") -> None:
        try:
            import head_segmentation.segmentation_pipeline as seg_pipeline  # type: ignore[import-not-found]
        except ImportError as error:
            raise BackendUnavailableError(
                "segmenter", self.name, "package head-segmentation and its weights",
                "see data_manifests/weights/head-unet.yaml and book/running.md; the offline default is "
                "'mediapipe-head'") from error
        self._pipeline = seg_pipeline.HumanHeadSegmentationPipeline(device=device)

    def __call__(self, image: np.ndarray, landmarks: Landmarks | None = None) -> np.ndarray:
        return (self._pipeline.predict(image) > 0).astype(np.float32)
