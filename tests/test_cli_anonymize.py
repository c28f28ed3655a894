"""``ganon anonymize`` end to end on real photos and on every kind of bad input."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ganon.backends.detectors import build_detector
from ganon.cli import app
from ganon.imageio import read_image

PHOTOS = ("astronaut.png", "grace_hopper.jpg", "group_t1.jpg", "multi_face.jpg")


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory, runner: CliRunner) -> Path:
    """An untrained generator written by ``ganon models init`` (any valid weights will do here)."""
    path = tmp_path_factory.mktemp("weights") / "random.safetensors"
    result = runner.invoke(app, ["models", "init", str(path), "--preset", "small-128", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def detector():
    return build_detector("retinaface-mobilenet")


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["anonymize", *args, "--no-progress"])
    return result.exit_code, result.output


def test_composite_replaces_every_face_and_keeps_the_size(samples_dir: Path, tmp_path: Path, runner: CliRunner,
                                                          weights: Path, detector) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in PHOTOS:
        shutil.copy(samples_dir / "photos" / name, inputs / name)
    before = _digest(inputs)
    code, output = _run(runner, str(inputs), "--out", str(tmp_path / "out"), "--weights", str(weights),
                        "--json", str(tmp_path / "report.json"), "--batch-size", "4")
    assert code == 0, output
    assert _digest(inputs) == before  # inputs untouched
    report = json.loads((tmp_path / "report.json").read_text())
    by_name = {Path(r["source"]).name: r for r in report["files"]}
    for name in PHOTOS:
        original = read_image(inputs / name).rgb
        out = read_image(tmp_path / "out" / name).rgb
        assert out.shape == original.shape
        detections = detector.detect(original)
        assert by_name[name]["faces_found"] == len(detections) and by_name[name]["status"] == "ok"
        for det in detections:
            x1, y1, x2, y2 = det.box
            cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, 0.2 * min(x2 - x1, y2 - y1)
            ys, xs = slice(int(cy - r), int(cy + r)), slice(int(cx - r), int(cx + r))
            change = np.abs(out[ys, xs].astype(int) - original[ys, xs].astype(int)).mean()
            assert change > 8, f"{name}: face at {det.box.round()} barely changed ({change:.1f})"
        # far from every face the photo is unchanged (up to JPEG re-encoding)
        corner = np.abs(out[:16, :16].astype(int) - original[:16, :16].astype(int)).mean()
        assert corner < 3
    faces = sum(r["faces_found"] for r in report["files"])
    assert faces == 1 + 1 + 6 + 5


def test_crops_mode_writes_one_512_face_per_detection(samples_dir: Path, tmp_path: Path, runner: CliRunner,
                                                      weights: Path) -> None:
    code, output = _run(runner, str(samples_dir / "photos" / "multi_face.jpg"), "--out", str(tmp_path),
                        "--mode", "crops", "--weights", str(weights))
    assert code == 0, output
    crops = sorted(tmp_path.glob("multi_face_face*.png"))
    assert len(crops) == 5
    assert all(read_image(c).rgb.shape == (512, 512, 3) for c in crops)


def test_never_overwrites_and_says_so(samples_dir: Path, tmp_path: Path, runner: CliRunner, weights: Path) -> None:
    photo = samples_dir / "photos" / "astronaut.png"
    args = (str(photo), "--out", str(tmp_path / "out"), "--weights", str(weights))
    assert _run(runner, *args)[0] == 0
    first = _digest(tmp_path / "out")
    code, output = _run(runner, *args, "--json", str(tmp_path / "r.json"))
    assert code == 0 and "skipped" in output
    assert json.loads((tmp_path / "r.json").read_text())["files"][0]["status"] == "skipped_exists"
    assert _digest(tmp_path / "out") == first
    code, output = _run(runner, str(photo), "--out", str(photo.parent), "--weights", str(weights))
    assert code != 0  # an output that would replace its input is refused


def test_face_without_landmarks_is_obscured_or_fails(samples_dir: Path, tmp_path: Path, runner: CliRunner,
                                                     weights: Path, detector) -> None:
    """bw_human.jpg: RetinaFace finds a profile face on which the mesh finds nothing."""
    photo = samples_dir / "photos" / "bw_human.jpg"
    code, output = _run(runner, str(photo), "--out", str(tmp_path / "blur"), "--weights", str(weights),
                        "--json", str(tmp_path / "blur.json"))
    assert code == 0, output
    (entry,) = json.loads((tmp_path / "blur.json").read_text())["files"]
    assert entry["faces_found"] == 1 and entry["faces_anonymized"] == 0 and "obscured" in entry["reason"]
    original, out = read_image(photo).rgb, read_image(tmp_path / "blur" / photo.name).rgb
    (det,) = detector.detect(original)
    x1, y1, x2, y2 = det.box.astype(int)
    assert np.abs(out[y1:y2, x1:x2].astype(int) - original[y1:y2, x1:x2].astype(int)).mean() > 5

    code, output = _run(runner, str(photo), "--out", str(tmp_path / "err"), "--weights", str(weights),
                        "--on-miss", "error")
    assert code == 1 and "bw_human.jpg" in output and "no landmarks" in output
    assert not (tmp_path / "err" / photo.name).exists()  # fails closed: nothing written


def test_photo_without_faces(samples_dir: Path, tmp_path: Path, runner: CliRunner, weights: Path) -> None:
    mountain = samples_dir / "no_face" / "mountain.jpg"
    base = ("--weights", str(weights))
    assert _run(runner, str(mountain), "--out", str(tmp_path / "skip"), *base)[0] == 0
    assert not (tmp_path / "skip" / "mountain.jpg").exists()
    assert _run(runner, str(mountain), "--out", str(tmp_path / "copy"), *base, "--on-no-face", "copy")[0] == 0
    assert (tmp_path / "copy" / "mountain.jpg").is_file()
    code, output = _run(runner, str(mountain), "--out", str(tmp_path / "error"), *base, "--on-no-face", "error")
    assert code == 1 and "no face" in output


def test_missing_weights_says_how_to_get_some(samples_dir: Path, tmp_path: Path, runner: CliRunner) -> None:
    code, output = _run(runner, str(samples_dir / "photos" / "astronaut.png"), "--out", str(tmp_path),
                        "--weights", str(tmp_path / "nope.safetensors"))
    assert code == 2 and "nope.safetensors" in output and "ganon models init" in output
    assert not any(tmp_path.glob("*.png"))


def test_unknown_detector_lists_the_registered_ones(samples_dir: Path, tmp_path: Path, runner: CliRunner,
                                                    weights: Path) -> None:
    code, output = _run(runner, str(samples_dir / "photos" / "astronaut.png"), "--out", str(tmp_path / "out"),
                        "--weights", str(weights), "--detector", "RetinaFace-MobileNet")
    assert code == 2 and "'retinaface-mobilenet'" in output and "lower case" in output
    assert not (tmp_path / "out").exists()  # nothing was written


def _save(image: Image.Image, path: Path, **options: object) -> Path:
    image.save(path, **options)
    return path


def test_bad_and_unusual_inputs(samples_dir: Path, tmp_path: Path, runner: CliRunner, weights: Path) -> None:
    """Broken files fail with a reason naming them; unusual but valid ones are anonymized; the batch goes on."""
    src = tmp_path / "in"
    src.mkdir()
    face = Image.open(samples_dir / "photos" / "grace_hopper.jpg").convert("RGB")
    jpeg = io.BytesIO()
    face.save(jpeg, format="JPEG")
    (src / "zero.jpg").write_bytes(b"")
    (src / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (src / "notes.png").write_bytes(b"these are not the pixels you are looking for\n")
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    _save(face.convert("L"), src / "grey.png")
    _save(Image.fromarray((np.asarray(face.convert("L"), dtype=np.uint16) * 257)), src / "deep16.png")
    _save(face.convert("P", palette=Image.Palette.ADAPTIVE), src / "palette.png")
    rgba = face.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(face.size))
    _save(rgba, src / "alpha.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; viewers turn it 90 degrees clockwise
    _save(face.transpose(Image.Transpose.ROTATE_90), src / "rotated.jpg", exif=exif.tobytes())
    big = face.resize((8000, 8000), Image.Resampling.BILINEAR)
    _save(big, src / "huge.jpg", quality=80)
    before = _digest(src)

    code, output = _run(runner, str(src), "--out", str(tmp_path / "out"), "--weights", str(weights),
                        "--json", str(tmp_path / "report.json"))
    assert code == 1  # some files failed
    assert _digest(src) == before
    files = {Path(r["source"]).name: r for r in json.loads((tmp_path / "report.json").read_text())["files"]}
    for broken in ("zero.jpg", "truncated.jpg", "notes.png", "corrupt.png"):
        assert files[broken]["status"] == "failed" and files[broken]["reason"], broken
        assert broken in output  # the error names the file
        assert not (tmp_path / "out" / broken).exists()
    assert "empty" in files["zero.jpg"]["reason"]
    assert "truncated" in files["truncated.jpg"]["reason"]
    for good in ("grey.png", "deep16.png", "palette.png", "alpha.png", "rotated.jpg", "huge.jpg"):
        assert files[good]["status"] == "ok" and files[good]["faces_anonymized"] == 1, (good, files[good])
        written = read_image(tmp_path / "out" / good)
        assert written.size == read_image(src / good).size
    assert read_image(tmp_path / "out" / "rotated.jpg").size == (face.height, face.width)  # upright
    alpha = read_image(tmp_path / "out" / "alpha.png").alpha
    assert alpha is not None and np.array_equal(alpha, np.asarray(rgba)[..., 3])  # alpha kept exactly


def test_stages_command_writes_every_stage(samples_dir: Path, tmp_path: Path, runner: CliRunner,
                                           weights: Path) -> None:
    result = runner.invoke(app, ["stages", str(samples_dir / "photos" / "grace_hopper.jpg"), "--out", str(tmp_path),
                                 "--weights", str(weights)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "grace_hopper"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["composite.png", "face00_1_aligned.png", "face00_2_head_mask.png", "face00_3_segmented.png",
                     "face00_4_landmarks.png", "face00_5_synthesized.png"]
    landmarks = read_image(folder / "face00_4_landmarks.png").rgb
    assert landmarks.shape == (128, 128, 3) and set(np.unique(landmarks)) == {0, 224}


def test_python_api_matches_the_cli(samples_dir: Path, weights: Path) -> None:
    import ganon

    result = ganon.anonymize(samples_dir / "photos" / "group_t1.jpg", weights=weights)
    assert result.found == 6 and result.anonymized == 6
    assert result.composite.shape == read_image(samples_dir / "photos" / "group_t1.jpg").rgb.shape
    crops = ganon.anonymize(samples_dir / "photos" / "astronaut.png", weights=weights, mode="crops")
    assert len(crops.crops) == 1 and crops.composite is None
    with pytest.raises(ValueError, match="'composite', 'crops'"):  # a wrong word never selects a branch
        ganon.anonymize(samples_dir / "photos" / "astronaut.png", weights=weights, mode="Composite")
