"""Quality of a trained generator on the sample photos and video frames (issue 3's acceptance checks).

Per anonymized face: (a) identity, dlib's ResNet euclidean distance between the original aligned face
and its anonymized crop (above 0.6: a different person); (b) realism proxy, whether RetinaFace finds
a face in the crop and the MediaPipe face mesh finds its landmarks; (c) expression, mouth and eye
opening measured on the mesh of the original and of the anonymized face, correlated over video frames;
(d) diversity, how alike the anonymized faces of different people are, and, for a seeded (coded)
generator, how far apart two seeds' faces of the same photo face are.
A side-by-side picture (original | landmarks | anonymized crops | composite) is written per photo.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from ganon.pipeline.anonymize import Anonymizer, FaceStages
from ganon.pipeline.landmarks import eye_opening, mouth_opening

__all__ = [
    "FaceQuality",
    "ModelQuality",
    "QualityConfig",
    "pearson",
    "side_by_side",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the checks; ``detect_padding`` borders a crop before RetinaFace, which misses faces
    that fill the whole frame (the same border ``ganon preprocess`` uses)."""

    identity_threshold: float = 0.6  # dlib's euclidean verification threshold
    detector: str = "retinaface-mobilenet"
    detector_threshold: float = 0.9
    detect_padding: float = 0.25
    panel: int = 256  # height of each panel of the side-by-side pictures
    #: A coded generator is measured with the first seed and, for the seed variation, the second.
    seeds: tuple[int, int] = (1, 2)
    seed_distance: float = 0.5  # issue 16: two seeds should give faces at least this far apart (dlib)


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson's r of paired values; NaN with fewer than 3 pairs or a constant series."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


@dataclass
class FaceQuality:
    """The measurements of one detected face; ``None`` where a measurement was impossible."""

    source: str
    kind: str  # "photo" or the video's name
    face_index: int
    status: str  # the Anonymizer's outcome: anonymized, obscured, average
    identity_distance: float | None = None
    anonymized_detected: bool | None = None
    anonymized_mesh: bool | None = None
    original_detected: bool | None = None  # the same checks on the original crop, for reference
    original_mesh: bool | None = None
    mouth_original: float | None = None
    mouth_anonymized: float | None = None
    eye_original: float | None = None
    eye_anonymized: float | None = None
    seed_distance: float | None = None  # dlib distance to the same face drawn with the second seed
    # identity embeddings of the original and the anonymized face (kept out of faces.csv)
    embeddings: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def realistic(self) -> bool | None:
        if self.anonymized_detected is None:
            return None
        return bool(self.anonymized_detected and self.anonymized_mesh)


def _fraction(values: Iterable[bool | None]) -> float | None:
    kept = [bool(v) for v in values if v is not None]
    return round(sum(kept) / len(kept), 4) if kept else None


def _grid(images: Sequence[np.ndarray], side: int) -> np.ndarray:
    """Square tiles of ``images`` in a ``side`` x ``side`` panel (black when there is none)."""
    panel = np.zeros((side, side, 3), dtype=np.uint8)
    if not images:
        return panel
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    tile = side // max(cols, rows)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        panel[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = cv2.resize(image, (tile, tile),
                                                                             interpolation=cv2.INTER_AREA)
    return panel


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def side_by_side(original: np.ndarray, canvases: Sequence[np.ndarray], crops: Sequence[np.ndarray],
                 composite: np.ndarray, *, height: int = 256, gap: int = 4) -> np.ndarray:
    """original | landmark canvases | anonymized crops | composite, each panel ``height`` px high."""
    panels = [_fit_height(original, height), _grid(canvases, height), _grid(crops, height),
              _fit_height(composite, height)]
    spacer = np.full((height, gap, 3), 255, dtype=np.uint8)
    row: list[np.ndarray] = []
    for panel in panels:
        row += [panel, spacer]
    return np.hstack(row[:-1])


class ModelQuality:
    """Runs one Anonymizer over photos and frames and measures every face; models are loaded once."""

    def __init__(self, anonymizer: Anonymizer, config: QualityConfig = QualityConfig()) -> None:
        from ganon.backends.detectors import build_detector
        from ganon.backends.identity import DlibIdentity

        # Quality is a measurement: a coded generator draws its codes from the recorded seeds.
        self.anonymizer = anonymizer.with_config(seed=config.seeds[0]) if anonymizer.codes.effective else anonymizer
        self.other_seed = (anonymizer.with_config(seed=config.seeds[1]) if anonymizer.codes.effective else None)
        self.config = config
        self.identity = DlibIdentity(metric="euclidean", assume_aligned=True)
        self.detector = build_detector(config.detector, score_threshold=config.detector_threshold)
        self.mesh = anonymizer.mesh

    @classmethod
    def from_weights(cls, weights: str | os.PathLike[str] | None, config: QualityConfig = QualityConfig(), *,
                     device: str = "auto") -> "ModelQuality":
        return cls(Anonymizer.from_weights(weights, device=device), config)

    def _detects(self, crop: np.ndarray) -> bool:
        pad = int(round(self.config.detect_padding * crop.shape[0]))
        bordered = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        return len(self.detector.detect(bordered)) > 0

    def measure(self, stage: FaceStages, *, source: str, kind: str, index: int, status: str) -> FaceQuality:
        """Identity, realism and expression of one face whose stages have been synthesized."""
        record = FaceQuality(source=source, kind=kind, face_index=index, status=status)
        if stage.landmarks is not None:
            record.mouth_original = mouth_opening(stage.landmarks)
            record.eye_original = eye_opening(stage.landmarks)
        if stage.synthesized is None or stage.landmarks is None:
            return record  # obscured or the average face: nothing of a person to compare
        original = stage.aligned.image
        size = original.shape[0]
        crop = stage.synthesized
        if crop.shape[0] != size:
            crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LANCZOS4)
        a, b = self.identity.embed(original), self.identity.embed(crop)
        record.identity_distance = round(self.identity.distance(a, b), 5)
        record.embeddings = (a, b)
        record.anonymized_detected = self._detects(crop)
        marks = self.mesh(crop)
        record.anonymized_mesh = marks is not None
        record.original_detected = self._detects(original)
        record.original_mesh = True
        if marks is not None:
            record.mouth_anonymized = mouth_opening(marks)
            record.eye_anonymized = eye_opening(marks)
        return record

    def _seed_variation(self, stages: Sequence[FaceStages], records: Sequence[FaceQuality], *,
                        source: str) -> None:
        """Draw every synthesized face again with the second seed; record the dlib distance between the two."""
        if self.other_seed is None:
            return
        again = [dataclasses.replace(s, code=self.other_seed.codes.for_face(source, i), synthesized=None)
                 for i, s in enumerate(stages)]
        self.other_seed.synthesize(again)
        for stage, record in zip(again, records):
            if record.embeddings is None or record.embeddings[1] is None or stage.synthesized is None:
                continue
            size = stage.aligned.image.shape[0]
            crop = cv2.resize(stage.synthesized, (size, size), interpolation=cv2.INTER_LANCZOS4)
            other = self.identity.embed(crop)
            if other is not None:
                record.seed_distance = round(self.identity.distance(record.embeddings[1], other), 5)

    def image(self, image: np.ndarray, *, source: str, kind: str,
              picture: Path | None = None) -> list[FaceQuality]:
        """Anonymize one image, measure its faces and, given ``picture``, write the side-by-side view."""
        # A video's frames share their codes (one face per person through the clip), a photo has its own.
        stages = self.anonymizer.prepare(image, source=source if kind == "photo" else kind)
        self.anonymizer.synthesize(stages)
        composite = self.anonymizer.with_config(mode="composite").assemble(image, stages)
        records = [self.measure(stage, source=source, kind=kind, index=i, status=outcome.status)
                   for i, (stage, outcome) in enumerate(zip(stages, composite.faces))]
        if kind == "photo":
            self._seed_variation(stages, records, source=source)
        if picture is not None:
            crops = self.anonymizer.with_config(mode="crops").assemble(image, stages).crops
            canvases = [s.canvas if s.canvas is not None else np.zeros_like(s.aligned.image[:8, :8])
                        for s in stages]
            view = side_by_side(image, canvases, crops, composite.composite, height=self.config.panel)
            picture.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(picture), view[..., ::-1])
        return records

    def run(self, photos: Sequence[Path], frames: dict[str, Sequence[Path]], out_dir: str | os.PathLike[str],
            *, progress: bool = True) -> dict[str, Any]:
        """Measure every photo (with pictures) and video frame; write ``metrics.json`` and ``faces.csv``."""
        from ganon.imageio import read_image

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        jobs = [(p, "photo") for p in photos] + [(f, video) for video, paths in frames.items() for f in paths]
        records: list[FaceQuality] = []
        for path, kind in tqdm(jobs, desc="model quality", unit="img", disable=not progress):
            image = read_image(path).rgb
            picture = out / "side_by_side" / f"{Path(path).stem}.png" if kind == "photo" else None
            name = Path(path).name if kind == "photo" else f"{kind}/{Path(path).name}"
            records.extend(self.image(image, source=name, kind=kind, picture=picture))
        metrics = self.summarize(records)
        metrics["weights"] = {"path": str(self.anonymizer.synthesizer.source),
                              "sha256": self.anonymizer.synthesizer.sha256,
                              "name": self.anonymizer.synthesizer.card.get("name")}
        metrics["inputs"] = {"photos": len(photos), "frames": {k: len(v) for k, v in frames.items()}}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        with open(out / "faces.csv", "w", newline="") as handle:
            columns = [f.name for f in fields(FaceQuality) if f.name != "embeddings"] + ["realistic"]
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for record in records:
                row = {name: getattr(record, name) for name in columns[:-1]}
                writer.writerow({**row, "realistic": record.realistic})
        log.info("model quality: %s", json.dumps({k: metrics[k] for k in ("identity", "realism")}))
        return metrics

    def summarize(self, records: Sequence[FaceQuality]) -> dict[str, Any]:
        """Fractions and correlations over the measured faces (identity and realism over all kinds)."""
        measured = [r for r in records if r.identity_distance is not None]
        distances = np.array([r.identity_distance for r in measured], dtype=np.float64)
        threshold = self.config.identity_threshold
        above = round(float((distances > threshold).mean()), 4) if len(measured) else None
        expression: dict[str, Any] = {}
        videos = sorted({r.kind for r in records if r.kind != "photo"})
        for video in [*videos, "all_frames"] if len(videos) > 1 else videos:
            rows = [r for r in records if (r.kind == video or (video == "all_frames" and r.kind != "photo"))]
            mouth = [(r.mouth_original, r.mouth_anonymized) for r in rows if r.mouth_anonymized is not None]
            eyes = [(r.eye_original, r.eye_anonymized) for r in rows if r.eye_anonymized is not None]
            expression[video] = {
                "frames_with_both_meshes": len(mouth),
                "mouth_r": _round(pearson([m[0] for m in mouth], [m[1] for m in mouth])),
                "eye_r": _round(pearson([e[0] for e in eyes], [e[1] for e in eyes])),
                "mouth_original_range": _range([m[0] for m in mouth]),
                "mouth_anonymized_range": _range([m[1] for m in mouth]),
            }
        return {
            "faces": {"detected": len(records), "anonymized": sum(r.status == "anonymized" for r in records),
                      "obscured": sum(r.status == "obscured" for r in records),
                      "average": sum(r.status == "average" for r in records)},
            "identity": {
                "backend": "dlib ResNet (euclidean)", "threshold": threshold, "n": len(measured),
                "fraction_above_threshold": above,
                "mean_distance": _round(float(distances.mean())) if len(measured) else None,
                "min_distance": _round(float(distances.min())) if len(measured) else None,
            },
            "realism": {
                "n": len(measured),
                "fraction_detector": _fraction(r.anonymized_detected for r in measured),
                "fraction_mesh": _fraction(r.anonymized_mesh for r in measured),
                "fraction_both": _fraction(r.realistic for r in measured),
                "reference_original_both": _fraction(
                    (r.original_detected and r.original_mesh) if r.original_detected is not None else None
                    for r in measured),
            },
            "diversity": self.diversity(measured),
            "seed_variation": self.seed_variation(measured),
            "expression": expression,
            "config": json.loads(json.dumps(asdict(self.config))),  # tuples as JSON lists
        }

    def diversity(self, records: Sequence[FaceQuality]) -> dict[str, Any] | None:
        """How different the photos' anonymized faces are from one another, beside their originals.

        Every photo face is a different person, so pairs of originals sit above the threshold; pairs
        of anonymized faces below it mean the generator paints much the same face for everyone, which
        is what brings some anonymized faces close to their originals."""
        faces = [r.embeddings for r in records if r.kind == "photo" and r.embeddings is not None]
        if len(faces) < 2:
            return None
        pairs = [(i, j) for i in range(len(faces)) for j in range(i + 1, len(faces))]
        distance = self.identity.distance
        originals = np.array([distance(faces[i][0], faces[j][0]) for i, j in pairs])
        anonymized = np.array([distance(faces[i][1], faces[j][1]) for i, j in pairs])
        threshold = self.config.identity_threshold
        return {
            "faces": len(faces), "pairs": len(pairs),
            "original_mean_distance": _round(float(originals.mean())),
            "anonymized_mean_distance": _round(float(anonymized.mean())),
            "original_pairs_below_threshold": round(float((originals <= threshold).mean()), 4),
            "anonymized_pairs_below_threshold": round(float((anonymized <= threshold).mean()), 4),
        }

    def seed_variation(self, records: Sequence[FaceQuality]) -> dict[str, Any]:
        """Two seeds' faces of the same photo face (coded generators); an un-coded one has no variation."""
        if self.other_seed is None:
            return {"coded": False, "note": "un-coded generator: every seed gives the same face"}
        distances = np.array([r.seed_distance for r in records if r.kind == "photo" and r.seed_distance is not None])
        summary: dict[str, Any] = {"coded": True, "seeds": list(self.config.seeds), "n": len(distances)}
        if len(distances):
            summary.update({
                "mean_distance": _round(float(distances.mean())),
                "min_distance": _round(float(distances.min())),
                f"fraction_at_least_{self.config.seed_distance}": round(
                    float((distances >= self.config.seed_distance).mean()), 4),
                "fraction_above_threshold": round(float((distances > self.config.identity_threshold).mean()), 4),
            })
        return summary


def _round(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 4)


def _range(values: Sequence[float]) -> list[float] | None:
    return [round(min(values), 4), round(max(values), 4)] if values else None


def sample_inputs(samples_root: str | os.PathLike[str], *, frames_per_video: int | None = None,
                  photos: bool = True) -> tuple[list[Path], dict[str, list[Path]]]:
    """The samples dataset's photos and, per video, its frames (every one, or the first N)."""
    from ganon.data.samples import ensure_samples

    root = ensure_samples(samples_root)
    photo_paths = sorted((root / "photos").iterdir()) if photos else []
    videos = {d.name: sorted(d.glob("*.png"))[:frames_per_video] for d in sorted((root / "frames").iterdir())
              if d.is_dir()}
    return photo_paths, videos

