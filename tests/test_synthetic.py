"""Synthetic training faces from gan-face-generate's DCGAN: real weights, deterministic per (seed, index)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from ganon.data.synthetic import (
    STATE_KEY,
    DCGANGenerator,
    dcgan_weights_path,
    face_filename,
    latent_vectors,
    load_dcgan,
    sample_faces,
    write_faces,
)


def test_weights_load_strictly_into_our_module() -> None:
    state = torch.load(dcgan_weights_path(), map_location="cpu", weights_only=True)[STATE_KEY]
    model = DCGANGenerator()
    ours = model.state_dict()
    assert set(ours) == set(state)
    assert all(ours[k].shape == state[k].shape for k in ours)
    model.load_state_dict(state, strict=True)  # raises on any missing/unexpected key
    loaded = load_dcgan()
    assert not loaded.training
    assert torch.equal(loaded.main[0].weight, state["main.0.weight"])


def test_faces_depend_on_seed_and_index_only() -> None:
    whole = dict(sample_faces(6, seed=7, batch_size=4))
    tail = dict(sample_faces(3, seed=7, start=3, batch_size=1))
    assert sorted(whole) == list(range(6)) and sorted(tail) == [3, 4, 5]
    for index in tail:
        np.testing.assert_array_equal(whole[index], tail[index])
    other_seed = dict(sample_faces(2, seed=8))
    assert not np.array_equal(other_seed[0], whole[0])
    assert not np.array_equal(whole[0], whole[1])
    torch.testing.assert_close(latent_vectors([5], seed=7), latent_vectors([9, 5], seed=7)[1:])


def test_shape_dtype_and_content() -> None:
    faces = dict(sample_faces(2, seed=0, size=64))
    native = faces[0]
    assert native.shape == (64, 64, 3) and native.dtype == np.uint8 and native.flags.c_contiguous
    assert native.std() > 20  # a picture, not a flat canvas
    big = dict(sample_faces(1, seed=0, size=128))[0]
    assert big.shape == (128, 128, 3) and big.dtype == np.uint8
    # the upscaled face is the native one, Lanczos-interpolated
    down = cv2.resize(big, (64, 64), interpolation=cv2.INTER_AREA).astype(np.int16)
    assert np.abs(down - native.astype(np.int16)).mean() < 6
    with pytest.raises(ValueError):
        next(sample_faces(-1))


def test_write_faces_is_lossless_and_resumable(tmp_path) -> None:
    paths = write_faces(tmp_path, 3, seed=2, size=96, progress=False)
    assert [p.name for p in paths] == [face_filename(i, seed=2) for i in range(3)]
    faces = dict(sample_faces(3, seed=2, size=96))
    for index, path in enumerate(paths):
        np.testing.assert_array_equal(cv2.imread(str(path))[..., ::-1], faces[index])
    stamp = paths[0].stat().st_mtime_ns
    again = write_faces(tmp_path, 4, seed=2, size=96, progress=False)
    assert len(again) == 4 and again[3].exists()
    assert paths[0].stat().st_mtime_ns == stamp  # existing files are kept


def test_cli_synth_faces(tmp_path) -> None:
    from typer.testing import CliRunner

    from ganon.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["synth-faces", "2", "--out", str(tmp_path), "--seed", "4", "--size", "64",
                                 "--start", "10"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == [face_filename(10, seed=4), face_filename(11, seed=4)]
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / names[0]))[..., ::-1],
                                  dict(sample_faces(1, seed=4, start=10))[10])
    assert runner.invoke(app, ["synth-faces", "0", "--out", str(tmp_path)]).exit_code == 2
