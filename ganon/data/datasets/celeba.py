"""CelebA (Liu et al. 2015): 40 binary attributes, the official partition and identities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ganon.data.datasets.base import DATASETS, DatasetReader

IMAGE_DIRS = ("img_align_celeba", "Img/img_align_celeba")
ATTR_FILES = ("list_attr_celeba.txt", "Anno/list_attr_celeba.txt")
PARTITION_FILES = ("list_eval_partition.txt", "Eval/list_eval_partition.txt")
IDENTITY_FILES = ("identity_CelebA.txt", "Anno/identity_CelebA.txt")
PARTITIONS = {0: "train", 1: "val", 2: "test"}


def find_partition(root: Path | str) -> tuple[Path, Path] | None:
    """(image folder, ``list_eval_partition.txt``) when ``root`` is a CelebA tree, else None.

    ``root`` may be the CelebA root in either layout the reader accepts (``img_align_celeba/`` or
    the download's ``Img/img_align_celeba/`` + ``Eval/``), or that image folder itself.
    """
    root = Path(root)
    for base in (root, root.parent, root.parent.parent):
        for name in IMAGE_DIRS:
            images = base / name
            if not images.is_dir() or (base != root and images.resolve() != root.resolve()):
                continue
            for partition in PARTITION_FILES:
                if (base / partition).is_file():
                    return images, base / partition
    return None


def read_partition(path: Path | str) -> dict[str, str]:
    """``list_eval_partition.txt`` as file name -> ``train``, ``val`` or ``test`` (the official split)."""
    path = Path(path)
    splits: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in {"0", "1", "2"}:
            raise ValueError(f"{path}:{number}: expected '<file> <0|1|2>', got {line.strip()!r}")
        splits[parts[0]] = PARTITIONS[int(parts[1])]
    return splits


@DATASETS.register("celeba")
class CelebA(DatasetReader):
    """One row per image: ``path``, ``image_id``, ``split``, ``subject``, 40 attribute columns (0/1)
    in the file's order, and ``labels`` (the same 40 values as a uint8 array)."""

    name = "celeba"

    def __init__(self, root: Path | str, *, check_images: bool = True) -> None:
        super().__init__(root)
        self.check_images = check_images

    def read_attributes(self, path: Path) -> pd.DataFrame:
        """``list_attr_celeba.txt`` as a table indexed by file name, values mapped +1/-1 -> 1/0."""
        with open(path, encoding="utf-8") as handle:
            first, second = handle.readline().strip(), handle.readline().split()
        try:
            declared = int(first)
        except ValueError:
            raise self.layout_error(f"{path}: the first line should be the number of images, found {first!r}") from None
        expected = self.manifest.class_names
        if second != expected:
            raise self.layout_error(f"{path}: the second line should name the 40 attributes {expected}, found {second}")
        try:
            table = pd.read_csv(path, sep=r"\s+", skiprows=2, header=None, names=["image_id", *expected],
                                index_col="image_id")
        except (ValueError, pd.errors.ParserError) as error:
            raise self.layout_error(f"{path}: each line must be a file name and 40 values ({error})") from None
        if table.isna().any().any():
            raise self.layout_error(f"{path}: some lines have fewer than 40 values")
        if len(table) != declared:
            raise self.layout_error(f"{path}: declares {declared} images but lists {len(table)}")
        values = table.to_numpy()
        if not np.isin(values, (-1, 1)).all():
            raise self.layout_error(f"{path}: attribute values must be +1 or -1")
        return pd.DataFrame(((values + 1) // 2).astype(np.uint8), index=table.index, columns=expected)

    def _read_pairs(self, path: Path, column: str) -> pd.Series:
        try:
            table = pd.read_csv(path, sep=r"\s+", header=None, names=["image_id", column], index_col="image_id",
                                dtype={"image_id": str})
        except (ValueError, pd.errors.ParserError) as error:
            raise self.layout_error(f"{path}: every line must be '<file> <{column}>' ({error})") from None
        if table[column].isna().any():
            raise self.layout_error(f"{path}: every line must be '<file> <{column}>'")
        return table[column]

    def _read(self) -> pd.DataFrame:
        images = self.find(*IMAGE_DIRS, kind="dir")
        attributes = self.read_attributes(self.find(*ATTR_FILES))
        partition_file = self.find(*PARTITION_FILES)
        partition = self._read_pairs(partition_file, "partition")
        missing = attributes.index.difference(partition.index)
        if len(missing):
            raise self.layout_error(f"{partition_file} has no partition for {len(missing)} images, e.g. {missing[0]}")
        unknown = set(partition.unique()) - set(PARTITIONS)
        if unknown:
            raise self.layout_error(f"{partition_file}: partition values must be 0, 1 or 2, found {sorted(unknown)}")
        frame = pd.DataFrame({"image_id": attributes.index})
        frame["path"] = [str(images / name) for name in frame["image_id"]]
        frame["split"] = partition.loc[frame["image_id"]].map(PARTITIONS).to_numpy()
        identity_file = self.find_optional(*IDENTITY_FILES)
        if identity_file is not None:
            identity = self._read_pairs(identity_file, "identity")
            frame["subject"] = identity.reindex(frame["image_id"]).astype("Int64").astype("string").to_numpy()
        else:
            frame["subject"] = pd.NA
        if self.check_images:
            absent = [p for p in frame["path"] if not Path(p).is_file()]
            if absent:
                raise self.layout_error(f"{len(absent)} images listed in the attribute file are missing, e.g. {absent[0]}")
        values = attributes.to_numpy()
        frame = pd.concat([frame, pd.DataFrame(values, columns=attributes.columns)], axis=1)
        frame["labels"] = list(values)
        return frame
