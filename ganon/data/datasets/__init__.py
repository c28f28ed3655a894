"""Readers for the paper's five datasets in their official on-disk layouts (see data_manifests/datasets).

``read_dataset("ckplus", "/data/CK+")`` returns a tidy ``pandas.DataFrame`` with one row per sample.
"""

from __future__ import annotations

from ganon.data.datasets import affectnet, celeba, ckplus, faces, openpeople, samples, wider  # noqa: F401  (registers readers)
from ganon.data.datasets.affectnet import AffectNet
from ganon.data.datasets.base import DATASETS, DatasetLayoutError, DatasetReader, read_dataset
from ganon.data.datasets.celeba import CelebA
from ganon.data.datasets.ckplus import CKPlus
from ganon.data.datasets.faces import Faces, parse_faces_filename
from ganon.data.datasets.openpeople import OpenPeople
from ganon.data.datasets.samples import Samples
from ganon.data.datasets.splits import subject_disjoint_split
from ganon.data.datasets.wider import WiderFace, parse_wider_gt

__all__ = [
    "DATASETS", "AffectNet", "CKPlus", "CelebA", "DatasetLayoutError", "DatasetReader", "Faces", "OpenPeople", "Samples", "WiderFace",
    "parse_faces_filename", "parse_wider_gt", "read_dataset", "subject_disjoint_split",
]
