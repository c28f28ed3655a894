"""Section 3.4 on a CPU without PyTorch: the generator exported once to ONNX, run by onnxruntime.

Importing torch costs ~1.5 s of CPU per ``ganon anonymize`` run, more than the whole generator work of
a folder of photos. The first CPU run exports the weights (checked against PyTorch by
``ganon.models.export``) into ``$GANON_CACHE/onnx/<sha256>.onnx`` with a JSON card beside it; later runs
load that file and never import torch. ``GANON_ONNX=0`` turns this off. A coded generator (the
seeded variant) is exported with a second input ``code``; a cache entry without one is used only for
un-coded weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MEAN = STD = 0.5  # as ganon.pipeline.synthesize


def enabled(device: str) -> bool:
    """Use the ONNX path for ``device``: CPU asked for, or 'auto' on a machine without an NVIDIA GPU."""
    if os.environ.get("GANON_ONNX", "1") == "0":
        return False
    return device == "cpu" or (device == "auto" and not Path("/dev/nvidiactl").exists())


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cache(sha256: str) -> tuple[Path, Path]:
    from ganon.data.assets import cache_dir

    folder = cache_dir() / "onnx"
    return folder / f"{sha256}.onnx", folder / f"{sha256}.json"


class OnnxSynthesizer:
    """The attributes and call of ``Synthesizer`` (uint8 RGB canvases in, faces out, in batches)."""

    def __init__(self, onnx_path: Path, card: dict[str, Any], *, source: Path, batch_size: int = 8) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        # onnxruntime ignores OMP_NUM_THREADS; honour it (one thread is the fastest on a busy 2-core CPU).
        threads = os.environ.get("OMP_NUM_THREADS", "")
        if threads.isdigit() and int(threads) > 0:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        names = [arg.name for arg in self.session.get_inputs()]
        self.input_name = names[0]
        self.code_dim: int = int(card.get("code_dim", 0))
        if self.code_dim and names[1:] != ["code"]:
            raise ValueError(f"{onnx_path}: the card says code_dim {self.code_dim} but the model has no 'code' input")
        if not self.code_dim and len(names) != 1:
            raise ValueError(f"{onnx_path}: unexpected inputs {names} for an un-coded generator")
        self.batch_size = batch_size
        self.resolution: int = int(card["resolution"])
        self.render_style: str = card["render_style"]
        self.sha256: str = card["sha256"]
        self.card: dict[str, Any] = card.get("card", {})
        self.source = source
        self.device = "cpu (onnxruntime)"

    @classmethod
    def cached(cls, path: str | os.PathLike[str], *, batch_size: int = 8,
               expected_sha256: str | None = None) -> "OnnxSynthesizer | None":
        """The cached export of the weights at ``path``, or None (then load them with PyTorch)."""
        sha256 = file_sha256(path)
        if expected_sha256 is not None and sha256 != expected_sha256:
            return None  # the PyTorch loader raises the precise error
        onnx_path, card_path = _cache(sha256)
        if not (onnx_path.is_file() and card_path.is_file()):
            return None
        try:
            card = json.loads(card_path.read_text())
            synthesizer = cls(onnx_path, card, source=Path(path), batch_size=batch_size)
        except Exception as error:  # a damaged cache entry: fall back to PyTorch, which rewrites it
            log.warning("ignoring the cached ONNX generator %s: %s", onnx_path, error)
            return None
        log.info("generator %s (sha256 %s, %d px, %s rendering, onnxruntime)", path, sha256[:12],
                 synthesizer.resolution, synthesizer.render_style)
        return synthesizer

    @staticmethod
    def export(synthesizer: Any) -> Path:
        """Write a PyTorch ``Synthesizer``'s generator to the cache (checked against PyTorch)."""
        from ganon.models.export import export_onnx

        onnx_path, card_path = _cache(synthesizer.sha256)
        export_onnx(synthesizer.model, onnx_path, resolution=synthesizer.resolution, overwrite=True)
        card = {"sha256": synthesizer.sha256, "resolution": synthesizer.resolution,
                "render_style": synthesizer.render_style, "card": synthesizer.card,
                "code_dim": synthesizer.code_dim}
        tmp = card_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(card, default=str))
        os.replace(tmp, card_path)
        return onnx_path

    def __call__(self, canvases: Sequence[np.ndarray],
                 codes: Sequence[np.ndarray] | np.ndarray | None = None) -> list[np.ndarray]:
        """Synthesize one face per canvas; order is kept (``codes`` as for ``Synthesizer``)."""
        from ganon.pipeline.synthesize_codes import check_codes

        r = self.resolution
        for index, canvas in enumerate(canvases):
            if not isinstance(canvas, np.ndarray) or canvas.dtype != np.uint8 or canvas.shape != (r, r, 3):
                got = ((canvas.dtype, canvas.shape) if isinstance(canvas, np.ndarray)
                       else type(canvas).__name__)
                raise ValueError(f"canvas {index}: expected uint8 RGB of shape ({r}, {r}, 3), got {got}")
        code_array = check_codes(codes, len(canvases), self.code_dim)
        faces: list[np.ndarray] = []
        for start in range(0, len(canvases), self.batch_size):
            batch = np.stack(canvases[start:start + self.batch_size]).astype(np.float32)
            x = np.ascontiguousarray(((batch / 255.0 - MEAN) / STD).transpose(0, 3, 1, 2))
            feed = {self.input_name: x}
            if code_array is not None:
                feed["code"] = code_array[start:start + self.batch_size]
            (y,) = self.session.run(None, feed)
            y = np.clip(np.round((y * STD + MEAN) * 255.0), 0, 255).astype(np.uint8)
            faces.extend(np.ascontiguousarray(y.transpose(0, 2, 3, 1)))
        return faces

    def __repr__(self) -> str:
        return (f"OnnxSynthesizer(source={str(self.source)!r}, resolution={self.resolution}, "
                f"render_style={self.render_style!r}, batch_size={self.batch_size})")
