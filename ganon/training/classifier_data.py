"""Data for the paper's classifiers (Sec. 4.2.2, 4.3.2): a dataset table -> Lightning DataModule.

The table is what ``ganon.data.datasets.read_dataset`` returns: ``path`` and ``split`` for every
row, plus ``label`` (single-label datasets) or ``labels`` (CelebA's 40 attributes as one array).
``image_root_override`` re-roots the paths of chosen splits onto a copy of the dataset, so that the
same table trains on anonymized images and is evaluated on the original ones (the training scenario).

Transforms (one choice for every dataset, derived from ``Preprocessing`` so training and the saved
checkpoint can never disagree): shorter side to ``resize``, centre crop ``crop``, ImageNet
mean/std. Training adds only a horizontal flip with p = 0.5. That is what the paper states
(normalisation and flipping) and what the authors' code does (resize 232, centre crop 224); neither
uses rotations or random crops, so neither does this module.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from ganon.models.classifier_checkpoint import PAPER_PREPROCESSING, Preprocessing
from ganon.imageio import IMAGE_SUFFIXES, read_image

__all__ = [
    "ClassifierDataModule",
    "ImageTableDataset",
    "TableSpec",
    "class_weights",
    "preprocess_image",
    "reroot_paths",
    "table_spec",
]

logger = logging.getLogger(__name__)

Task = Literal["multiclass", "multilabel"]
#: Suffixes tried when an anonymized copy was written in another image format than the original.


def preprocess_image(image: np.ndarray, preprocessing: Preprocessing = PAPER_PREPROCESSING) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> normalised (3, crop, crop) float tensor, exactly as ``load_classifier`` does."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    mode = InterpolationMode.BICUBIC if preprocessing.interpolation == "bicubic" else InterpolationMode.BILINEAR
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    tensor = F.resize(tensor, [preprocessing.resize], interpolation=mode, antialias=True)
    tensor = F.center_crop(tensor, [preprocessing.crop, preprocessing.crop])
    return F.normalize(tensor.float() / 255.0, mean=list(preprocessing.mean), std=list(preprocessing.std))


def class_weights(labels: Sequence[int] | np.ndarray, n_classes: int) -> np.ndarray:
    """Class-balanced weights ``n / (k * count_c)`` from training labels (scikit-learn's "balanced").

    ``k`` counts only the classes present, so the weights average to 1 over the samples; a class
    without training samples gets weight 0 (it never appears as a target, so nothing is lost).
    """
    values = np.asarray(labels, dtype=np.int64)
    if values.size == 0:
        raise ValueError("no training labels to compute class weights from")
    if values.min() < 0 or values.max() >= n_classes:
        raise ValueError(f"labels must lie in 0..{n_classes - 1}, found {values.min()}..{values.max()}")
    counts = np.bincount(values, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes, dtype=np.float64)
    weights[present] = values.size / (present.sum() * counts[present])
    return weights


@dataclass(frozen=True)
class TableSpec:
    """What a table holds for training: the task and the class (or attribute) names in output order."""

    task: Task
    classes: tuple[str, ...]


def table_spec(table: pd.DataFrame, *, classes: Sequence[str] | None = None) -> TableSpec:
    """Infer the task and class order: ``labels`` arrays -> multilabel (names from the dataset
    manifest), else ``label`` -> multiclass with the manifest's ``label_map`` order."""
    dataset = table.attrs.get("dataset")
    if classes is None and dataset:
        from ganon.data.manifests import load_dataset

        manifest = load_dataset(str(dataset))
        classes = list(manifest.class_names)
    if "labels" in table.columns:
        if classes is None:
            raise ValueError("a multilabel table needs class names (no dataset name in table.attrs)")
        width = len(np.asarray(table["labels"].iloc[0]))
        if width != len(classes):
            raise ValueError(f"the table's labels have {width} columns but {len(classes)} names are given")
        return TableSpec(task="multilabel", classes=tuple(str(c) for c in classes))
    if "label" not in table.columns:
        raise ValueError(f"the table has neither 'label' nor 'labels'; columns: {list(table.columns)}")
    if classes is None:
        if "label_name" not in table.columns:
            raise ValueError("cannot tell the class names: no dataset in table.attrs and no 'label_name'")
        pairs = dict(zip(table["label"].astype(int), table["label_name"].astype(str)))
        classes = [pairs[i] for i in range(max(pairs) + 1)] if set(pairs) == set(range(max(pairs) + 1)) else None
        if classes is None:
            raise ValueError("label_name does not cover 0..K-1; pass classes explicitly")
    return TableSpec(task="multiclass", classes=tuple(str(c) for c in classes))


def _find_copy(target: Path) -> Path | None:
    if target.is_file():
        return target
    for suffix in sorted(IMAGE_SUFFIXES):
        for candidate in (target.with_suffix(suffix), target.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def reroot_paths(
    paths: Sequence[str],
    *,
    original_root: Path | str,
    new_root: Path | str,
    missing: Literal["error", "drop"] = "error",
) -> list[str | None]:
    """Map each path under ``original_root`` to the same relative path under ``new_root``.

    A copy with another image suffix (``a.jpg`` -> ``a.png``) is accepted. Copies that do not exist
    (an anonymizer found no face) raise with ``missing="error"``; with ``"drop"`` they become None.
    """
    original_root, new_root = Path(original_root).resolve(), Path(new_root).resolve()
    if not new_root.is_dir():
        raise FileNotFoundError(f"{new_root}: the anonymized image root is not a folder")
    mapped: list[str | None] = []
    absent: list[Path] = []
    for path in paths:
        try:
            relative = Path(path).resolve().relative_to(original_root)
        except ValueError:
            raise ValueError(f"{path} is not under the dataset root {original_root}") from None
        found = _find_copy(new_root / relative)
        if found is None:
            absent.append(new_root / relative)
        mapped.append(None if found is None else str(found))
    if absent and missing == "error":
        raise FileNotFoundError(
            f"{len(absent)} of {len(paths)} images have no copy under {new_root}, e.g. {absent[0]}; "
            "use missing='drop' (--drop-missing) to train on the copies that exist"
        )
    if absent:
        logger.warning("%d of %d images have no copy under %s; dropped", len(absent), len(paths), new_root)
    return mapped


class ImageTableDataset(Dataset):
    """Rows of a table -> (image tensor, target): int64 class index or float32 0/1 vector."""

    def __init__(self, paths: Sequence[str], targets: np.ndarray, *, preprocessing: Preprocessing,
                 hflip_probability: float = 0.0) -> None:
        if len(paths) != len(targets):
            raise ValueError(f"{len(paths)} paths but {len(targets)} targets")
        self.paths = list(paths)
        self.targets = targets
        self.preprocessing = preprocessing
        self.hflip_probability = hflip_probability

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = read_image(self.paths[index]).rgb
        tensor = preprocess_image(image, self.preprocessing)
        # torch's generator is seeded per worker by Lightning, so flips are reproducible.
        if self.hflip_probability > 0 and torch.rand(()) < self.hflip_probability:
            tensor = tensor.flip(-1)
        return tensor, torch.as_tensor(self.targets[index])


def targets_of(table: pd.DataFrame, task: Task) -> np.ndarray:
    """int64 labels (multiclass) or float32 (n, k) indicators (multilabel) of the table's rows."""
    if task == "multilabel":
        return np.stack([np.asarray(v, dtype=np.float32) for v in table["labels"]]) if len(table) else np.zeros((0, 0), np.float32)
    return table["label"].to_numpy(dtype=np.int64)


class ClassifierDataModule(L.LightningDataModule):
    """Train/val loaders over a dataset table, optionally re-rooted onto anonymized copies.

    ``image_root_override`` replaces ``original_root`` (default: ``table.attrs["root"]``, set by the
    dataset readers) in the paths of the ``override_splits``. By default both training and
    validation (used for early stopping and checkpoint selection) read the anonymized copies, so the
    original validation images stay unseen until ``ganon.evaluation.training_scenario`` reports on them.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        *,
        preprocessing: Preprocessing = PAPER_PREPROCESSING,
        batch_size: int = 32,
        num_workers: int = 0,
        hflip_probability: float = 0.5,
        classes: Sequence[str] | None = None,
        train_split: str = "train",
        val_split: str = "val",
        image_root_override: Path | str | None = None,
        original_root: Path | str | None = None,
        override_splits: Sequence[str] = ("train", "val"),
        missing: Literal["error", "drop"] = "error",
    ) -> None:
        super().__init__()
        self.spec = table_spec(table, classes=classes)
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.hflip_probability = hflip_probability
        self.train_split, self.val_split = train_split, val_split
        self.tables = {split: self._rows(table, split, image_root_override=image_root_override,
                                         original_root=original_root, override=split in override_splits,
                                         missing=missing)
                       for split in (train_split, val_split)}  # fmt: skip

    @staticmethod
    def _rows(table: pd.DataFrame, split: str, *, image_root_override: Path | str | None,
              original_root: Path | str | None, override: bool, missing: Literal["error", "drop"]) -> pd.DataFrame:
        rows = table[table["split"].astype(str) == split].reset_index(drop=True)
        if rows.empty:
            raise ValueError(f"the table has no rows in split {split!r}; splits: {sorted(table['split'].astype(str).unique())}")
        if image_root_override is None or not override:
            return rows
        root = original_root if original_root is not None else table.attrs.get("root")
        if root is None:
            raise ValueError("image_root_override needs original_root (the table has no attrs['root'])")
        mapped = reroot_paths(rows["path"].tolist(), original_root=root, new_root=image_root_override, missing=missing)
        rows = rows.assign(original_path=rows["path"], path=mapped)
        return rows[rows["path"].notna()].reset_index(drop=True)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    @property
    def task(self) -> Task:
        return self.spec.task

    def train_targets(self) -> np.ndarray:
        return targets_of(self.tables[self.train_split], self.task)

    def dataset(self, split: str, *, train: bool = False) -> ImageTableDataset:
        rows = self.tables[split]
        return ImageTableDataset(rows["path"].tolist(), targets_of(rows, self.task), preprocessing=self.preprocessing,
                                 hflip_probability=self.hflip_probability if train else 0.0)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.dataset(self.train_split, train=True), shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset(self.val_split), shuffle=False)

    def _loader(self, dataset: ImageTableDataset, *, shuffle: bool) -> DataLoader:
        options: dict[str, Any] = {"persistent_workers": True} if self.num_workers > 0 else {}
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
                          **options)
