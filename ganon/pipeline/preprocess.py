"""Training pairs for Section 3.4: run 3.1-3.3 over a folder and store (face, landmark canvas) PNGs.

Faces are prepared by ``ganon.pipeline.prepare.FacePreparer``, the same code ``ganon anonymize``
runs, so a photo gives the same landmark canvas in training and at inference.

Each source image gives one row per detected face in a manifest CSV (source, face index, detector
score, split, status, paths). Pairs are PNG, so the 1-pixel landmark dots survive exactly (the
authors stored JPEG). Runs are resumable (sources already in a manifest are skipped), shardable
(``shard=(i, n)`` takes every n-th source) and parallel (a process pool, one set of models per worker).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import multiprocessing
import os
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ganon.config import renamed_keywords
from ganon.imageio import IMAGE_SUFFIXES
from ganon.pipeline.extract import AlignConfig
from ganon.pipeline.prepare import FacePreparer, PrepareConfig
from ganon.pipeline.segment import build_segmenter
from ganon.training.latents import dcgan_key, record_latents

__all__ = [
    "MANIFEST_FIELDS",
    "PairMaker",
    "PreprocessConfig",
    "PreprocessSummary",
    "Source",
    "find_sources",
    "manifest_name",
    "preprocess",
    "read_manifests",
    "shard_sources",
    "split_of",
    "write_png",
]

log = logging.getLogger(__name__)

MANIFEST_FIELDS = (
    "source", "face_index", "score", "split", "status", "has_landmarks", "face_path", "landmarks_path",
)


@renamed_keywords(size="resolution")
@dataclass(frozen=True)
class PreprocessConfig:
    """How sources become pairs at the generator's ``resolution``; checked against the backend registry.

    ``align`` is the Section 3.1 crop the face mesh runs on (as at inference); ``assume_aligned``
    treats each image as an already cropped face.
    """

    resolution: int = 128
    detector: str = "retinaface-mobilenet"
    detector_threshold: float = 0.9
    align: AlignConfig = field(default_factory=AlignConfig.paper)
    segmenter: str | None = "mediapipe-head"  # None: keep the whole canvas (no 3.2)
    render_style: str = "authors"
    assume_aligned: bool = False
    detect_padding: float = 0.25  # black border (fraction of the side) for a second look when none is found
    keep_missing: bool = False  # store faces without landmarks with an all-black canvas
    val_fraction: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        from ganon import backends
        from ganon.config import check_choice

        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"PreprocessConfig.val_fraction must be in [0, 1), got {self.val_fraction}")
        check_choice("PreprocessConfig", "detector", self.detector, backends.names("detector"))
        if self.segmenter is not None:
            check_choice("PreprocessConfig", "segmenter", self.segmenter, backends.names("segmenter"))
        self.prepare_config()  # checks resolution, render style and padding

    def prepare_config(self) -> PrepareConfig:
        """The face preparation these settings ask for (the one inference uses)."""
        return PrepareConfig(resolution=self.resolution, align=self.align, render_style=self.render_style,
                             detect_padding=self.detect_padding, assume_aligned=self.assume_aligned)


@dataclass(frozen=True)
class Source:
    """One input image: its path, its name relative to the input root, and its split."""

    path: Path
    relative: str
    split: str


@dataclass
class PreprocessSummary:
    """Counts of one ``preprocess`` call (this call's work only, not earlier runs')."""

    sources: int = 0
    skipped: int = 0  # already in a manifest
    pairs: int = 0
    no_landmarks: int = 0
    no_face: int = 0
    unreadable: int = 0
    manifest: Path | None = None


def split_of(relative: str, *, seed: int, val_fraction: float) -> str:
    """Seeded, order-free train/val split of a plain folder: a hash of (seed, relative path)."""
    digest = hashlib.sha256(f"{seed}:{relative}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "val" if u < val_fraction else "train"


def find_sources(root: str | os.PathLike[str], *, seed: int = 0, val_fraction: float = 0.05,
                 exclude: Path | None = None) -> list[Source]:
    """Every image under ``root`` (recursive, sorted) with its split.

    A CelebA tree (any layout the CelebA reader accepts, or its image folder) keeps the official
    partition, so no test image reaches training; any other folder is split by ``split_of``.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder")
    from ganon.data.datasets.celeba import find_partition

    celeba = find_partition(root)
    if celeba is not None:
        return _celeba_sources(root, *celeba)
    exclude = exclude.resolve() if exclude is not None else None
    sources = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if exclude is not None and exclude in path.resolve().parents:
            continue
        relative = path.relative_to(root).as_posix()
        sources.append(Source(path, relative, split_of(relative, seed=seed, val_fraction=val_fraction)))
    return sources


def _celeba_sources(root: Path, images: Path, partition: Path) -> list[Source]:
    """CelebA's images that are present, each with its official split; unlisted images are left out."""
    from ganon.data.datasets.celeba import read_partition

    splits = read_partition(partition)
    present = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    unlisted = [p.name for p in present if p.name not in splits]
    if unlisted:
        log.warning("%s: %d images are not in %s and are left out (their split is unknown), e.g. %s",
                    images, len(unlisted), partition, unlisted[0])
    sources = [Source(p, p.relative_to(root).as_posix(), splits[p.name]) for p in present if p.name in splits]
    if len(sources) < len(splits):
        log.info("%s lists %d images, %d of them are here", partition, len(splits), len(sources))
    log.info("CelebA layout: %d images with the official split from %s", len(sources), partition)
    return sources


def shard_sources(sources: list[Source], shard: tuple[int, int]) -> list[Source]:
    """Every n-th source starting at i, for ``shard=(i, n)``: the shards are disjoint and cover all."""
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {index}/{count}")
    return sources[index::count]


def manifest_name(shard: tuple[int, int] = (0, 1)) -> str:
    index, count = shard
    return "manifest.csv" if count == 1 else f"manifest-{index}-of-{count}.csv"


def read_manifests(out_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """All rows of every ``manifest*.csv`` in ``out_dir`` (shards together)."""
    rows: list[dict[str, str]] = []
    for path in sorted(Path(out_dir).glob("manifest*.csv")):
        with open(path, newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Lossless PNG (fast compression), written under a temporary name and renamed into place."""
    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data.tobytes())
    os.replace(tmp, path)


def _read_rgb(path: Path) -> np.ndarray | None:
    from ganon.imageio import ImageReadError, read_image

    try:
        return read_image(path).rgb
    except (ImageReadError, OSError) as error:
        log.warning("%s: unreadable (%s)", path, error)
        return None


class PairMaker:
    """Detector, face mesh and segmenter loaded once; ``__call__`` turns one source into manifest rows."""

    def __init__(self, config: PreprocessConfig, out_dir: Path) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        detector = None
        if not config.assume_aligned:
            from ganon.backends.detectors import build_detector

            detector = build_detector(config.detector, score_threshold=config.detector_threshold)
        segmenter = build_segmenter(config.segmenter) if config.segmenter else None
        self.preparer = FacePreparer(config.prepare_config(), detector=detector, segmenter=segmenter)

    def __call__(self, source: Source) -> list[dict[str, str]]:
        base = {"source": source.relative, "split": source.split}
        image = _read_rgb(source.path)
        if image is None:
            return [{**base, "face_index": "-1", "score": "", "status": "unreadable", "has_landmarks": "0",
                     "face_path": "", "landmarks_path": ""}]
        faces = self.preparer(image)
        if not faces:
            return [{**base, "face_index": "-1", "score": "", "status": "no_face", "has_landmarks": "0",
                     "face_path": "", "landmarks_path": ""}]
        rows = []
        stem = source.relative.rsplit(".", 1)[0].replace("/", "__")
        for index, face in enumerate(faces):
            score = face.score
            row = {**base, "face_index": str(index), "score": "" if math.isnan(score) else f"{score:.4f}"}
            found = face.landmarks is not None
            if not found and not self.config.keep_missing:
                rows.append({**row, "status": "no_landmarks", "has_landmarks": "0", "face_path": "",
                             "landmarks_path": ""})
                continue
            size = self.config.resolution
            canvas = face.canvas if found else np.zeros((size, size, 3), dtype=np.uint8)
            name = f"{stem}_{index}.png"
            write_png(self.out_dir / "faces" / name, self.preparer.training_face(face))
            write_png(self.out_dir / "landmarks" / name, canvas)
            rows.append({**row, "status": "ok" if found else "no_landmarks", "has_landmarks": "1" if found else "0",
                         "face_path": f"faces/{name}", "landmarks_path": f"landmarks/{name}"})
        return rows


_WORKER: PairMaker | None = None


def _init_worker(config: PreprocessConfig, out_dir: Path) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)
    _WORKER = PairMaker(config, out_dir)


def _work(source: Source) -> list[dict[str, str]]:
    assert _WORKER is not None
    return _WORKER(source)


def _results(todo: list[Source], config: PreprocessConfig, out_dir: Path, workers: int) -> Iterator[list[dict]]:
    if workers <= 1:
        maker = PairMaker(config, out_dir)
        yield from map(maker, todo)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(config, out_dir)) as pool:
        yield from pool.map(_work, todo, chunksize=max(1, min(64, len(todo) // (workers * 8) or 1)))


def preprocess(
    src: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: PreprocessConfig = PreprocessConfig(),
    *,
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    limit: int | None = None,
    progress: bool = True,
) -> PreprocessSummary:
    """Write pairs for every source of ``src`` (this shard, at most ``limit`` new ones) into ``out_dir``."""
    out = Path(out_dir)
    (out / "faces").mkdir(parents=True, exist_ok=True)
    (out / "landmarks").mkdir(parents=True, exist_ok=True)
    sources = shard_sources(find_sources(src, seed=config.seed, val_fraction=config.val_fraction, exclude=out),
                            shard)
    done = {row["source"] for row in read_manifests(out)}
    todo = [s for s in sources if s.relative not in done]
    summary = PreprocessSummary(sources=len(sources), skipped=len(sources) - len(todo),
                                manifest=out / manifest_name(shard))
    if limit is not None:
        todo = todo[:limit]
    _write_config(out, config)
    log.info("%d sources, %d already done, %d to process with %d worker(s)",
             len(sources), summary.skipped, len(todo), workers)
    new_file = not summary.manifest.exists()
    with open(summary.manifest, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_FIELDS)
        if new_file:
            writer.writeheader()
        bar = tqdm(total=len(todo), desc="preprocess", unit="img", disable=not progress)
        for rows in _results(todo, config, out, workers):
            writer.writerows(rows)  # all rows of a source at once: resume never sees half a source
            handle.flush()
            _count(summary, rows)
            bar.update(1)
        bar.close()
    log.info("pairs %d, no landmarks %d, no face %d, unreadable %d", summary.pairs, summary.no_landmarks,
             summary.no_face, summary.unreadable)
    if any(dcgan_key(s.relative) for s in sources):  # the coded generator's supervision: each pair's z
        record_latents(out)
    return summary


def _count(summary: PreprocessSummary, rows: Iterable[dict[str, str]]) -> None:
    for row in rows:
        status = row["status"]
        if status == "ok":
            summary.pairs += 1
        elif status == "no_landmarks":
            summary.no_landmarks += 1
        elif status == "no_face":
            summary.no_face += 1
        elif status == "unreadable":
            summary.unreadable += 1


def _write_config(out: Path, config: PreprocessConfig) -> None:
    import json

    path = out / "preprocess.json"
    record = asdict(config)
    if path.exists():
        previous = json.loads(path.read_text())
        if previous != record:
            raise ValueError(f"{path}: this folder was made with other settings {previous}; use a new --out")
        return
    path.write_text(json.dumps(record, indent=2, sort_keys=True))
