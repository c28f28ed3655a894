"""Temporal measures of an anonymized video against its original (not in the paper, which has no video).

Faces are found and tracked in the original; the same boxes are read in both videos, so that

- flicker: mean absolute change (0-255) between consecutive frames inside a tracked face box,
  anonymized beside original, and their ratio;
- leaked frames: face-frames whose box is nearly unaltered (mean absolute difference to the original
  below ``leak_threshold``; video coding alone changes pixels by about one level);
- identity drift: dlib distance between a track's anonymized faces at consecutive sampled frames
  (the original's own drift beside it), and the distance to the original per sampled frame;
- expression following: Pearson r of mouth and eye opening (face mesh) along each track.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ganon.pipeline.extract import AlignConfig, align_face
from ganon.pipeline.landmarks import eye_opening, mouth_opening
from ganon.types import Detection
from ganon.video.io import VideoReader
from ganon.video.tracking import FaceTracker

logger = logging.getLogger(__name__)

DLIB_SAME_PERSON = 0.6
CLOSEST_KEPT = 5  # sampled face-frames nearest to the original person listed in the report


@dataclass(frozen=True)
class VideoEvalConfig:
    """Sampling and thresholds of ``evaluate_video``."""

    stride: int = 4  # identity is measured on every stride-th frame (dlib is the slow part)
    limit: int | None = None  # frames read (None: all)
    leak_threshold: float = 3.0  # mean absolute difference (0-255) below which a face counts as unaltered
    detector: str = "retinaface-mobilenet"
    crop_margin: float = 0.3  # context around the box for the identity crop, fraction of its size


@dataclass
class VideoEvaluation:
    """The temporal measures of one anonymized video; ``to_dict`` for JSON and tables."""

    frames: int
    tracks: int
    face_frames: int
    flicker_original: float
    flicker_anonymized: float
    flicker_ratio: float
    leaked_frames: int
    leaked: list[int] = field(default_factory=list)  # frame indices with a leaked face
    drift_anonymized: float = float("nan")
    drift_original: float = float("nan")
    distance_min: float = float("nan")
    distance_mean: float = float("nan")
    within_threshold: int = 0  # sampled faces within dlib's 0.6 of the original person
    sampled: int = 0
    closest: list[tuple[int, int, float]] = field(default_factory=list)  # (frame, track, distance), nearest first
    mouth_r: float = float("nan")
    eye_r: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class VideoLengthError(ValueError):
    """The two videos do not have the same number of frames or the same size."""


def _box_region(box: np.ndarray, shape: tuple[int, ...], grow: float = 0.0) -> tuple[int, int, int, int] | None:
    x1, y1, x2, y2 = (float(v) for v in box)
    g = grow * max(x2 - x1, y2 - y1)
    height, width = shape[:2]
    x0, y0 = max(0, int(x1 - g)), max(0, int(y1 - g))
    x3, y3 = min(width, int(np.ceil(x2 + g))), min(height, int(np.ceil(y2 + g)))
    return (x0, y0, x3, y3) if x3 > x0 + 4 and y3 > y0 + 4 else None


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _pearson(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 3 or x.std() < 1e-9 or y.std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


class _Identity:
    """dlib descriptors of a face box: found again by dlib inside a crop, else the box as the chip."""

    def __init__(self, margin: float) -> None:
        from ganon.backends.identity import DlibIdentity

        self.margin = margin
        self.find = DlibIdentity(metric="euclidean")
        self.aligned = DlibIdentity(metric="euclidean", assume_aligned=True)

    def __call__(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        wide = _box_region(box, frame.shape, self.margin)
        tight = _box_region(box, frame.shape)
        if wide is None or tight is None:
            return None
        x0, y0, x1, y1 = wide
        found = self.find.embed(np.ascontiguousarray(frame[y0:y1, x0:x1]))
        if found is not None:
            return found
        x0, y0, x1, y1 = tight
        return self.aligned.embed(np.ascontiguousarray(frame[y0:y1, x0:x1]))


def evaluate_video(original: str | os.PathLike[str], anonymized: str | os.PathLike[str],
                   config: VideoEvalConfig = VideoEvalConfig(), *,
                   progress: Callable[[int], None] | None = None) -> VideoEvaluation:
    """Compare an anonymized video with its original, frame by frame (see the module's docstring)."""
    from ganon.backends import build
    from ganon.backends.face_mesh import FaceMesh

    first, second = VideoReader(original), VideoReader(anonymized)
    a, b = first.info, second.info
    if (a.width, a.height) != (b.width, b.height) or a.frames != b.frames:
        raise VideoLengthError(f"{anonymized}: {b.frames} frames of {b.width}x{b.height}, but {original} has "
                               f"{a.frames} frames of {a.width}x{a.height}")
    detector = build("detector", config.detector)
    tracker = FaceTracker()
    identity = _Identity(config.crop_margin)
    mesh = FaceMesh()
    align = AlignConfig(resolution=256)

    flicker_o: list[float] = []
    flicker_a: list[float] = []
    leaked: set[int] = set()
    face_frames = 0
    embeddings: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = defaultdict(list)  # (frame, orig., anon.)
    expression: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
    previous: tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]] | None = None
    frames = 0
    for index, (orig, anon) in enumerate(zip(first, second)):
        if config.limit is not None and index >= config.limit:
            break
        frames += 1
        boxes: dict[int, np.ndarray] = {}
        for face in tracker.update(detector.detect(orig)):
            det = face.detection
            region = _box_region(det.box, orig.shape)
            if region is None:
                continue
            boxes[face.track_id] = det.box
            face_frames += 1
            x0, y0, x1, y1 = region
            if _mad(orig[y0:y1, x0:x1], anon[y0:y1, x0:x1]) < config.leak_threshold:
                leaked.add(index)
            if previous is not None and face.track_id in previous[2]:
                flicker_o.append(_mad(orig[y0:y1, x0:x1], previous[0][y0:y1, x0:x1]))
                flicker_a.append(_mad(anon[y0:y1, x0:x1], previous[1][y0:y1, x0:x1]))
            _measure_expression(mesh, orig, anon, det, align, expression[face.track_id])
            if index % config.stride == 0:
                e_o, e_a = identity(orig, det.box), identity(anon, det.box)
                if e_o is not None and e_a is not None:
                    embeddings[face.track_id].append((index, e_o, e_a))
        previous = (orig.copy(), anon.copy(), boxes)
        if progress is not None:
            progress(1)
    mesh.close()
    return _summarise(frames, tracker.total_tracks, face_frames, flicker_o, flicker_a, sorted(leaked),
                      embeddings, expression)


def _measure_expression(mesh: object, orig: np.ndarray, anon: np.ndarray, det: Detection, align: AlignConfig,
                        into: list[tuple[float, float, float, float]]) -> None:
    marks_o = mesh(align_face(orig, det, align).image)  # type: ignore[operator]
    marks_a = mesh(align_face(anon, det, align).image)  # type: ignore[operator]
    if marks_o is not None and marks_a is not None:
        into.append((mouth_opening(marks_o), mouth_opening(marks_a), eye_opening(marks_o), eye_opening(marks_a)))


def _summarise(frames: int, tracks: int, face_frames: int, flicker_o: list[float], flicker_a: list[float],
               leaked: list[int], embeddings: dict[int, list[tuple[int, np.ndarray, np.ndarray]]],
               expression: dict[int, list[tuple[float, float, float, float]]]) -> VideoEvaluation:
    fo = float(np.mean(flicker_o)) if flicker_o else float("nan")
    fa = float(np.mean(flicker_a)) if flicker_a else float("nan")
    drift_a, drift_o, per_frame = [], [], []
    for track, pairs in embeddings.items():
        for (_, o_prev, a_prev), (_, o_next, a_next) in zip(pairs, pairs[1:]):
            drift_a.append(float(np.linalg.norm(a_next - a_prev)))
            drift_o.append(float(np.linalg.norm(o_next - o_prev)))
        per_frame.extend((index, track, float(np.linalg.norm(o - a))) for index, o, a in pairs)
    distances = [d for _, _, d in per_frame]
    closest = sorted(per_frame, key=lambda row: row[2])[:CLOSEST_KEPT]
    rows = [row for values in expression.values() for row in values]
    columns = list(zip(*rows)) if rows else [[], [], [], []]
    nan = float("nan")
    return VideoEvaluation(
        frames=frames, tracks=tracks, face_frames=face_frames, flicker_original=fo, flicker_anonymized=fa,
        flicker_ratio=fa / fo if fo and fo == fo else nan, leaked_frames=len(leaked), leaked=leaked,
        drift_anonymized=float(np.mean(drift_a)) if drift_a else nan,
        drift_original=float(np.mean(drift_o)) if drift_o else nan,
        distance_min=min(distances) if distances else nan,
        distance_mean=float(np.mean(distances)) if distances else nan,
        within_threshold=sum(d < DLIB_SAME_PERSON for d in distances), sampled=len(distances),
        closest=[(index, track, round(d, 4)) for index, track, d in closest],
        mouth_r=_pearson(list(columns[0]), list(columns[1])), eye_r=_pearson(list(columns[2]), list(columns[3])),
    )


def evaluate_video_files(pairs: list[tuple[Path, Path]], config: VideoEvalConfig = VideoEvalConfig()) -> list[dict]:
    """``evaluate_video`` over several (original, anonymized) pairs, one dict per pair with the paths."""
    return [{"original": str(o), "anonymized": str(a), **evaluate_video(o, a, config).to_dict()} for o, a in pairs]


@dataclass
class VariantComparison:
    """Several anonymizations of one clip: the measures (one row per variant) and a few frames of each."""

    table: "object"  # pandas.DataFrame, indexed by variant
    frames: dict[str, list[np.ndarray]]  # "original" and each variant -> frames at ``indices``
    indices: list[int]
    crop: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 around every face of the strip


def compare_variants(source: str | os.PathLike[str], variants: dict[str, object], work_dir: str | os.PathLike[str],
                     *, limit: int | None = 48, strip: int = 4, weights: str | None = None, stride: int = 4,
                     anonymizer: object | None = None) -> VariantComparison:
    """Cut the first ``limit`` frames of ``source``, anonymize them with each ``VideoConfig`` in ``variants``
    (written under ``work_dir``), measure each with ``evaluate_video`` and keep ``strip`` evenly spaced frames."""
    import pandas as pd

    from ganon.pipeline.anonymize import Anonymizer
    from ganon.video.anonymize import VideoAnonymizer
    from ganon.video.io import VideoWriter, read_frames

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    info = VideoReader(source).info
    original = read_frames(source, limit=limit)
    clip = work / f"{Path(source).stem}-first{len(original)}.mp4"
    clip.unlink(missing_ok=True)
    with VideoWriter(clip, width=info.width, height=info.height, fps=info.fps) as writer:
        for frame in original:
            writer.write(frame)
    model = anonymizer or Anonymizer.from_weights(weights)
    indices = [round(i * (len(original) - 1) / max(1, strip - 1)) for i in range(strip)]
    frames = {"original": [original[i] for i in indices]}
    rows = []
    for name, config in variants.items():
        target = work / f"{clip.stem}-{name}.mp4"
        target.unlink(missing_ok=True)
        result = VideoAnonymizer(model, config).anonymize_file(clip, target, progress=False)  # type: ignore[arg-type]
        measures = evaluate_video(clip, target, VideoEvalConfig(stride=stride)).to_dict()
        measures.pop("leaked")
        rows.append({"variant": name, "frames per second": round(result.fps, 1), **measures})
        anonymized = read_frames(target, limit=limit)
        frames[name] = [anonymized[i] for i in indices]
    from ganon.backends import build

    detector = build("detector", VideoEvalConfig().detector)
    boxes = [d.box for frame in frames["original"] for d in detector.detect(frame)]
    crop = None
    if boxes:
        union = np.array([min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                          max(b[3] for b in boxes)])
        crop = _box_region(union, original[0].shape, grow=0.25)
    return VariantComparison(pd.DataFrame(rows).set_index("variant"), frames, indices, crop)


def frame_strip(comparison: VariantComparison, *, width: float = 10.0) -> "object":
    """A grid of frames cut to the faces: one row per variant (the original first), one column per frame."""
    import matplotlib.pyplot as plt

    import textwrap

    names = list(comparison.frames)
    cols = len(comparison.indices)
    x0, y0, x1, y1 = comparison.crop or (0, 0, comparison.frames[names[0]][0].shape[1],
                                         comparison.frames[names[0]][0].shape[0])
    first = comparison.frames[names[0]][0][y0:y1, x0:x1]
    height = width / cols * first.shape[0] / first.shape[1] * len(names)
    fig, axes = plt.subplots(len(names), cols, figsize=(width, height), squeeze=False)
    for row, name in enumerate(names):
        for col, (image, index) in enumerate(zip(comparison.frames[name], comparison.indices)):
            ax = axes[row][col]
            ax.imshow(image[y0:y1, x0:x1])
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(textwrap.fill(name, 14), fontsize=9)
            if row == 0:
                ax.set_title(f"frame {index}")
    fig.tight_layout()
    return fig
