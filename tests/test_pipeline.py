"""Sections 3.1-3.4 on real photos: detection, alignment geometry, landmark rendering, paste-back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ganon.backends.detectors import build_detector
from ganon.imageio import read_image
from ganon.pipeline.composite import BlendConfig, canvas_to_source, paste_back
from ganon.pipeline.extract import AlignConfig, align_face, extract_faces
from ganon.backends.face_mesh import FaceMesh
from ganon.pipeline.landmarks import N_LANDMARKS, render_landmarks
from ganon.pipeline.segment import build_segmenter, face_outline_mask

EXPECTED_FACES = {"astronaut.png": 1, "grace_hopper.jpg": 1, "group_t1.jpg": 6, "multi_face.jpg": 5}


@pytest.fixture(scope="module")
def detector():
    return build_detector("retinaface-mobilenet")


@pytest.fixture(scope="module")
def mesh():
    with FaceMesh() as m:
        yield m


def _photo(samples_dir: Path, name: str) -> np.ndarray:
    return read_image(samples_dir / "photos" / name).rgb


@pytest.mark.parametrize("name", sorted(EXPECTED_FACES))
def test_detector_finds_every_face(samples_dir: Path, detector, name: str) -> None:
    detections = detector.detect(_photo(samples_dir, name))
    assert len(detections) == EXPECTED_FACES[name]
    for det in detections:
        x1, y1, x2, y2 = det.box
        # the five points lie inside their box, eyes above the mouth
        assert np.all((det.points[:, 0] >= x1 - 2) & (det.points[:, 0] <= x2 + 2))
        assert np.all((det.points[:, 1] >= y1 - 2) & (det.points[:, 1] <= y2 + 2))
        assert det.points[:2, 1].max() < det.points[3:, 1].min()


def test_detector_finds_nothing_in_a_landscape(samples_dir: Path, detector) -> None:
    assert detector.detect(read_image(samples_dir / "no_face" / "mountain.jpg").rgb) == []


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


@pytest.mark.parametrize("angle", [0.0, 17.0, -30.0])
def test_alignment_levels_the_eyes_and_fits_the_box(samples_dir: Path, detector, angle: float) -> None:
    photo = _photo(samples_dir, "grace_hopper.jpg")
    h, w = photo.shape[:2]
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    tilted = cv2.warpAffine(photo, rotation, (w, h), flags=cv2.INTER_LINEAR)
    (det,) = detector.detect(tilted)
    face = align_face(tilted, det, AlignConfig(resolution=512))
    eyes = _apply(face.matrix, det.points[:2].astype(np.float64))
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-6  # eye line exactly horizontal
    assert eyes[0, 0] < eyes[1, 0]  # image-left eye stays on the left
    # the box's centre goes to the canvas centre and its longer side to the full 512 pixels
    centre = _apply(face.matrix, det.box.reshape(2, 2).mean(axis=0, keepdims=True).astype(np.float64))
    np.testing.assert_allclose(centre[0], [256, 256], atol=1e-6)
    scale = np.sqrt(abs(np.linalg.det(face.matrix[:, :2])))
    assert scale * max(det.width, det.height) == pytest.approx(512, rel=1e-6)
    # zero padding beside the box footprint, photo content inside it
    assert face.image[~face.valid].max() == 0
    assert face.image[face.valid].mean() > 20
    # the inverse transform maps canvas points back onto the source
    back = _apply(canvas_to_source(face, 512)[:2], eyes)
    np.testing.assert_allclose(back, det.points[:2], atol=1e-3)


def test_aligned_crop_matches_the_source_pixels(samples_dir: Path, detector) -> None:
    photo = _photo(samples_dir, "astronaut.png")
    (face,) = extract_faces(photo, detector)
    inverse = canvas_to_source(face, face.size)[:2]
    ys, xs = np.nonzero(face.valid)
    pick = np.random.default_rng(0).choice(len(xs), 200, replace=False)
    canvas_pts = np.stack([xs[pick], ys[pick]], axis=1).astype(np.float64)
    src = np.round(_apply(inverse, canvas_pts)).astype(int)
    ok = (src[:, 0] > 0) & (src[:, 1] > 0) & (src[:, 0] < photo.shape[1] - 1) & (src[:, 1] < photo.shape[0] - 1)
    diff = np.abs(face.image[ys[pick], xs[pick]][ok].astype(int) - photo[src[ok, 1], src[ok, 0]].astype(int))
    assert np.median(diff) < 12  # interpolation, not a different place of the photo


def test_landmark_rendering_equals_mediapipe_drawing(samples_dir: Path, detector, mesh) -> None:
    """'authors' must be pixel-identical to what the authors' code drew (MediaPipe's own utility)."""
    import mediapipe as mp

    photo = _photo(samples_dir, "astronaut.png")
    (face,) = extract_faces(photo, detector)
    marks = mesh(face.image)
    assert marks is not None and marks.points.shape == (N_LANDMARKS, 3)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as raw:
        landmark_list = raw.process(face.image).multi_face_landmarks[0]
    expected = np.zeros_like(face.image)
    spec = mp.solutions.drawing_utils.DrawingSpec(color=(224, 224, 224), thickness=1, circle_radius=0)
    mp.solutions.drawing_utils.draw_landmarks(expected, landmark_list, landmark_drawing_spec=spec)
    ours = render_landmarks(marks, style="authors")
    np.testing.assert_array_equal(ours, expected)
    assert set(np.unique(ours)) == {0, 224}

    paper = render_landmarks(marks, style="paper")
    lit = np.argwhere(paper[..., 0] == 255)
    assert set(np.unique(paper)) == {0, 255}
    assert 440 <= len(lit) <= N_LANDMARKS  # one pixel per point; close points may share one
    # every lit 'paper' pixel is the centre of an 'authors' plus
    assert np.all(ours[lit[:, 0], lit[:, 1], 0] == 224)


def test_landmarks_render_at_the_generator_resolution(samples_dir: Path, detector, mesh) -> None:
    (face,) = extract_faces(_photo(samples_dir, "grace_hopper.jpg"), detector)
    marks = mesh(face.image)
    small = render_landmarks(marks, size=128, style="paper")
    assert small.shape == (128, 128, 3)
    normalized = marks.xy.astype(np.float64) / 512
    inside = np.all((normalized >= 0) & (normalized <= 1), axis=1)  # MediaPipe drops points off the canvas
    expected = np.unique(np.floor(normalized[inside] * 128).astype(int), axis=0)
    assert np.argwhere(small[..., 0] == 255).shape[0] == len(expected)


def test_head_mask_keeps_the_face_and_drops_the_background(samples_dir: Path, detector, mesh) -> None:
    # a margin around the box brings neck and shoulders onto the canvas
    (face,) = extract_faces(_photo(samples_dir, "astronaut.png"), detector, AlignConfig(margin=0.3))
    marks = mesh(face.image)
    mask = build_segmenter("mediapipe-head")(face.image, marks)
    outline = face_outline_mask(marks)
    assert mask.dtype == np.float32 and mask.shape == (512, 512)
    assert mask[outline > 0].min() == 1.0  # the face itself is never cut
    chin = int(marks.xy[152, 1])
    assert chin < 450
    assert mask[chin + 20:].max() == 0.0  # neck and shoulders removed
    assert mask[:, :30].max() < 0.5 and mask[:, -30:].max() < 0.5  # background beside the head removed


def test_crop_paste_back_round_trip(samples_dir: Path, detector, mesh) -> None:
    """Pasting the aligned crop itself back must reproduce the photo: the transform is exact."""
    photo = _photo(samples_dir, "group_t1.jpg")
    result = photo.copy()
    faces = extract_faces(photo, detector)
    assert len(faces) == 6
    footprint = np.zeros_like(photo)
    white = np.full((512, 512, 3), 255, dtype=np.uint8)
    for face in faces:
        marks = mesh(face.image)
        if marks is None:
            continue
        # only the part of the outline that lies on photo pixels (the canvas is black beside the box)
        outline = face_outline_mask(marks) * face.valid
        result = paste_back(result, face.image, face, outline, BlendConfig(color_match=False))
        footprint = paste_back(footprint, white, face, outline, BlendConfig(color_match=False))
    pasted = footprint.max(axis=2) > 0
    # grown by a few pixels: at the canvas border the warped white fades to the black border value
    pasted = cv2.dilate(pasted.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert pasted.sum() > 6 * 400  # all six faces were pasted
    diff = np.abs(result.astype(int) - photo.astype(int))
    assert diff[~pasted].max() == 0  # nothing outside the faces is touched
    # inside the faces only resampling error remains (photo -> 512 canvas -> photo)
    assert diff[pasted].mean() < 3.0


def test_paste_back_replaces_the_face_region(samples_dir: Path, detector, mesh) -> None:
    photo = _photo(samples_dir, "grace_hopper.jpg")
    (face,) = extract_faces(photo, detector)
    marks = mesh(face.image)
    grey = np.full((128, 128, 3), 128, dtype=np.uint8)
    out = paste_back(photo, grey, face, face_outline_mask(marks, 128), BlendConfig(color_match=False))
    # the centre of the face (nose) is now the synthesized grey, the corners of the photo are untouched
    nose = np.round(_apply(canvas_to_source(face, 512)[:2], marks.xy[1:2].astype(np.float64))).astype(int)[0]
    assert np.abs(out[nose[1], nose[0]].astype(int) - 128).max() <= 2
    np.testing.assert_array_equal(out[:20, :20], photo[:20, :20])


# ------------------------------------------------------------- one face preparation, typed settings


def test_training_and_inference_draw_the_same_canvas(samples_dir: Path, tmp_path: Path) -> None:
    """``ganon preprocess`` stores, for every face of a photo, the canvas ``ganon anonymize`` feeds
    the generator: one preparation (mesh on the 512 px crop, canvas at the generator's resolution)."""
    from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer
    from ganon.pipeline.preprocess import PreprocessConfig, preprocess, read_manifests

    # the shipped generator, detecting as training does (the privacy default's detector differs)
    detection = {"detector": PreprocessConfig.detector, "detector_threshold": PreprocessConfig.detector_threshold}
    anonymizer = Anonymizer.from_weights(None, AnonymizeConfig(**detection), device="cpu")
    synthesizer = anonymizer.synthesizer
    src = tmp_path / "photos"
    src.mkdir()
    names = ("group_t1.jpg", "grace_hopper.jpg")
    for name in names:
        (src / name).write_bytes((samples_dir / "photos" / name).read_bytes())
    config = PreprocessConfig(resolution=synthesizer.resolution, render_style=synthesizer.render_style,
                              segmenter=None)
    preprocess(src, tmp_path / "pairs", config, progress=False)
    rows = read_manifests(tmp_path / "pairs")
    compared = 0
    for name in names:
        stages = anonymizer.prepare(read_image(src / name).rgb)
        stored = {int(r["face_index"]): r for r in rows if r["source"] == name and r["status"] == "ok"}
        assert sorted(stored) == [i for i, s in enumerate(stages) if s.landmarks is not None]
        for index, row in stored.items():
            canvas = cv2.imread(str(tmp_path / "pairs" / row["landmarks_path"]))[..., ::-1]
            assert canvas.shape == (synthesizer.resolution,) * 2 + (3,)
            np.testing.assert_array_equal(canvas, stages[index].canvas)
            compared += 1
    assert compared >= 6  # most of the seven faces have landmarks


def test_second_look_with_a_border_keeps_photo_coordinates() -> None:
    """Faces that fill the frame are found on a bordered copy; their crops still map the photo itself."""
    from ganon.data.synthetic import load_dcgan, sample_faces
    from ganon.pipeline.prepare import FacePreparer, PrepareConfig

    model = load_dcgan()
    # DCGAN faces (native 64 px) that the detector misses without a border; some it finds with one
    faces = [dict(sample_faces(1, seed=0, start=i, size=64, model=model))[i] for i in (11, 28, 35)]
    detector = build_detector("retinaface-mobilenet")
    plain = FacePreparer(PrepareConfig(resolution=64), detector=detector)
    assert [len(plain.faces(face)) for face in faces] == [0, 0, 0]
    rescued = 0
    for padding in (0.5, 1.0):
        bordered = FacePreparer(PrepareConfig(resolution=64, detect_padding=padding), detector=detector)
        for face in faces:
            for crop in bordered.faces(face):
                rescued += 1
                x1, y1, x2, y2 = crop.detection.box
                assert 0 <= (x1 + x2) / 2 <= face.shape[1] and 0 <= (y1 + y2) / 2 <= face.shape[0]
                assert crop.source_size == face.shape[:2]
                np.testing.assert_array_equal(crop.image, align_face(face, crop.detection).image)
    assert rescued >= 2


def test_anonymize_config_rejects_unknown_words_and_lists_the_choices() -> None:
    from ganon.pipeline.anonymize import AnonymizeConfig

    with pytest.raises(ValueError, match=r"'composite', 'crops'.*got 'Composite'.*lower case"):
        AnonymizeConfig(mode="Composite")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"on_miss must be one of 'blur', 'average', 'error'"):
        AnonymizeConfig(on_miss="skip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"on_no_face .*'skip', 'copy', 'error'"):
        AnonymizeConfig(on_no_face="blur")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"detector must be one of .*'retinaface-mobilenet'"):
        AnonymizeConfig(detector="retinaface")
    with pytest.raises(ValueError, match="detector_threshold"):
        AnonymizeConfig(detector_threshold=1.5)
    assert AnonymizeConfig(mode="crops").mode == "crops"


def test_the_paper_preset_is_the_one_paper_mode() -> None:
    from ganon.pipeline.anonymize import AnonymizeConfig

    paper = AnonymizeConfig.paper()
    assert (paper.mode, paper.detector, paper.on_miss) == ("crops", "retinaface-resnet50", "average")
    assert paper.align == AlignConfig.paper() and paper.align.resolution == 512
    offline = AnonymizeConfig.paper(resolution=128, detector="retinaface-mobilenet")
    assert (offline.mode, offline.on_miss, offline.align.resolution) == ("crops", "average", 128)
    with pytest.raises(ValueError, match="mode"):
        AnonymizeConfig.paper(mode="Crops")
    package = Path(__file__).resolve().parents[1] / "ganon"
    by_hand = [p.name for p in package.rglob("*.py") if 'mode="crops", align=' in p.read_text(encoding="utf-8")]
    assert by_hand == []  # nobody rebuilds paper mode field by field


def test_resolution_is_the_one_name_and_size_a_deprecated_alias() -> None:
    from ganon.pipeline.preprocess import PreprocessConfig

    with pytest.warns(DeprecationWarning, match=r"AlignConfig\(size=\.\.\.\) is deprecated; use resolution="):
        old = AlignConfig(size=256)
    assert old == AlignConfig(resolution=256)
    with pytest.warns(DeprecationWarning):
        assert old.size == 256
    with pytest.raises(TypeError, match="resolution= only"):
        AlignConfig(size=256, resolution=256)
    with pytest.warns(DeprecationWarning):
        assert PreprocessConfig(size=64) == PreprocessConfig(resolution=64)
    with pytest.raises(ValueError, match="at least 16"):
        AlignConfig(resolution=8)
    with pytest.raises(ValueError, match=r"segmenter must be one of .*'mediapipe-head'"):
        PreprocessConfig(segmenter="mediapipe")


_IMPORT_PROBE = """
import importlib, os, pkgutil, sys
import cv2, mediapipe, numpy, PIL, torch  # third-party packages may set what they like (cv2: LD_LIBRARY_PATH)
before = dict(os.environ)
calls = []
real_umask = os.umask
os.umask = lambda mask: calls.append(mask) or real_umask(mask)
import ganon.pipeline, ganon.backends
names = ["ganon.imageio", "ganon.batch", "ganon.config", "ganon.models.classifier_checkpoint"]
for package in (ganon.pipeline, ganon.backends):
    names += [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
for name in names:
    importlib.import_module(name)
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(len(names), changed, calls)
"""


def test_importing_the_pipeline_changes_no_environment_and_no_umask() -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    count, changed, calls = run.stdout.strip().rsplit("\n", 1)[-1].split(" ", 2)
    assert int(count) >= 15 and changed == "[]" and calls == "[]"
