"""The ``samples`` dataset reader on the real samples folder and on damaged copies of its layout."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ganon.data.datasets import DATASETS, DatasetLayoutError, Samples, read_dataset
from ganon.data.samples import EXPECTED_FACES
from ganon.imageio import read_image


def _listed(root: Path) -> list[str]:
    with open(root / "manifest.csv", newline="", encoding="utf-8") as handle:
        return [row["path"] for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def table(samples_dir: Path) -> pd.DataFrame:
    return read_dataset("samples", samples_dir)


def test_every_listed_photo_and_frame_becomes_one_row(table: pd.DataFrame, samples_dir: Path) -> None:
    listed = _listed(samples_dir)
    photos = sorted(p for p in listed if p.startswith("photos/"))
    frames = sorted(p for p in listed if p.startswith("frames/"))
    assert len(photos) == 12 and len(frames) >= 60
    assert sorted(table["relative"]) == sorted(photos + frames)  # no_face is left out by default
    assert list(table["relative"]) == sorted(table["relative"])  # stable order
    assert table.attrs == {"dataset": "samples", "root": str(samples_dir.resolve())}
    assert (table["split"] == "val").all()
    for path, relative in zip(table["path"], table["relative"]):
        assert Path(path).is_absolute() and Path(path) == samples_dir.resolve() / relative
    image = read_image(table.loc[table["relative"] == "photos/astronaut.png", "path"].item()).rgb
    assert image.ndim == 3 and image.shape[2] == 3


def test_subjects_kinds_and_expected_face_counts(table: pd.DataFrame) -> None:
    photos = table[table["kind"] == "photo"].set_index("relative")
    assert (photos["subject"] == [Path(r).stem for r in photos.index]).all()
    assert photos["video"].isna().all()
    for relative, count in EXPECTED_FACES.items():
        assert photos.loc[relative, "expected_faces"] == count
    assert pd.isna(photos.loc["photos/tom_hanks.png", "expected_faces"])  # nobody counted them

    frames = table[table["kind"] == "frame"]
    videos = sorted(frames["video"].unique())
    assert "wolfgang_langer" in videos
    for video in videos:
        part = frames[frames["video"] == video]
        assert (part["subject"] == f"video:{video}").all()  # one person per video: one subject
        assert (part["expected_faces"] == 1).all()
    assert str(table["subject"].dtype) == "string" and str(table["expected_faces"].dtype) == "Int64"


def test_kinds_select_parts_and_no_face_pictures_have_no_subject(samples_dir: Path) -> None:
    only = read_dataset("samples", samples_dir, kinds=("no_face",))
    assert list(only["relative"]) == ["no_face/mountain.jpg"]
    assert only["subject"].isna().all() and (only["expected_faces"] == 0).all()
    photos = read_dataset("samples", samples_dir, kinds=("photo",))
    assert set(photos["kind"]) == {"photo"} and len(photos) == 12
    everything = read_dataset("samples", samples_dir, kinds=("photo", "frame", "no_face"))
    assert len(everything) == len(photos) + len(read_dataset("samples", samples_dir, kinds=("frame",))) + 1


def test_frame_stride_keeps_every_nth_frame_of_each_video(table: pd.DataFrame, samples_dir: Path) -> None:
    strided = read_dataset("samples", samples_dir, frame_stride=10)
    for video, part in table[table["kind"] == "frame"].groupby("video"):
        expected = list(part["relative"])[::10]
        assert list(strided.loc[strided["video"] == video, "relative"]) == expected
    assert len(strided[strided["kind"] == "photo"]) == 12  # photos are never thinned


def test_bad_options_are_refused(samples_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown kinds"):
        Samples(samples_dir, kinds=("selfie",))
    with pytest.raises(ValueError, match="frame_stride"):
        Samples(samples_dir, frame_stride=0)
    assert DATASETS.get("samples") is Samples


def _copy_layout(samples_dir: Path, root: Path, relatives: list[str]) -> Path:
    """A small samples folder: the given files plus a manifest listing them (same columns as the real one)."""
    with open(samples_dir / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["path"] in relatives]
        fields = list(rows[0])
    for relative in relatives:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(samples_dir / relative, root / relative)
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_a_missing_listed_file_or_manifest_is_a_layout_error(samples_dir: Path, tmp_path: Path) -> None:
    root = _copy_layout(samples_dir, tmp_path / "s", ["photos/astronaut.png", "photos/grace_hopper.jpg"])
    assert len(read_dataset("samples", root)) == 2
    (root / "photos" / "grace_hopper.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match="grace_hopper.jpg.*missing"):
        read_dataset("samples", root)
    (root / "manifest.csv").unlink()
    with pytest.raises(DatasetLayoutError, match="manifest.csv") as caught:
        read_dataset("samples", root)
    assert "ensure_samples" in str(caught.value)  # the message says how to build the folder
    with pytest.raises(DatasetLayoutError, match="not a folder"):
        read_dataset("samples", tmp_path / "nowhere")


def test_a_manifest_without_images_of_the_chosen_kinds_is_an_error(samples_dir: Path, tmp_path: Path) -> None:
    root = _copy_layout(samples_dir, tmp_path / "s", ["photos/astronaut.png"])
    with pytest.raises(DatasetLayoutError, match="no images of the kinds"):
        read_dataset("samples", root, kinds=("frame",))
