"""Section 3.4 at inference: landmark canvases in, synthetic faces out, with a generator loaded once."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ganon.models.checkpoint import LoadedGenerator, load_any
from ganon.models.pix2pix import GeneratorConfig
from ganon.pipeline.synthesize_codes import check_codes

__all__ = ["Synthesizer", "resolve_device"]

log = logging.getLogger(__name__)

#: Images are mapped to [-1, 1] with mean = std = 0.5 per channel, the generator's Tanh range.
MEAN = STD = 0.5


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else as given (CUDA must then exist)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but CUDA is not available")
    return resolved


class Synthesizer:
    """Turns uint8 RGB landmark canvases (R, R, 3) into uint8 RGB faces of the same size, in batches.

    The generator runs in eval mode (dropout off) under ``torch.inference_mode``, so the same canvas
    always gives the same face. ``bf16`` enables bfloat16 autocast, on CUDA only.

    Example::

        synth = Synthesizer.from_file("weights/ganon-paper.safetensors")
        faces = synth([canvas])
    """

    def __init__(
        self,
        loaded: LoadedGenerator,
        *,
        device: str | torch.device = "auto",
        batch_size: int = 8,
        bf16: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.device = resolve_device(device)
        if bf16 and self.device.type != "cuda":
            raise ValueError("bf16 autocast is only supported on CUDA")
        self.batch_size = batch_size
        self.bf16 = bf16
        self.model = loaded.model.to(self.device).eval()
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.config: GeneratorConfig = loaded.config
        self.card: dict[str, Any] = loaded.card
        self.sha256: str = loaded.sha256
        self.render_style: str = loaded.render_style
        self.resolution: int = loaded.config.resolution
        self.code_dim: int = loaded.config.code_dim  # 0: deterministic, no appearance code
        self.source = loaded.path

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str | torch.device = "auto",
        batch_size: int = 8,
        bf16: bool = False,
        expected_sha256: str | None = None,
    ) -> Synthesizer:
        """Load weights (``.safetensors``, or the authors' ``.ckpt``/``.pt``) and wrap them."""
        loaded = load_any(path, device="cpu", expected_sha256=expected_sha256)
        log.info(
            "generator %s (sha256 %s, %d px, %s rendering)",
            path,
            loaded.sha256[:12],
            loaded.resolution,
            loaded.render_style,
        )
        return cls(loaded, device=device, batch_size=batch_size, bf16=bf16)

    def __call__(self, canvases: Sequence[np.ndarray],
                 codes: Sequence[np.ndarray] | np.ndarray | None = None) -> list[np.ndarray]:
        """Synthesize one face per canvas; order is kept.

        ``codes`` (one ``code_dim`` vector per canvas) are required by a coded generator and ignored
        by an un-coded one.
        """
        for i, canvas in enumerate(canvases):
            self._check(i, canvas)
        code_array = check_codes(codes, len(canvases), self.code_dim)
        faces: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(canvases), self.batch_size):
                stop = start + self.batch_size
                faces.extend(self._run(canvases[start:stop], None if code_array is None else code_array[start:stop]))
        return faces

    def _run(self, batch: Sequence[np.ndarray], codes: np.ndarray | None) -> list[np.ndarray]:
        x = torch.from_numpy(np.stack(batch)).to(self.device).permute(0, 3, 1, 2).float()
        x = (x / 255.0 - MEAN) / STD
        if self.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        code = None if codes is None else torch.from_numpy(codes).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            y = self.model(x) if code is None else self.model(x, code)
        y = ((y.float() * STD + MEAN) * 255.0).round_().clamp_(0, 255).to(torch.uint8)
        return list(y.permute(0, 2, 3, 1).contiguous().cpu().numpy())

    def _check(self, index: int, canvas: np.ndarray) -> None:
        r = self.resolution
        if not isinstance(canvas, np.ndarray) or canvas.dtype != np.uint8 or canvas.shape != (r, r, 3):
            got = (canvas.dtype, canvas.shape) if isinstance(canvas, np.ndarray) else type(canvas).__name__
            raise ValueError(f"canvas {index}: expected uint8 RGB of shape ({r}, {r}, 3), got {got}")

    def __repr__(self) -> str:
        return (
            f"Synthesizer(source={str(self.source)!r}, resolution={self.resolution}, "
            f"render_style={self.render_style!r}, device={self.device}, batch_size={self.batch_size})"
        )
