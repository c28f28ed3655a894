"""ganon.batch: which inputs are taken, where their outputs go, and the audit report."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path, PurePath

import numpy as np
import pytest
from PIL import Image

from ganon import __version__
from ganon.batch import BatchReport, FileResult, Job, PlanError, face_target, plan_outputs
from ganon.imageio import ImageReadError, read_image, write_image


def _touch(path: Path, content: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _targets(jobs: list[Job], out: Path) -> list[str]:
    return [job.target.relative_to(out).as_posix() for job in jobs]


def _sources(jobs: list[Job], root: Path) -> list[str]:
    return [job.source.relative_to(root).as_posix() for job in jobs]


def test_single_folder_is_walked_sorted_and_mirrored(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    for name in ["b.jpg", "a.PNG", "sub/z.jpeg", "sub/deeper/c.webp", "A2/y.tif", "notes.txt", "raw.heic"]:
        _touch(src / name)
    out = tmp_path / "out"
    jobs = plan_outputs([src], out)
    assert _sources(jobs, src) == ["A2/y.tif", "a.PNG", "b.jpg", "sub/deeper/c.webp", "sub/z.jpeg"]
    assert _targets(jobs, out) == _sources(jobs, src)  # the tree is mirrored one to one
    for job in jobs:
        assert job.target == out / job.relative

    flat = plan_outputs([src], out, recursive=False)
    assert _sources(flat, src) == ["a.PNG", "b.jpg"]


def test_hidden_entries_are_skipped(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    for name in ["ok.jpg", ".hidden.jpg", ".cache/x.jpg", "sub/.thumbs/t.jpg", "sub/fine.jpg", "._ok.jpg"]:
        _touch(src / name)
    assert _sources(plan_outputs([src], tmp_path / "out"), src) == ["ok.jpg", "sub/fine.jpg"]
    # a hidden file named explicitly is the user's choice
    assert [job.source for job in plan_outputs([src / ".hidden.jpg"], tmp_path / "out")] == [
        src / ".hidden.jpg"
    ]


def test_output_folder_inside_input_is_never_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "photos"
    _touch(src / "a.jpg")
    _touch(src / "anon" / "a.jpg")  # outputs of an earlier run
    _touch(src / "anon" / "deep" / "b.jpg")
    out = src / "anon"
    jobs = plan_outputs([src], out)
    assert _sources(jobs, src) == ["a.jpg"] and _targets(jobs, out) == ["a.jpg"]

    # the shell's photos/* names the output folder and its files directly: still skipped, with a note
    with caplog.at_level(logging.WARNING, logger="ganon.batch"):
        jobs = plan_outputs([src / "a.jpg", out, out / "a.jpg"], out)
    assert [job.source for job in jobs] == [src / "a.jpg"]
    assert sum("inside the output folder" in record.getMessage() for record in caplog.records) == 2

    # the same folder reached through another spelling (relative path, '..') is recognised too
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        jobs = plan_outputs([Path("photos")], Path("photos/sub/../anon"))
    finally:
        os.chdir(cwd)
    assert [job.source.as_posix() for job in jobs] == ["photos/a.jpg"]


def test_symlinked_output_folder_is_recognised(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    _touch(src / "a.jpg")
    real_out = tmp_path / "real_out"
    _touch(real_out / "old.jpg")
    (src / "link_to_out").symlink_to(real_out, target_is_directory=True)
    jobs = plan_outputs([src], src / "link_to_out")
    assert _sources(jobs, src) == ["a.jpg"]


def test_several_folders_and_files(tmp_path: Path) -> None:
    _touch(tmp_path / "trip" / "day1" / "a.jpg")
    _touch(tmp_path / "home" / "a.jpg")
    _touch(tmp_path / "loose" / "single.png")
    out = tmp_path / "out"
    jobs = plan_outputs([tmp_path / "trip", tmp_path / "home", tmp_path / "loose" / "single.png"], out)
    assert _targets(jobs, out) == ["trip/day1/a.jpg", "home/a.jpg", "single.png"]
    assert [str(job.relative) for job in jobs] == ["trip/day1/a.jpg", "home/a.jpg", "single.png"]


def test_same_named_folders_get_distinct_subfolders(tmp_path: Path) -> None:
    _touch(tmp_path / "x" / "photos" / "a.jpg")
    _touch(tmp_path / "y" / "photos" / "a.jpg")
    out = tmp_path / "out"
    jobs = plan_outputs([tmp_path / "x" / "photos", tmp_path / "y" / "photos"], out)
    assert _targets(jobs, out) == ["photos/a.jpg", "photos-1/a.jpg"]


def test_collisions_are_resolved_deterministically(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    a = _touch(tmp_path / "a" / "x.jpg")
    b = _touch(tmp_path / "b" / "x.jpg")
    c = _touch(tmp_path / "c" / "x-1.jpg")  # already holds the first name a counter would pick
    d = _touch(tmp_path / "d" / "X.JPG")  # same name on case-insensitive file systems
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="ganon.batch"):
        jobs = plan_outputs([a, b, c, d], out)
    assert _targets(jobs, out) == ["x.jpg", "x-2.jpg", "x-1.jpg", "X-3.JPG"]
    assert len({job.target for job in jobs}) == 4
    assert sum("already taken" in record.getMessage() for record in caplog.records) == 2
    assert _targets(plan_outputs([a, b, c, d], out), out) == _targets(jobs, out)  # same plan every time


def test_forced_suffix_and_stem_clashes(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    _touch(src / "p.jpg")
    _touch(src / "p.png")
    out = tmp_path / "out"
    # converted to one format, both would be p.png
    assert _targets(plan_outputs([src], out, suffix="png"), out) == ["p.png", "p-1.png"]
    # kept as they are, their face crops would both be p_face00.png: stems are kept apart too
    jobs = plan_outputs([src], out)
    assert _targets(jobs, out) == ["p.jpg", "p-1.png"]
    crops = {face_target(job, 0) for job in jobs}
    assert crops == {out / "p_face00.png", out / "p-1_face00.png"}
    with pytest.raises(PlanError, match="suffix"):
        plan_outputs([src], out, suffix=".heic")


def test_files_are_taken_as_given(tmp_path: Path) -> None:
    notes = _touch(tmp_path / "notes.txt", b"hello")
    missing = tmp_path / "missing.jpg"
    out = tmp_path / "out"
    jobs = plan_outputs([notes, missing], out)
    assert [job.source for job in jobs] == [notes, missing]
    assert _targets(jobs, out) == ["notes.txt.png", "missing.jpg"]  # unknown suffix: written as PNG
    with pytest.raises(ImageReadError, match="not an image"):  # and it fails later with a clear reason
        read_image(jobs[0].source)


def test_duplicate_inputs_processed_once(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    a = _touch(src / "a.jpg")
    jobs = plan_outputs([src, a, a], tmp_path / "out")
    assert [job.source for job in jobs] == [a]


def test_output_replacing_input_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    _touch(src / "a.jpg")
    _touch(tmp_path / "other" / "b.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "photos").symlink_to(src, target_is_directory=True)  # out/photos/a.jpg *is* photos/a.jpg
    with pytest.raises(PlanError, match="replace the input"):
        plan_outputs([src, tmp_path / "other"], out)
    _touch(tmp_path / "file_out")
    with pytest.raises(PlanError, match="not a folder"):
        plan_outputs([src], tmp_path / "file_out")


def test_unreadable_subfolder_stops_the_plan(tmp_path: Path) -> None:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="ganon-walk-"))
    locked = root / "private"
    try:
        _touch(locked / "a.jpg")
        root.chmod(0o755)
        locked.chmod(0)
        if os.geteuid() == 0:
            os.seteuid(65534)
        try:
            with pytest.raises(PlanError, match="cannot list folder"):
                plan_outputs([root], root / "out")
        finally:
            if os.getuid() == 0:
                os.seteuid(0)
    finally:
        locked.chmod(0o755)
        (locked / "a.jpg").unlink()
        locked.rmdir()
        root.rmdir()


def test_face_target_names() -> None:
    job = Job(
        source=Path("in/photo.jpg"), target=Path("out/sub/photo.jpg"), relative=PurePath("sub/photo.jpg")
    )
    assert face_target(job, 0) == Path("out/sub/photo_face00.png")
    assert face_target(job, 12, suffix=".jpg") == Path("out/sub/photo_face12.jpg")
    with pytest.raises(ValueError):
        face_target(job, -1)


def test_plan_then_write_real_photos(samples_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    jobs = plan_outputs([samples_dir / "photos", samples_dir / "no_face"], out, suffix=".png")
    assert len(jobs) == 13 and all(job.target.suffix == ".png" for job in jobs)
    for job in jobs[:2]:
        image = read_image(job.source)
        write_image(job.target, image.rgb, like=image)
    again = plan_outputs([samples_dir / "photos"], out)
    assert {job.source for job in again}.isdisjoint({job.target for job in jobs})
    with pytest.raises(FileExistsError):  # a second run does not overwrite
        write_image(jobs[0].target, read_image(jobs[0].source).rgb)


# --------------------------------------------------------------------------------------------- report


def _results() -> list[FileResult]:
    return [
        FileResult(
            Path("in/a.jpg"), (Path("out/a.jpg"),), "ok", faces_found=2, faces_anonymized=2, seconds=1.5
        ),
        FileResult(Path("in/b.jpg"), (Path("out/b.jpg"),), "no_face", seconds=0.5),
        FileResult(Path("in/c.jpg"), (Path("out/c.jpg"),), "skipped_exists"),
    ]


def test_exit_codes() -> None:
    assert BatchReport.from_results(_results()).exit_code() == 0
    assert BatchReport.from_results([]).exit_code() == 0
    failed = FileResult.failure("in/bad.jpg", "file is empty", seconds=0.01)
    assert BatchReport.from_results([*_results(), failed]).exit_code() == 1
    with pytest.raises(ValueError, match="status"):  # a photo is never written half-anonymized
        FileResult(Path("in/p.jpg"), (Path("out/p.jpg"),), "partial", faces_found=3, faces_anonymized=2)


def test_result_validation() -> None:
    with pytest.raises(ValueError, match="status"):
        FileResult(Path("a.jpg"), (), "done")
    with pytest.raises(ValueError, match="reason"):
        FileResult(Path("a.jpg"), (), "failed")
    result = FileResult(Path("a.jpg"), ["out/a_face00.png", "out/a_face01.png"], "ok")
    assert result.targets == (Path("out/a_face00.png"), Path("out/a_face01.png"))
    assert result.target == Path("out/a_face00.png")


def test_json_report(tmp_path: Path) -> None:
    failed = FileResult.failure("in/bad.jpg", "in/bad.jpg: file is empty")
    report = BatchReport.from_results([*_results(), failed], settings={"mode": "replace", "seed": 0})
    path = report.to_json(tmp_path / "reports" / "report.json")
    data = json.loads(path.read_text())
    assert data["ganon_version"] == __version__
    assert data["created"].endswith("+00:00") and data["settings"] == {"mode": "replace", "seed": 0}
    assert data["totals"] == {
        "files": 4,
        "ok": 1,
        "no_face": 1,
        "failed": 1,
        "skipped_exists": 1,
        "faces_found": 2,
        "faces_anonymized": 2,
        "faces_obscured": 0,
        "seconds": 2.0,
    }
    assert data["exit_code"] == 1
    assert data["files"][0] == {
        "source": "in/a.jpg",
        "targets": ["out/a.jpg"],
        "status": "ok",
        "faces_found": 2,
        "faces_anonymized": 2,
        "faces_obscured": 0,
        "reason": "",
        "seconds": 1.5,
    }
    assert data["files"][3]["reason"] == "in/bad.jpg: file is empty" and data["files"][3]["targets"] == []

    BatchReport.from_results(_results()).to_json(path)  # a later report replaces the earlier one
    assert json.loads(path.read_text())["totals"]["files"] == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.json"]  # no temp files left


def test_summary_line() -> None:
    failed = FileResult.failure("in/bad.jpg", "file is empty", seconds=0.25)
    line = BatchReport.from_results([*_results(), failed]).summary()
    assert "\n" not in line
    assert line.startswith("4 files: 1 ok, 1 no face, 1 failed, 1 skipped (output exists)")
    assert "2 faces found, 2 anonymized" in line and line.endswith("2.2 s")


def test_real_read_failures_feed_the_report(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    _touch(src / "empty.jpg", b"")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src / "good.png")
    results = []
    for job in plan_outputs([src], tmp_path / "out"):
        try:
            image = read_image(job.source)
        except ImageReadError as error:
            results.append(FileResult.failure(job.source, error.reason))
            continue
        write_image(job.target, image.rgb)
        results.append(FileResult(job.source, (job.target,), "no_face"))
    report = BatchReport.from_results(results)
    assert [r.status for r in report.results] == ["failed", "no_face"]
    assert report.results[0].reason == "file is empty" and report.exit_code() == 1
