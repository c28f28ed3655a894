"""The generator's ONNX path (CPU runs without importing torch) gives PyTorch's faces."""

from __future__ import annotations

import numpy as np

from ganon.pipeline.synthesize import Synthesizer
from ganon.pipeline.synthesize_onnx import OnnxSynthesizer, enabled
from ganon.weights import resolve_weights


def test_onnx_export_matches_pytorch_and_is_found_in_the_cache(tmp_path, monkeypatch, one_torch_thread):
    monkeypatch.setenv("GANON_CACHE", str(tmp_path))
    path = resolve_weights(None)
    assert OnnxSynthesizer.cached(path) is None  # nothing cached yet
    torch_synth = Synthesizer.from_file(path, device="cpu", batch_size=4)
    OnnxSynthesizer.export(torch_synth)
    onnx_synth = OnnxSynthesizer.cached(path, batch_size=4)
    assert onnx_synth is not None and onnx_synth.sha256 == torch_synth.sha256
    assert onnx_synth.resolution == torch_synth.resolution
    assert onnx_synth.render_style == torch_synth.render_style
    rng = np.random.default_rng(0)
    r = torch_synth.resolution
    canvases = [rng.integers(0, 256, (r, r, 3), dtype=np.uint8) for _ in range(5)]  # two batches
    canvases[0][:] = 0
    expected, got = torch_synth(canvases), onnx_synth(canvases)
    assert len(got) == 5
    for a, b in zip(expected, got):
        assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= 1
    # A wrong hash: no ONNX, and the PyTorch loader raises the precise error.
    assert OnnxSynthesizer.cached(path, expected_sha256="0" * 64) is None


def test_onnx_path_is_chosen_for_cpu_only(monkeypatch):
    assert enabled("cpu") and not enabled("cuda")
    monkeypatch.setenv("GANON_ONNX", "0")
    assert not enabled("cpu")
