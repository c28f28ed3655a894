"""The ganon classifier checkpoint (Sections 4.2 and 4.3): one safetensors file, its metadata inside.

The paper trains the same architecture for emotions and for CelebA attributes, so both share this
format (``ganon.classifier`` version 1): the timm ``state_dict`` of ``timm.create_model(architecture,
num_classes=len(classes))``, and under the header metadata key ``"ganon.classifier"`` a JSON object::

    {"format": "ganon.classifier", "version": 1, "architecture": "convnext_base",
     "task": "multiclass" | "multilabel", "classes": ["anger", ...],
     "preprocessing": {"resize": 232, "crop": 224, "interpolation": "bilinear",
                       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
     "info": {...free-form provenance: dataset, split seed, epochs, metrics...}}

Write it with ``save_classifier`` and read it with ``load_classifier``; since the metadata travels in
the weights file, preprocessing and class order cannot drift from the weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "PAPER_PREPROCESSING",
    "ClassifierMetadata",
    "LoadedClassifier",
    "Preprocessing",
    "Task",
    "load_classifier",
    "read_classifier_metadata",
    "save_classifier",
]

CHECKPOINT_FORMAT = "ganon.classifier"
CHECKPOINT_VERSION = 1
_METADATA_KEY = "ganon.classifier"

Task = Literal["multiclass", "multilabel"]


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


def _check_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    return image


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
    """Load a ganon classifier checkpoint; keep the returned object to reuse the network.

    Nothing is cached per process: the caller owns the model. ``task`` guards against using an
    attribute model as an emotion model or the other way round.
    """
    import timm
    from safetensors.torch import load_file

    path = Path(path).resolve()
    metadata = read_classifier_metadata(path)
    if task is not None and metadata.task != task:
        raise ValueError(f"{path}: a {metadata.task} classifier, but a {task} one is needed here")
    model = timm.create_model(metadata.architecture, pretrained=False, num_classes=len(metadata.classes))
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as error:
        raise ValueError(
            f"{path}: weights do not fit {metadata.architecture} with {len(metadata.classes)} classes: "
            f"{error}"
        ) from None
    model = model.eval().to(device)
    return LoadedClassifier(model=model, metadata=metadata, device=device, batch_size=batch_size)
