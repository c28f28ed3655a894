"""(landmark canvas, face) training pairs read from a ``ganon preprocess`` folder, as tensors in [-1, 1]."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ganon.pipeline.preprocess import read_manifests

__all__ = ["PairDataset", "pair_rows", "to_tensor"]

log = logging.getLogger(__name__)


def pair_rows(data_dir: str | os.PathLike[str], *, split: str | None = "train",
              include_missing: bool = False) -> list[dict[str, str]]:
    """Manifest rows that have a stored pair, of one split (None: every split)."""
    rows = read_manifests(data_dir)
    if not rows:
        raise FileNotFoundError(f"{data_dir}: no manifest*.csv (run `ganon preprocess` first)")
    keep = [
        r for r in rows
        if r["face_path"] and (split is None or r["split"] == split) and (include_missing or r["has_landmarks"] == "1")
    ]
    return keep


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 RGB (H, W, 3) -> float (3, H, W) in [-1, 1] (mean = std = 0.5)."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


class PairDataset(Dataset):
    """Item ``i`` is ``(condition, target)``: landmark canvas and segmented face, (3, R, R) in [-1, 1];
    with ``code_dim`` also the pair's recorded DCGAN latent, ``(condition, target, z)``.

    Pairs stored at another size are resized (area / nearest for the canvas, so dots stay dots).
    ``hflip`` mirrors both images together with probability 0.5.
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, split: str | None = "train", resolution: int = 128,
                 hflip: bool = False, include_missing: bool = False, code_dim: int = 0) -> None:
        self.root = Path(data_dir)
        self.rows = pair_rows(self.root, split=split, include_missing=include_missing)
        self.latents: dict[str, np.ndarray] | None = None
        if code_dim:
            from ganon.training.latents import read_latents

            self.latents = read_latents(self.root)
            without = [r["face_path"] for r in self.rows if r["face_path"] not in self.latents]
            if without:
                raise ValueError(f"{data_dir}: {len(without)} pairs of split {split!r} have no recorded latent "
                                 f"(e.g. {without[0]}); the coded generator trains on DCGAN faces only")
            sizes = {z.shape for z in self.latents.values()}
            if sizes != {(code_dim,)}:
                raise ValueError(f"{data_dir}: latents of shape {sizes}, the generator takes {code_dim}")
        self.split = split
        self.resolution = resolution
        self.hflip = hflip
        if not self.rows:
            raise ValueError(f"{data_dir}: no pairs in split {split!r}")

    def __len__(self) -> int:
        return len(self.rows)

    def _read(self, relative: str, *, canvas: bool) -> np.ndarray:
        path = self.root / relative
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"{path}: cannot read the stored pair image")
        rgb = bgr[..., ::-1]
        if rgb.shape[0] != self.resolution:
            inter = cv2.INTER_NEAREST if canvas else cv2.INTER_AREA
            rgb = cv2.resize(rgb, (self.resolution, self.resolution), interpolation=inter)
        return rgb

    def images(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The uint8 (canvas, face) of pair ``index``, unaugmented."""
        row = self.rows[index]
        return self._read(row["landmarks_path"], canvas=True), self._read(row["face_path"], canvas=False)

    def code(self, index: int) -> torch.Tensor | None:
        """The recorded latent of pair ``index`` (None without ``code_dim``)."""
        if self.latents is None:
            return None
        return torch.from_numpy(self.latents[self.rows[index]["face_path"]].copy())

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        canvas, face = self.images(index)
        condition, target = to_tensor(canvas), to_tensor(face)
        if self.hflip and torch.rand(()) < 0.5:
            condition, target = condition.flip(-1), target.flip(-1)
        code = self.code(index)
        return (condition, target) if code is None else (condition, target, code)
