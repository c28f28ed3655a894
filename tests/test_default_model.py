"""The default generator that ships with ganon: its file, its card, and `ganon anonymize` without --weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ganon.backends.detectors import build_detector
from ganon.cli import app
from ganon.imageio import read_image
from ganon.models.checkpoint import WeightsError, load_generator, sha256_file
from ganon.weights import DEFAULT_WEIGHTS, SHIPPED_DIR, resolve_weights, shipped_card, shipped_weights

MAX_BYTES = 25 * 1024 * 1024


def test_the_default_ships_within_25_mb_with_a_matching_card() -> None:
    assert DEFAULT_WEIGHTS in shipped_weights()
    path = resolve_weights(None)
    assert path == SHIPPED_DIR / f"{DEFAULT_WEIGHTS}.safetensors"
    assert path.stat().st_size <= MAX_BYTES
    card = shipped_card(DEFAULT_WEIGHTS)
    assert card["sha256"] == sha256_file(path)
    assert card["size_bytes"] == path.stat().st_size
    # The card says how to make the file again and what came out of training.
    assert card["command"][:2] == ["ganon", "train"] and card["steps"] > 0 and card["wall_time_s"] > 0
    script, *arguments = card["reproduce"][0].split()
    assert (Path(__file__).resolve().parents[1] / script).is_file() and arguments[-1] == str(card["steps"])
    assert card["data"]["train_pairs"] > 0
    quality = card["quality"]
    assert 0.0 <= quality["identity"]["fraction_above_threshold"] <= 1.0


def test_a_tampered_default_is_refused(tmp_path: Path) -> None:
    source = resolve_weights(None)
    tampered = tmp_path / source.name
    data = bytearray(source.read_bytes())
    data[-1] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_generator(tampered, expected_sha256=shipped_card(DEFAULT_WEIGHTS)["sha256"])


def test_anonymize_uses_the_default_and_changes_every_face(samples_dir: Path, tmp_path: Path) -> None:
    photo = samples_dir / "photos" / "grace_hopper.jpg"
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["anonymize", str(photo), "--out", str(out), "--json", str(report)])
    assert result.exit_code == 0, result.output
    entry = json.loads(report.read_text())["files"][0]
    assert entry["faces_found"] == 1 and entry["faces_anonymized"] == 1
    original = read_image(photo).rgb.astype(np.int16)
    written = read_image(out / "grace_hopper.jpg").rgb.astype(np.int16)
    assert written.shape == original.shape
    (detection,) = build_detector("retinaface-mobilenet").detect(original.astype(np.uint8))
    x1, y1, x2, y2 = detection.box
    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, 0.2 * min(x2 - x1, y2 - y1)
    centre = (slice(int(cy - r), int(cy + r)), slice(int(cx - r), int(cx + r)))
    assert np.abs(written[centre] - original[centre]).mean() > 8  # the face is repainted
    assert np.abs(written[:16, :16] - original[:16, :16]).mean() < 3  # the background is not
