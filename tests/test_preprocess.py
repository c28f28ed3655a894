"""``ganon preprocess``: real photos and synthetic faces -> lossless PNG pairs, manifest, resume, shards."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from ganon.backends.detectors import build_detector
from ganon.cli import app
from ganon.data.datasets.celeba import CelebA
from ganon.data.synthetic import write_faces
from ganon.imageio import read_image
from ganon.pipeline.extract import AlignConfig, extract_faces
from ganon.pipeline.landmarks import render_landmarks
from ganon.pipeline.preprocess import (
    MANIFEST_FIELDS,
    PairMaker,
    PreprocessConfig,
    find_sources,
    manifest_name,
    preprocess,
    read_manifests,
    shard_sources,
    split_of,
)
from ganon.pipeline.segment import apply_mask
from miniatures import CELEBA_IMAGES, make_celeba

SIZE = 64
PHOTOS = ("single_face.jpg", "tom_hanks.png", "group_t1.jpg")  # 1 + 1 + 6 faces
N_SYNTH = 3
CONFIG = PreprocessConfig(resolution=SIZE)


def _read_png(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]


@pytest.fixture(scope="module")
def source_dir(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real photos, the no-face landscape, a corrupt JPEG and three synthetic DCGAN faces."""
    src = tmp_path_factory.mktemp("src")
    (src / "photos").mkdir()
    for name in PHOTOS:
        shutil.copy(samples_dir / "photos" / name, src / "photos" / name)
    shutil.copy(samples_dir / "no_face" / "mountain.jpg", src / "mountain.jpg")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated, not a JPEG")
    write_faces(src / "synth", N_SYNTH, seed=0, size=128, progress=False)
    return src


@pytest.fixture(scope="module")
def full_run(source_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("pairs")
    summary = preprocess(source_dir, out, CONFIG, progress=False)
    return out, summary


def test_manifest_rows_and_statuses(full_run, source_dir: Path) -> None:
    out, summary = full_run
    rows = read_manifests(out)
    with open(out / "manifest.csv", newline="") as handle:
        assert tuple(csv.DictReader(handle).fieldnames) == MANIFEST_FIELDS
    by_source: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    assert set(by_source) == {s.relative for s in find_sources(source_dir)}
    assert [r["status"] for r in by_source["mountain.jpg"]] == ["no_face"]
    assert [r["status"] for r in by_source["broken.jpg"]] == ["unreadable"]
    for bad in ("mountain.jpg", "broken.jpg"):
        assert by_source[bad][0]["face_path"] == "" and by_source[bad][0]["face_index"] == "-1"
    assert len(by_source["photos/group_t1.jpg"]) == 6
    assert [r["face_index"] for r in by_source["photos/group_t1.jpg"]] == [str(i) for i in range(6)]
    for name in ("photos/single_face.jpg", "photos/tom_hanks.png"):
        assert len(by_source[name]) == 1
    synth = [r for s, rs in by_source.items() if s.startswith("synth/") for r in rs]
    assert len(synth) >= N_SYNTH - 1  # the DCGAN's 64 px faces are found (with the detection border)
    ok = [r for r in rows if r["status"] == "ok"]
    assert summary.pairs == len(ok) >= 10
    assert (summary.no_face, summary.unreadable, summary.skipped) == (1, 1, 0)
    for row in ok:
        assert 0.9 <= float(row["score"]) <= 1.0
        assert row["has_landmarks"] == "1" and row["split"] in ("train", "val")
        assert (out / row["face_path"]).is_file() and (out / row["landmarks_path"]).is_file()
    stored = sorted(p.name for p in (out / "faces").iterdir())
    assert stored == sorted(Path(r["face_path"]).name for r in ok)  # nothing stored for missing faces
    assert (out / "preprocess.json").is_file()


def test_pairs_are_lossless_pngs(full_run, source_dir: Path) -> None:
    """Reading the stored PNGs back gives exactly the pixels of 3.1-3.3: the mesh on the 512 px crop,
    the canvas drawn and the masked face shrunk to the generator's resolution."""
    out, _ = full_run
    maker = PairMaker(CONFIG, out)
    image = read_image(source_dir / "photos" / "single_face.jpg").rgb
    (face,) = extract_faces(image, build_detector("retinaface-mobilenet"), AlignConfig.paper())
    assert face.image.shape == (512, 512, 3)
    marks = maker.preparer.mesh(face.image)
    canvas = render_landmarks(marks, size=SIZE, style="authors")
    masked = apply_mask(face.image, maker.preparer.segmenter(face.image, marks))
    target = cv2.resize(masked, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    stored_canvas = _read_png(out / "landmarks" / "photos__single_face_0.png")
    stored_face = _read_png(out / "faces" / "photos__single_face_0.png")
    assert stored_canvas.shape == stored_face.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(stored_canvas, canvas)
    np.testing.assert_array_equal(stored_face, target)
    # the authors' 5-pixel pluses keep their exact value 224: no JPEG ringing around the dots
    for row in read_manifests(out):
        if row["status"] == "ok":
            values = np.unique(_read_png(out / row["landmarks_path"]))
            assert set(values.tolist()) == {0, 224}, row["landmarks_path"]


def test_second_run_resumes_and_does_nothing(full_run, source_dir: Path) -> None:
    out, first = full_run
    before = (out / "manifest.csv").read_bytes()
    again = preprocess(source_dir, out, CONFIG, progress=False)
    assert again.skipped == again.sources == first.sources
    assert (again.pairs, again.no_face, again.unreadable) == (0, 0, 0)
    assert (out / "manifest.csv").read_bytes() == before
    with pytest.raises(ValueError, match="other settings"):
        preprocess(source_dir, out, PreprocessConfig(resolution=SIZE * 2), progress=False)


def test_interrupted_run_completes_to_the_same_rows(full_run, source_dir: Path, tmp_path: Path) -> None:
    out, _ = full_run
    part = preprocess(source_dir, tmp_path, CONFIG, limit=3, progress=False)
    assert part.sources - part.skipped == 8 and len({r["source"] for r in read_manifests(tmp_path)}) == 3
    rest = preprocess(source_dir, tmp_path, CONFIG, progress=False)
    assert rest.skipped == 3
    key = lambda r: (r["source"], r["face_index"])  # noqa: E731
    assert sorted(read_manifests(tmp_path), key=key) == sorted(read_manifests(out), key=key)


def test_shards_are_disjoint_cover_and_match_the_full_run(full_run, source_dir: Path, tmp_path: Path) -> None:
    sources = find_sources(source_dir)
    shards = [shard_sources(sources, (i, 3)) for i in range(3)]
    names = [{s.relative for s in shard} for shard in shards]
    assert sum(map(len, names)) == len(sources)
    assert set().union(*names) == {s.relative for s in sources}
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    with pytest.raises(ValueError):
        shard_sources(sources, (3, 3))

    # two array jobs into one folder, the first with a worker pool: same rows and bytes as one run
    out, _ = full_run
    preprocess(source_dir, tmp_path, CONFIG, shard=(0, 2), workers=2, progress=False)
    preprocess(source_dir, tmp_path, CONFIG, shard=(1, 2), progress=False)
    assert {p.name for p in tmp_path.glob("manifest*.csv")} == {manifest_name((0, 2)), manifest_name((1, 2))}
    key = lambda r: (r["source"], r["face_index"])  # noqa: E731
    assert sorted(read_manifests(tmp_path), key=key) == sorted(read_manifests(out), key=key)
    for row in read_manifests(out):
        if row["face_path"]:
            for column in ("face_path", "landmarks_path"):
                assert (tmp_path / row[column]).read_bytes() == (out / row[column]).read_bytes()
    assert preprocess(source_dir, tmp_path, CONFIG, progress=False).skipped == len(sources)


def test_seeded_split_is_stable(tmp_path: Path) -> None:
    names = [f"img/{i:05d}.jpg" for i in range(2000)]
    splits = [split_of(n, seed=3, val_fraction=0.1) for n in names]
    assert splits == [split_of(n, seed=3, val_fraction=0.1) for n in names]
    assert 0.07 < splits.count("val") / len(names) < 0.13
    assert splits != [split_of(n, seed=4, val_fraction=0.1) for n in names]
    assert set(split_of(n, seed=3, val_fraction=0.0) for n in names) == {"train"}
    # a folder's split does not depend on which other files are there (order-free)
    for name in ("a.png", "b/c.png", "d.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    whole = {s.relative: s.split for s in find_sources(tmp_path, seed=1, val_fraction=0.5)}
    (tmp_path / "a.png").unlink()
    assert {s.relative: s.split for s in find_sources(tmp_path, seed=1, val_fraction=0.5)} == {
        k: v for k, v in whole.items() if k != "a.png"}


OFFICIAL = dict(zip(CELEBA_IMAGES, ("train", "train", "train", "val", "val", "test")))


@pytest.mark.parametrize("drive_layout", [False, True], ids=["flat", "Img-Eval-Anno"])
def test_celeba_layout_uses_the_official_partition(tmp_path: Path, drive_layout: bool) -> None:
    """Both layouts the CelebA reader accepts, given as the root or as the image folder itself."""
    root = make_celeba(tmp_path / "celeba", drive_layout=drive_layout)
    images = root / ("Img/img_align_celeba" if drive_layout else "img_align_celeba")
    (images / "999999.jpg").write_bytes((images / CELEBA_IMAGES[0]).read_bytes())  # not in the partition
    assert set(CelebA(root).read()["split"]) == {"train", "val", "test"}  # the reader accepts this tree
    prefix = images.relative_to(root).as_posix()
    for given, expected_prefix in ((root, prefix + "/"), (images, "")):
        sources = find_sources(given, seed=5, val_fraction=0.9)  # a hashed split would put most in val
        assert [s.relative for s in sources] == [expected_prefix + n for n in CELEBA_IMAGES]
        assert {Path(s.relative).name: s.split for s in sources} == OFFICIAL


def test_celeba_test_images_never_reach_training(tmp_path: Path) -> None:
    """``ganon preprocess`` on a CelebA download: every pair keeps its official split, test stays test."""
    root = make_celeba(tmp_path / "celeba", drive_layout=True)
    summary = preprocess(root, tmp_path / "pairs", PreprocessConfig(resolution=SIZE, assume_aligned=True,
                                                                    segmenter=None), progress=False)
    rows = read_manifests(tmp_path / "pairs")
    assert summary.sources == len(CELEBA_IMAGES) == len({r["source"] for r in rows})
    assert {Path(r["source"]).name: r["split"] for r in rows} == OFFICIAL


def test_cli_exit_codes(samples_dir: Path, source_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy(samples_dir / "photos" / "single_face.jpg", clean / "single_face.jpg")
    shutil.copy(samples_dir / "no_face" / "mountain.jpg", clean / "mountain.jpg")
    ok = runner.invoke(app, ["preprocess", str(clean), "--out", str(tmp_path / "o1"), "--size", "64",
                             "--no-progress"])
    assert ok.exit_code == 0, ok.output
    assert "1 pairs from 2 new sources" in ok.output and "no face 1" in ok.output
    rows = read_manifests(tmp_path / "o1")
    assert {r["status"] for r in rows} == {"ok", "no_face"}

    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(source_dir / "broken.jpg", broken / "broken.jpg")
    bad = runner.invoke(app, ["preprocess", str(broken), "--out", str(tmp_path / "o2"), "--no-progress"])
    assert bad.exit_code == 1 and "unreadable 1" in bad.output

    missing = runner.invoke(app, ["preprocess", str(tmp_path / "nope"), "--out", str(tmp_path / "o3")])
    assert missing.exit_code == 2 and "nope" in missing.output and "not a folder" in missing.output
    shard = runner.invoke(app, ["preprocess", str(clean), "--out", str(tmp_path / "o4"), "--shard", "2/2"])
    assert shard.exit_code == 2 and "--shard" in shard.output
    segmenter = runner.invoke(app, ["preprocess", str(clean), "--out", str(tmp_path / "o5"), "--segmenter", "unet"])
    assert segmenter.exit_code == 2 and "'mediapipe-head'" in segmenter.output
    assert not (tmp_path / "o5").exists()
    resolution = runner.invoke(app, ["preprocess", str(clean), "--out", str(tmp_path / "o6"), "--resolution", "64",
                                     "--no-progress"])
    assert resolution.exit_code == 0 and read_manifests(tmp_path / "o6") == rows  # --size is its old name
