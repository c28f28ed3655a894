"""The DCGAN latent of every training pair made from ``ganon synth-faces`` output, for the coded variant.

A synthetic face ``synth_s<seed>_<index>.png`` is the DCGAN's picture of ``latent_vectors([index],
seed)``, so its z is known exactly. ``record_latents`` stores it per pair in ``latents.npz`` of the
pairs folder (``face_path`` and ``z`` arrays); the trainer feeds it as the appearance code, so the code
learns to decide what the DCGAN's z decided: skin, hair, eyes, lighting.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from pathlib import Path

import numpy as np

__all__ = ["LATENTS_FILE", "dcgan_key", "read_latents", "record_latents"]

log = logging.getLogger(__name__)

LATENTS_FILE = "latents.npz"
#: ``ganon.data.synthetic.face_filename``: ``synth_s{seed}_{index:07d}.png``.
_NAME = re.compile(r"(?:^|/)synth_s(\d+)_(\d+)\.png$")


def dcgan_key(source: str) -> tuple[int, int] | None:
    """(seed, index) of a synthetic DCGAN face from its file name; None for any other source."""
    match = _NAME.search(source)
    return (int(match.group(1)), int(match.group(2))) if match else None


def record_latents(pairs_dir: str | os.PathLike[str]) -> Path | None:
    """Write ``latents.npz`` for every stored pair whose source is a DCGAN face; None when there is none."""
    from ganon.pipeline.preprocess import read_manifests

    out = Path(pairs_dir)
    rows = [(row["face_path"], dcgan_key(row["source"])) for row in read_manifests(out) if row.get("face_path")]
    rows = [(face, key) for face, key in rows if key is not None]
    if not rows:
        return None
    from ganon.data.synthetic import latent_vectors

    z = np.empty((len(rows), 100), np.float32)
    for seed in sorted({key[0] for _, key in rows}):
        at = [i for i, (_, key) in enumerate(rows) if key[0] == seed]
        z[at] = latent_vectors([rows[i][1][1] for i in at], seed=seed).numpy()
    path = out / LATENTS_FILE
    tmp = out / f".{LATENTS_FILE}.{uuid.uuid4().hex[:8]}.npz"
    np.savez(tmp, face_path=np.array([face for face, _ in rows]), z=z)
    os.replace(tmp, path)
    log.info("recorded the DCGAN latent of %d pairs in %s", len(rows), path)
    return path


def read_latents(pairs_dir: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``face_path`` -> z (float32) from ``latents.npz``; a clear error when the folder has none."""
    path = Path(pairs_dir) / LATENTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no recorded latents; the coded generator trains on pairs of DCGAN faces "
            "(`ganon synth-faces`, then `ganon preprocess`, which records each pair's z)")
    with np.load(path, allow_pickle=False) as data:
        return {str(face): z for face, z in zip(data["face_path"], data["z"].astype(np.float32), strict=True)}
