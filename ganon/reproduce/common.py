"""What the section reproducers share: the profile's faces, its anonymizer, reusable paired crops.

Intermediate artefacts live in the run's ``workdir`` with a ``stamp.json`` naming what made them
(inputs, generator, detector, sizes); a later result of the same section reuses them while the stamp
matches and rebuilds them otherwise, so two results never disagree about the faces they used.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganon.backends.errors import BackendUnavailableError
from ganon.backends.identity import ModelUnavailableError
from ganon.data.datasets.base import DatasetLayoutError
from ganon.reproduce.result import Settings
from ganon.weights import WeightsNotFoundError

__all__ = [
    "MISSING",
    "SourceFaces",
    "anonymizer_for",
    "openpeople_expressions",
    "openpeople_photos",
    "paired_crops",
    "provenance",
    "sample_faces",
    "source_dataset",
]

logger = logging.getLogger(__name__)

#: What "this data or model is not on this machine" looks like; anything else is a failure.
MISSING: tuple[type[Exception], ...] = (BackendUnavailableError, ModelUnavailableError, WeightsNotFoundError,
                                        DatasetLayoutError)
STAMP = "stamp.json"
#: openpeople's photos that show one face large (the postures are full-body shots, the character
#: sheet shows several views of the person), and the run folder they are copied to.
OPENPEOPLE_PHOTOS: tuple[str, ...] = ("studio_portrait", "amateur_selfie")
OPENPEOPLE_DIR = "openpeople_photos"
_VERSIONED = ("ganon", "numpy", "torch", "opencv-python-headless", "mediapipe", "dlib", "fer", "timm")


class DataUnavailable(LookupError):
    """The profile names no source for a dataset a result needs (raised and caught by reproducers)."""


@dataclass(frozen=True)
class SourceFaces:
    """The photos one result works on: their table (``path``, ``split``, ...) and how to name them."""

    name: str
    table: pd.DataFrame
    description: str


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in _VERSIONED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def provenance(settings: Settings, **extra: Any) -> dict[str, Any]:
    """The record every result carries: profile, seed, device, dataset, models, sizes, versions, plus ``extra``."""
    return {"profile": settings.profile, "seed": settings.seed, "device": settings.device,
            "dataset": settings.dataset, "models": dict(settings.models), "sizes": dict(settings.sizes),
            "versions": versions(), **extra}


def sample_faces(settings: Settings, *, with_frames: bool = True) -> SourceFaces:
    """The smoke profile's faces: the first ``max_images`` sample photos, and every tenth frame of one video."""
    from ganon.data.datasets import read_dataset

    photos = read_dataset("samples", settings.samples_dir, kinds=("photo",))
    photos = photos.head(settings.sizes.get("max_images") or len(photos))
    if not with_frames:
        return SourceFaces("samples", photos, f"the first {len(photos)} sample photos")
    frames = read_dataset("samples", settings.samples_dir, kinds=("frame",), frame_stride=10)
    frames = frames[frames["video"] == "wolfgang_langer"]
    table = pd.concat([photos, frames], ignore_index=True)
    table.attrs = photos.attrs
    return SourceFaces("samples", table, f"{len(photos)} sample photos and {len(frames)} video frames")


def source_dataset(settings: Settings, key: str, name: str, *, splits: tuple[str, ...] | None = None) -> SourceFaces:
    """A paper dataset from the profile's ``datasets[key]`` (manifest and data folder), ``max_images`` per split.

    Raises ``DataUnavailable`` when the profile names none, ``DatasetLayoutError`` when its files are missing.
    """
    from ganon.data.datasets import read_dataset

    entry = settings.datasets.get(key)
    if not entry:
        raise DataUnavailable(f"{name} is not part of the {settings.profile} profile")
    options: dict[str, Any] = {"splits": splits} if splits else {}
    table = read_dataset(entry.get("manifest", key), entry["data_dir"], **options)
    limit = settings.sizes.get("max_images")
    if limit:
        table = table.groupby("split", group_keys=False).head(limit) if "split" in table else table.head(limit)
    return SourceFaces(name, table, f"{len(table)} {name} photos")


def openpeople_photos(settings: Settings, out: Path, *, photos: tuple[str, ...] = OPENPEOPLE_PHOTOS) -> SourceFaces:
    """openpeople's ``photos`` of every person, shrunk to 1024 px once into ``out`` (a cache of the package's files).

    The table has ``path`` (the copy), ``relative`` (``openpeople/<person>/<photo>.png``), ``split`` (by
    person, the profile's seed), ``subject``, ``Male`` and ``Young``. Raises ``DataUnavailable`` when
    the package is not installed.
    """
    from ganon.data.datasets.openpeople import OpenPeople

    try:
        reader = OpenPeople(kinds=("photo",), seed=settings.seed)
    except FileNotFoundError as error:
        raise DataUnavailable(str(error)) from None
    table = reader.read()
    written = reader.materialize(out, frame=table[table["name"].isin(photos)].reset_index(drop=True))
    written["photo"] = written.pop("path")
    written["path"] = written.pop("file")
    written["relative"] = [f"openpeople/{s}/{n}.png" for s, n in zip(written["subject"], written["name"])]
    written = written.drop(columns=["crop", "expression", "label"])
    written.attrs = {"dataset": "openpeople", "root": str(out), "split_seed": settings.seed}
    return SourceFaces("openpeople", written, f"{len(written)} openpeople photos of {written['subject'].nunique()} people")


def openpeople_expressions(settings: Settings, out: Path, *, classes: Mapping[str, str],
                           name: str = "openpeople") -> SourceFaces:
    """openpeople's expression crops whose expression ``classes`` maps to a paper class, as files in ``out``.

    ``classes`` maps openpeople's expression (``"sad"``) to the paper's class (``"Sadness"``); its order
    is the label order. The table has ``path`` (the crop), ``split`` (by person, seeded by the profile),
    ``subject``, ``expression``, ``emotion`` (the paper's name) and ``label`` (index in ``classes``).
    The crops are cut once; a file already in ``out`` is kept (it is a cache of the package's sheets).
    """
    from ganon.data.datasets.openpeople import OpenPeople

    reader = OpenPeople(kinds=("expression",), seed=settings.seed)
    table = reader.read()
    table = table[table["expression"].isin(list(classes))].reset_index(drop=True)
    written = reader.materialize(out, frame=table)
    order = list(dict.fromkeys(classes.values()))
    written["emotion"] = written["expression"].map(classes)
    written["label"] = written["emotion"].map(order.index).astype("int64")
    written["sheet"] = written["path"]
    written["path"] = written.pop("file")
    written = written.drop(columns=["crop", "kind"])
    written.attrs = {"dataset": name, "root": str(out), "classes": tuple(order), "split_seed": settings.seed}
    people = written.groupby("split")["subject"].nunique().to_dict()
    return SourceFaces(name, written, f"{len(written)} openpeople expression crops of {written['subject'].nunique()} "
                                      f"people ({', '.join(f'{k} {v}' for k, v in sorted(people.items()))} people)")


def anonymizer_for(settings: Settings, *, detector: Any | None = None) -> Any:
    """The profile's generator and detector in the paper's output form: synthesized crops, the average face on a miss."""
    from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer
    from ganon.pipeline.synthesize import Synthesizer
    from ganon.weights import resolve_weights, shipped_sha256

    models = settings.models
    config = AnonymizeConfig.paper(resolution=settings.sizes["image_size"], detector=models["detector"])
    path = resolve_weights(models["generator"])
    synthesizer = Synthesizer.from_file(path, device=settings.device, batch_size=settings.sizes["batch_size"],
                                        expected_sha256=shipped_sha256(path))
    return Anonymizer(synthesizer, config, detector=detector)


def _stamp(source: SourceFaces, settings: Settings, baselines: Mapping[str, str], original: str) -> dict[str, Any]:
    files = []
    for path in source.table["path"]:
        stat = Path(path).stat()
        files.append([str(path), stat.st_size, int(stat.st_mtime)])
    models = settings.models
    return {"files": files, "generator": models["generator"], "detector": models["detector"],
            "image_size": settings.sizes["image_size"], "baselines": dict(baselines), "original": original,
            "ganon": versions()["ganon"]}


def paired_crops(
    source: SourceFaces,
    settings: Settings,
    out: Path,
    *,
    baselines: Mapping[str, str],
    make_anonymizer: Callable[[], Any] | None = None,
    original: Callable[[Any], np.ndarray] | None = None,
    original_name: str = "aligned",
) -> Any:
    """``write_paired_crops`` of ``source`` into ``out``, or the crops already there when their stamp matches.

    ``baselines`` maps a method label to a baseline name (``{"Blur 9x9": "blur-9x9"}``); ``original``
    and ``original_name`` say how the original crop is made (see ``write_paired_crops``).
    """
    from ganon.evaluation.baselines import build_baseline
    from ganon.evaluation.paired import ORIGINAL, PairedCrops, method_folder, write_paired_crops

    stamp = _stamp(source, settings, baselines, original_name)
    stamp_path = out / STAMP
    if stamp_path.is_file() and (out / "faces.csv").is_file():
        if json.loads(stamp_path.read_text(encoding="utf-8")) == stamp:
            logger.info("%s: reusing the paired crops made earlier in this run", out)
            methods = {name: out / method_folder(name) for name in ("GANonymization", *baselines)}
            return PairedCrops(out, out / ORIGINAL.lower(), methods, pd.read_csv(out / "faces.csv"))
    anonymizer = (make_anonymizer or (lambda: anonymizer_for(settings)))()
    crops = write_paired_crops(source.table, anonymizer, out, overwrite=True, original=original,
                               baselines={label: build_baseline(name) for label, name in baselines.items()})
    stamp_path.write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
    return crops


def trained_classifiers(
    settings: Settings,
    crops: Any,
    source: SourceFaces,
    out: Path,
    *,
    train_data: tuple[str, ...] = ("Original", "GANonymization"),
) -> dict[str, Path]:
    """The training scenario's classifiers: one per training set, trained on ``crops`` with the profile's recipe.

    Returns ``train_data -> checkpoint``; a checkpoint already in ``out/<train_data>`` made from the same
    crops and recipe (its ``stamp.json``) is reused. Training on a method's crops reads the same relative
    paths below that method's folder; selection and the report use the original validation crops.
    """
    from ganon.training.classifier import profile_classifier_config, train_classifier

    models = settings.models
    config = profile_classifier_config(settings.sizes, seed=settings.seed, device=settings.device,
                                       backbone=models.get("classifier_backbone"),
                                       preset=models.get("classifier") or "paper")
    table = crops.dataset_table(source.table)
    crops_stamp = json.loads((Path(crops.root) / STAMP).read_text(encoding="utf-8"))
    checkpoints: dict[str, Path] = {}
    for name in train_data:
        run_dir = Path(out) / name
        stamp = {"crops": crops_stamp, "config": config.to_dict(), "train_data": name}
        checkpoint = run_dir / "classifier.safetensors"
        stamp_path = run_dir / STAMP
        if checkpoint.is_file() and stamp_path.is_file() and json.loads(stamp_path.read_text("utf-8")) == json.loads(
                json.dumps(stamp, default=str)):
            logger.info("%s: reusing the classifier trained earlier in this run", run_dir)
            checkpoints[name] = checkpoint
            continue
        override = None if name == "Original" else crops.methods[name]
        run = train_classifier(table, config=config, out_dir=run_dir, image_root_override=override,
                               override_splits=("train", "val"), missing="drop", train_data=name, overwrite=True)
        stamp_path.write_text(json.dumps(stamp, indent=1, default=str) + "\n", encoding="utf-8")
        checkpoints[name] = run.checkpoint
    return checkpoints


def cached(path: Path, stamp: Mapping[str, Any], make: Callable[[], Any]) -> Any:
    """``make()``, pickled at ``path`` beside its stamp; a later call with the same stamp loads it instead.

    Only for what this run wrote into its own results folder (pickles are not for files from elsewhere).
    """
    import pickle

    stamp_path = path.with_suffix(".stamp.json")
    text = json.dumps(stamp, sort_keys=True, default=str)
    if path.is_file() and stamp_path.is_file() and stamp_path.read_text(encoding="utf-8") == text:
        logger.info("%s: reusing what an earlier result of this run computed", path)
        with path.open("rb") as handle:
            return pickle.load(handle)
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp_path.unlink(missing_ok=True)  # a crash below leaves no stamp, so nothing stale is ever reused
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        pickle.dump(value, handle)
    partial.replace(path)
    stamp_path.write_text(text, encoding="utf-8")
    return value
