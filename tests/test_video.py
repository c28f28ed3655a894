"""Videos: file I/O (size, rate, count, audio, no metadata, no overwrite), tracking, smoothing, the CLI
and ``evaluate_video``, on short clips cut from the real sample videos."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ganon.backends.detectors import build_detector
from ganon.cli import app
from ganon.video.io import VideoReader, VideoWriter, ffmpeg_exe, probe, read_frames, stream_summary
from ganon.video.smoothing import OneEuroConfig, smooth_series
from ganon.video.tracking import FaceTracker

CLIP_FRAMES = 12


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def _audio_md5(path: Path) -> str:
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
                          "-c", "copy", "-f", "md5", "-"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def clip(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 frames of the Wolfgang Langer video (23.976 fps) with a 440 Hz sine and a title tag."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    _ffmpeg("-i", str(samples_dir / "videos" / "wolfgang_langer.mp4"), "-f", "lavfi", "-i",
            "sine=frequency=440:duration=2", "-map", "0:v:0", "-map", "1:a:0", "-frames:v", str(CLIP_FRAMES),
            "-c:v", "libx264", "-c:a", "aac", "-shortest", "-metadata", "title=secret-title", str(path))
    return path


@pytest.fixture(scope="module")
def anonymized(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str, int]:
    """``ganon anonymize`` over a folder holding the clip and a broken video: (output, report, log, exit)."""
    folder = tmp_path_factory.mktemp("in")
    shutil.copy(clip, folder / "clip.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    out = tmp_path_factory.mktemp("out")
    report = out.parent / "report.json"
    result = CliRunner().invoke(app, ["anonymize", str(folder), "--out", str(out), "--json", str(report),
                                      "--no-progress"])
    return out / "clip.mp4", json.loads(report.read_text()), result.output, result.exit_code


def test_output_keeps_size_rate_count_and_audio_and_drops_metadata(clip: Path, anonymized) -> None:
    output, _, log, _ = anonymized
    before, after = probe(clip), probe(output)
    assert (after.width, after.height, after.frames) == (before.width, before.height, CLIP_FRAMES)
    assert after.fps == before.fps and after.fps.denominator == 1001  # 24000/1001, not a rounded 23.98
    assert after.audio_codec == "aac"
    assert _audio_md5(output) == _audio_md5(clip)  # the audio packets are copied unchanged
    summary = stream_summary(output)
    assert "secret-title" not in summary and "L-SMASH" not in summary and "Lavc" not in summary


def test_broken_video_fails_with_its_name_and_the_batch_goes_on(anonymized) -> None:
    output, report, log, code = anonymized
    assert code == 1 and output.is_file()
    files = {Path(f["source"]).name: f for f in report["files"]}
    assert files["broken.mp4"]["status"] == "failed" and "not a readable video" in files["broken.mp4"]["reason"]
    assert "broken.mp4" in log
    video = files["clip.mp4"]["video"]
    assert files["clip.mp4"]["status"] == "ok" and video["frames"] == CLIP_FRAMES and video["tracks"] == 1
    assert video["faces_per_frame"] == [1] * CLIP_FRAMES and video["obscured_frames"] == []


def test_never_writes_over_the_input_or_an_existing_output(clip: Path, tmp_path: Path) -> None:
    info = probe(clip)
    before = clip.read_bytes()
    with pytest.raises(FileExistsError, match="over its input"):
        VideoWriter(clip, width=info.width, height=info.height, fps=info.fps, audio_from=clip, overwrite=True)
    target = tmp_path / "taken.mp4"
    target.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="overwrite"):
        VideoWriter(target, width=info.width, height=info.height, fps=info.fps)
    code = CliRunner().invoke(app, ["anonymize", str(clip), "--out", str(clip.parent), "--no-progress"]).exit_code
    assert code == 2 and clip.read_bytes() == before and target.read_bytes() == b"keep me"


def test_an_empty_or_non_video_file_is_a_clear_error(tmp_path: Path) -> None:
    from ganon.video.io import VideoReadError

    empty = tmp_path / "empty.mov"
    empty.touch()
    with pytest.raises(VideoReadError, match=r"empty\.mov: empty file"):
        VideoReader(empty)
    text = tmp_path / "notes.mkv"
    text.write_text("hello")
    with pytest.raises(VideoReadError, match=r"notes\.mkv: not a readable video"):
        VideoReader(text)


def test_one_euro_removes_jitter_but_follows_a_step() -> None:
    rng = np.random.default_rng(0)
    steady = 100 + rng.normal(0, 2.0, size=(120, 2))
    smoothed = smooth_series(steady, OneEuroConfig(min_cutoff=1.0, beta=0.02), rate=30)
    assert np.diff(smoothed[30:], axis=0).std() < 0.25 * np.diff(steady[30:], axis=0).std()
    step = np.r_[np.zeros(30), np.full(30, 200.0)]
    followed = smooth_series(step, OneEuroConfig(min_cutoff=1.0, beta=0.1), rate=30)
    assert abs(followed[40] - 200) < 10  # within a third of a second of the jump


def test_tracker_keeps_its_id_through_a_missed_detection(samples_dir: Path) -> None:
    frames = read_frames(samples_dir / "videos" / "single_face.mp4", limit=5)
    detector = build_detector("retinaface-mobilenet")
    tracker = FaceTracker()
    seen = []
    for index, frame in enumerate(frames):
        detections = detector.detect(frame)
        assert len(detections) == 1
        seen.append(tracker.update([] if index == 2 else detections))
    assert [len(faces) for faces in seen] == [1] * 5
    assert {faces[0].track_id for faces in seen} == {0} and tracker.total_tracks == 1
    missed = seen[2][0]
    assert not missed.detected and seen[3][0].detected
    truth = detector.detect(frames[2])[0].box
    assert np.abs(missed.detection.box - truth).max() < 0.1 * (truth[2] - truth[0])


def test_a_face_the_detector_misses_is_still_anonymized(samples_dir: Path) -> None:
    """Frame 3's detection is withheld: the tracked box is replaced there all the same."""
    from ganon.pipeline.anonymize import Anonymizer
    from ganon.video.anonymize import VideoAnonymizer

    class Blinking:
        name = "blinking"

        def __init__(self) -> None:
            self.inner, self.calls = build_detector("retinaface-mobilenet"), 0

        def detect(self, image: np.ndarray) -> list:
            self.calls += 1
            return [] if self.calls == 4 else self.inner.detect(image)

    frames = read_frames(samples_dir / "videos" / "single_face.mp4", limit=6)
    anonymizer = Anonymizer.from_weights(None)
    anonymizer.detector = Blinking()
    out, result = VideoAnonymizer(anonymizer).anonymize_frames(frames, fps=30.0)
    assert result.predicted_frames == 1 and result.faces_per_frame == [1] * 6 and result.tracks == 1
    x1, y1, x2, y2 = build_detector("retinaface-mobilenet").detect(frames[3])[0].box.astype(int)
    inner = (slice(y1 + (y2 - y1) // 4, y2 - (y2 - y1) // 4), slice(x1 + (x2 - x1) // 4, x2 - (x2 - x1) // 4))
    change = np.abs(out[3][inner].astype(int) - frames[3][inner].astype(int)).mean()
    assert change > 10


def test_evaluate_video_finds_no_leak_in_our_output_and_every_frame_of_a_copy(clip: Path, anonymized,
                                                                            tmp_path: Path) -> None:
    from ganon.evaluation.video import VideoEvalConfig, evaluate_video

    output = anonymized[0]
    info = probe(clip)
    copy = tmp_path / "copy.mp4"
    with VideoWriter(copy, width=info.width, height=info.height, fps=info.fps) as writer:
        for frame in VideoReader(clip):
            writer.write(frame)
    report = tmp_path / "ours.json"
    result = CliRunner().invoke(app, ["evaluate", "video", str(clip), str(output), "--stride", "6",
                                      "--json", str(report)])
    assert result.exit_code == 0, result.output
    ours = json.loads(report.read_text())
    same = evaluate_video(clip, copy, VideoEvalConfig(stride=6))
    assert ours["frames"] == same.frames == CLIP_FRAMES and ours["face_frames"] == CLIP_FRAMES
    assert ours["leaked_frames"] == 0 and same.leaked_frames == CLIP_FRAMES
    assert same.distance_mean < 0.2  # a copy is the same person
    assert ours["distance_mean"] > same.distance_mean + 0.2
    assert ours["flicker_ratio"] > same.flicker_ratio > 0
    short = CliRunner().invoke(app, ["evaluate", "video", str(clip), str(anonymized[0].with_name("nope.mp4"))])
    assert short.exit_code == 1 and "nope.mp4" in short.output


def test_similarity_recovers_a_known_pose_and_the_mean_face_is_upright() -> None:
    from ganon.video.anonymize import similarity
    from ganon.video.reference import compute_mean_face_shape, mean_face_shape

    rng = np.random.default_rng(1)
    source = rng.uniform(0, 100, size=(40, 2))
    angle = np.radians(12)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = 1.7 * source @ rotation.T + np.array([5.0, -3.0])
    scale, found, shift = similarity(source, target)
    assert abs(scale - 1.7) < 1e-9 and np.allclose(found, rotation) and np.allclose(shift, [5.0, -3.0])
    mean = mean_face_shape()
    assert mean.shape == (478, 2) and (mean > -0.2).all() and (mean < 1.3).all()  # the chin may pass the box
    left, right = mean[[33, 133]].mean(0), mean[[362, 263]].mean(0)
    assert abs(left[1] - right[1]) < 0.01 and right[0] - left[0] > 0.15  # eyes level and apart
    assert mean[152, 1] > mean[1, 1] > left[1]  # chin below nose below eyes
    assert np.abs(compute_mean_face_shape() - mean).max() < 1e-5  # the shipped file is what openpeople gives


def test_a_variable_rate_video_keeps_its_frame_count(samples_dir: Path, tmp_path: Path) -> None:
    """face_noface.mov stores 169 frames at a varying rate; decoding must not pad it to a constant rate."""
    source = samples_dir / "videos" / "face_noface.mov"
    info = probe(source)
    target = tmp_path / "copy.mov"
    with VideoWriter(target, width=info.width, height=info.height, fps=info.fps, audio_from=source) as writer:
        for frame in VideoReader(source):
            writer.write(frame)
    assert writer.frames == info.frames == 169 and probe(target).frames == 169
    assert probe(target).audio_codec == info.audio_codec


def test_a_video_without_faces_is_reported_and_not_written(samples_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "no_face.mp4"  # the first 12 frames of the sample
    _ffmpeg("-i", str(samples_dir / "videos" / "no_face.mp4"), "-frames:v", "12", "-c:v", "libx264", "-an", str(source))
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["anonymize", str(source), "--out", str(out),
                                      "--json", str(report), "--no-progress"])
    assert result.exit_code == 0, result.output
    entry = json.loads(report.read_text())["files"][0]
    assert entry["status"] == "no_face" and entry["targets"] == [] and entry["video"]["frames"] == 12
    assert not any(out.iterdir())  # not even a temporary file is left behind


@pytest.fixture(scope="module")
def single_face_guarded(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The whole single_face clip (72 frames) anonymized with a guard margin of 0.1: (output, result)."""
    from ganon.pipeline.anonymize import Anonymizer
    from ganon.video.anonymize import VideoAnonymizer, VideoConfig
    from ganon.video.privacy import PrivacyGuardConfig

    target = tmp_path_factory.mktemp("guard") / "single_face.mp4"
    config = VideoConfig(guard=PrivacyGuardConfig(margin=0.1))
    result = VideoAnonymizer(Anonymizer.from_weights(None), config).anonymize_file(
        samples_dir / "videos" / "single_face.mp4", target, progress=False)
    return target, result


def test_the_privacy_guard_keeps_every_frame_away_from_the_person(samples_dir: Path, single_face_guarded) -> None:
    """The mean face alone comes within 0.7 (dlib) of this person (0.60 at the closest sampled frame without
    the guard): the track steps up once, at its start, and every sampled frame is then farther than 0.7 by the
    evaluator's own, differently cropped, measure."""
    from ganon.evaluation.video import VideoEvalConfig, evaluate_video
    from ganon.video.privacy import PrivacyGuardConfig

    target, result = single_face_guarded
    limit = PrivacyGuardConfig(margin=0.1).limit
    assert result.frames == 72 and result.obscured_faces == 0
    assert result.guard_checks >= 72 // PrivacyGuardConfig().every
    assert [(s["frame"], s["level"], s["obscured"]) for s in result.guard_steps] == [(0, 1, False)]
    assert result.guard_steps[0]["distance"] < limit <= result.guard_closest
    measures = evaluate_video(samples_dir / "videos" / "single_face.mp4", target, VideoEvalConfig(stride=4))
    assert measures.leaked_frames == 0 and measures.within_threshold == 0 and measures.distance_min > limit
    assert measures.drift_anonymized <= 0.3 and measures.flicker_ratio <= 5


def test_a_track_past_the_ladder_is_obscured_not_left_close(clip: Path) -> None:
    """With a limit no face can pass, the track climbs every step within the first window, then is obscured."""
    from ganon.pipeline.anonymize import Anonymizer
    from ganon.video.anonymize import VideoAnonymizer, VideoConfig
    from ganon.video.privacy import PrivacyGuardConfig

    frames = read_frames(clip)
    config = VideoConfig(guard=PrivacyGuardConfig(margin=5.0))  # limit 5.6: every face is "too close"
    out, result = VideoAnonymizer(Anonymizer.from_weights(None), config).anonymize_frames(frames, fps=24.0)
    assert [s["level"] for s in result.guard_steps] == [1, 2, 2] and result.guard_steps[-1]["obscured"]
    assert result.obscured_frames == list(range(CLIP_FRAMES)) and result.obscured_faces == CLIP_FRAMES
    x1, y1, x2, y2 = build_detector("retinaface-mobilenet").detect(frames[5])[0].box.astype(int)
    assert np.abs(out[5][y1:y2, x1:x2].astype(int) - frames[5][y1:y2, x1:x2].astype(int)).mean() > 10


def test_a_cut_starting_on_a_grimace_is_obscured_rather_than_left_close(samples_dir: Path, tmp_path: Path) -> None:
    """Wolfgang Langer from frame 72 (eyes shut, hand at the mouth): the mean face fitted on that first frame
    comes within 0.6 of her on a third of the sampled frames without the guard (48 frames: 4 of 12, min 0.51);
    with it the track steps up at its first frame (and further, or to obscured, as needed) and no frame is close."""
    from ganon.evaluation.video import VideoEvalConfig, evaluate_video
    from ganon.pipeline.anonymize import Anonymizer
    from ganon.video.anonymize import VideoAnonymizer
    from ganon.video.privacy import PrivacyGuardConfig

    cut = tmp_path / "cut.mp4"
    _ffmpeg("-i", str(samples_dir / "videos" / "wolfgang_langer.mp4"), "-vf", "select=gte(n\\,72)",
            "-frames:v", "24", "-c:v", "libx264", "-crf", "12", "-an", str(cut))
    target = tmp_path / "anonymized.mp4"
    result = VideoAnonymizer(Anonymizer.from_weights(None)).anonymize_file(cut, target, progress=False)
    assert result.guard_steps and result.guard_steps[0]["frame"] == 0
    assert result.guard_steps[-1]["obscured"] or result.guard_closest >= PrivacyGuardConfig().limit
    measures = evaluate_video(cut, target, VideoEvalConfig(stride=4))
    assert measures.leaked_frames == 0 and measures.within_threshold == 0 and measures.distance_min > 0.6
