"""Table 1's classical baselines: pixelation and Gaussian blur, their effect on dlib identity, the CLI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from ganon.backends.identity import DlibIdentity
from ganon.evaluation.baselines import BASELINES, build_baseline, gaussian_blur, pixelate
from ganon.imageio import read_image

FACES = (
    "astronaut.png",
    "grace_hopper.jpg",
    "tom_hanks.png",
    "portrait_f15_happy.jpg",
    "portrait_m7_disgust.jpg",
)


@pytest.fixture(scope="module")
def portrait(samples_dir: Path) -> np.ndarray:
    return read_image(samples_dir / "photos" / "portrait_f13_anger.jpg").rgb  # 512 x 512


def _colours(image: np.ndarray) -> int:
    return len(np.unique(image.reshape(-1, 3), axis=0))


def test_registry_holds_the_papers_four_baselines() -> None:
    assert BASELINES.names() == ["blur-17x17", "blur-9x9", "pixelate-16x16", "pixelate-8x8"]


def test_grid_8x8_leaves_64_uniform_cells_of_mean_colour(portrait: np.ndarray) -> None:
    out = BASELINES.get("pixelate-8x8")(portrait)
    assert out.shape == portrait.shape and out.dtype == np.uint8
    assert _colours(out) == 64
    cell = out[64:128, 192:256]
    assert (cell == cell[0, 0]).all()
    expected = np.rint(portrait[64:128, 192:256].reshape(-1, 3).mean(axis=0))
    np.testing.assert_array_equal(cell[0, 0], expected)
    sixteen = BASELINES.get("pixelate-16x16")(portrait)
    np.testing.assert_array_equal(sixteen, np.repeat(np.repeat(sixteen[::32, ::32], 32, axis=0), 32, axis=1))


def test_block_reading_uses_pixel_sized_cells(portrait: np.ndarray) -> None:
    out = build_baseline("pixelate-8x8", mode="block")(portrait)
    assert (out[8:16, 8:16] == out[8, 8]).all()
    assert 64 < _colours(out) <= 64 * 64  # 4096 cells of 8 px, far more than the grid's 64


def test_grid_divides_any_size_into_the_same_number_of_cells(samples_dir: Path) -> None:
    image = read_image(samples_dir / "photos" / "grace_hopper.jpg").rgb  # 600 x 512
    out = pixelate(image, size=8)
    assert out.shape == image.shape
    assert _colours(out) <= 64
    rows = np.flatnonzero(np.any(out[1:, 0] != out[:-1, 0], axis=1)) + 1
    assert len(rows) <= 7 and all(abs(b - a - 75) <= 1 for a, b in zip([0, *rows], [*rows, 600]))


def test_larger_blur_kernel_smooths_more(portrait: np.ndarray) -> None:
    def sharpness(image: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())

    nine, seventeen = BASELINES.get("blur-9x9")(portrait), BASELINES.get("blur-17x17")(portrait)
    assert sharpness(seventeen) < sharpness(nine) < 0.5 * sharpness(portrait)

    def change(image: np.ndarray) -> float:
        return float(np.abs(image.astype(float) - portrait).mean())

    assert change(seventeen) > 1.3 * change(nine) > 0
    with pytest.raises(ValueError):
        gaussian_blur(portrait, kernel=8)


def _face_crop(image: np.ndarray, model: DlibIdentity) -> np.ndarray:
    """A 512x512 crop around dlib's face box, like the pipeline's aligned canvases."""
    box = max(model._detector(image, 1), key=lambda b: b.area())
    cx, cy = (box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2
    half = int(max(box.width(), box.height()) * 0.65)
    padded = cv2.copyMakeBorder(image, half, half, half, half, cv2.BORDER_CONSTANT)
    x, y = int(cx), int(cy)
    return cv2.resize(padded[y : y + 2 * half, x : x + 2 * half], (512, 512), interpolation=cv2.INTER_CUBIC)


def test_dlib_distance_grows_in_table_1_order(samples_dir: Path) -> None:
    detecting = DlibIdentity()
    model = DlibIdentity(assume_aligned=True)  # pixelated faces are often not detected at all
    names = ("blur-9x9", "blur-17x17", "pixelate-16x16", "pixelate-8x8")
    distances: dict[str, list[float]] = {name: [] for name in names}
    for face in FACES:
        crop = _face_crop(read_image(samples_dir / "photos" / face).rgb, detecting)
        reference = model.embed(crop)
        for name in names:
            distances[name].append(model.distance(reference, model.embed(BASELINES.get(name)(crop))))
    means = [float(np.mean(distances[name])) for name in names]
    # observed, cosine: blur 0.005 < 0.006 < pixel 16x16 0.12 < 8x8 0.15 (euclidean 0.11, 0.14, 0.67, 0.75)
    assert means == sorted(means), dict(zip(names, means))
    assert max(distances["blur-17x17"]) < model.threshold
    assert means[2] > model.threshold and means[3] > model.threshold


def test_cli_baseline_mirrors_the_tree_and_never_overwrites(samples_dir: Path, tmp_path: Path) -> None:
    from ganon.cli import app

    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    (source / "a.jpg").write_bytes((samples_dir / "photos" / "portrait_f13_anger.jpg").read_bytes())
    (source / "sub" / "b.png").write_bytes((samples_dir / "photos" / "tom_hanks.png").read_bytes())
    out = tmp_path / "out"
    args = ["evaluate", "baseline", "pixelate-8x8", str(source), "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["a.png", "sub/b.png"]
    assert _colours(read_image(out / "a.png").rgb) == 64
    before = (out / "a.png").read_bytes()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "exists" in again.output
    assert (out / "a.png").read_bytes() == before
    unknown = CliRunner().invoke(
        app, ["evaluate", "baseline", "swirl", str(source), "--out", str(tmp_path / "o2")]
    )
    assert unknown.exit_code == 1 and "swirl" in unknown.output
