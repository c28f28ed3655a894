"""Which file goes where in ``ganon anonymize INPUT... --out DIR``, and what happened to each.

``plan_outputs`` expands files and folders into jobs with one unique target each (no two jobs share a
target, or even a target stem in the same folder, so derived names such as face crops cannot clash
either). The output folder is never read as input. ``BatchReport`` is the audit record written at the
end, and decides the exit code.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any, Literal

from ganon import __version__
from ganon.imageio import IMAGE_SUFFIXES, write_bytes_atomic
from ganon.video import VIDEO_SUFFIXES

logger = logging.getLogger(__name__)

Status = Literal["ok", "no_face", "failed", "skipped_exists"]
STATUSES: tuple[str, ...] = ("ok", "no_face", "failed", "skipped_exists")
#: The statuses that make the exit code 1. A photo is never written half-anonymized (a face that
#: cannot be re-synthesized is obscured, or the file fails), so there is no "partial" outcome.
FAILING_STATUSES: frozenset[str] = frozenset({"failed"})

#: Suffix given to targets whose source has no image suffix (they are read by content).
FALLBACK_SUFFIX = ".png"


class PlanError(ValueError):
    """The inputs and output folder cannot be planned safely (e.g. an output would replace its input)."""


@dataclass(frozen=True)
class Job:
    """One input file and the output path reserved for it; ``target == out_dir / relative``."""

    source: Path
    target: Path
    relative: PurePath


def plan_outputs(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    suffix: str | None = None,
    recursive: bool = True,
) -> list[Job]:
    """Expand ``inputs`` (files and folders) into jobs whose targets mirror the input tree under ``out_dir``.

    Files are taken as given (read errors are reported later, per file) and land at ``out/<name>``.
    Folders are walked in sorted order for image suffixes, skipping hidden entries and the output
    folder; one folder maps to ``out/<relative>``, several to ``out/<folder name>/<relative>``.
    ``suffix`` (e.g. ``".png"``) changes every target's format.

    Example: ``plan_outputs([Path("photos")], Path("anon"))``
    -> ``[Job(photos/a.jpg, anon/a.jpg, a.jpg), ...]``
    """
    out_dir = Path(out_dir)
    out_resolved = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise PlanError(f"{out_dir}: the output path exists and is not a folder")
    suffix = _normalise_suffix(suffix)

    folders: list[Path] = []
    entries: list[Path | tuple[int, PurePath]] = []  # a file, or (folder index, path inside it)
    for raw in inputs:
        given = Path(raw)
        if _is_within(given.resolve(), out_resolved):
            logger.warning("%s: inside the output folder %s; not taken as input", given, out_dir)
            continue
        if given.is_dir():
            folders.append(given)
            entries.extend((len(folders) - 1, rel) for rel in _walk(given, out_resolved, recursive=recursive))
        else:
            entries.append(given)

    labels = _folder_labels(folders)
    seen: set[Path] = set()
    planned: list[tuple[Path, PurePath]] = []
    for entry in entries:
        if isinstance(entry, tuple):
            index, inner = entry
            source = folders[index] / inner
            natural = PurePath(labels[index]) / inner if len(folders) > 1 else inner
        else:
            source = entry
            natural = PurePath(entry.name)
        key = source.resolve()
        if key in seen:
            logger.info("%s: given more than once; processed once", source)
            continue
        seen.add(key)
        planned.append((source, _with_suffix(natural, suffix)))

    jobs = [
        Job(source=source, target=out_dir / rel, relative=rel)
        for source, rel in zip((s for s, _ in planned), _unique(planned), strict=True)
    ]
    for job in jobs:
        if job.source.resolve() == job.target.resolve():
            raise PlanError(f"{job.source}: the output would replace the input; choose another --out")
    return jobs


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether a file is taken as a video (by suffix: mp4, mov, avi, mkv, webm)."""
    return PurePath(path).suffix.lower() in VIDEO_SUFFIXES


def face_target(job: Job, index: int, suffix: str = ".png") -> Path:
    """Path of the ``index``-th face crop of ``job`` for ``--mode crops``, e.g. ``out/photo_face00.png``."""
    if index < 0:
        raise ValueError(f"face index must be >= 0, got {index}")
    suffix = _normalise_suffix(suffix) or ".png"
    return job.target.with_name(f"{job.target.stem}_face{index:02d}{suffix}")


def _normalise_suffix(suffix: str | None) -> str | None:
    if suffix is None:
        return None
    normal = suffix.lower() if suffix.startswith(".") else "." + suffix.lower()
    if normal not in IMAGE_SUFFIXES:
        raise PlanError(f"unknown output suffix {suffix!r}; use one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    return normal


def _with_suffix(relative: PurePath, suffix: str | None) -> PurePath:
    if is_video(relative):
        return relative  # a video stays in its own container; --suffix is for photos
    if suffix is not None:
        return (
            relative.with_name(relative.stem + suffix)
            if relative.suffix
            else relative.with_name(relative.name + suffix)
        )
    if relative.suffix.lower() in IMAGE_SUFFIXES:
        return relative
    return relative.with_name(relative.name + FALLBACK_SUFFIX)


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _walk(root: Path, out_resolved: Path, *, recursive: bool) -> list[PurePath]:
    """Image and video files under ``root`` as paths relative to it, sorted by their parts."""
    found: list[PurePath] = []
    ignored: Counter[str] = Counter()

    def fail(error: OSError) -> None:  # an unreadable folder would silently leave photos behind
        raise PlanError(f"{error.filename}: cannot list folder ({error.strerror})")

    for current, dirnames, filenames in os.walk(root, onerror=fail):
        here = Path(current)
        inner = PurePath(os.path.relpath(current, root))
        kept = []
        for name in dirnames:
            sub = here / name
            if name.startswith("."):
                continue
            if _is_within(sub.resolve(), out_resolved):
                logger.info("%s: the output folder; not walked", sub)
                continue
            if sub.is_symlink():
                logger.warning("%s: symbolic link to a folder; not followed", sub)
                continue
            kept.append(name)
        dirnames[:] = sorted(kept) if recursive else []
        for name in filenames:
            if name.startswith("."):
                continue
            file_suffix = Path(name).suffix.lower()
            if file_suffix not in IMAGE_SUFFIXES and file_suffix not in VIDEO_SUFFIXES:
                ignored[file_suffix or "(none)"] += 1
                continue
            if _is_within((here / name).resolve(), out_resolved):
                continue
            found.append(inner / name if inner != PurePath(".") else PurePath(name))
    if ignored:
        summary = ", ".join(f"{ext} ({n})" for ext, n in sorted(ignored.items()))
        logger.warning(
            "%s: skipped %d files that are not images or videos by suffix: %s", root, sum(ignored.values()), summary
        )
    if not found:
        logger.warning("%s: no image or video files found", root)
    return sorted(found, key=lambda rel: rel.parts)


def _folder_labels(folders: Sequence[Path]) -> list[str]:
    """Output sub-folder names for several input folders: their names, made unique deterministically."""
    names = [folder.resolve().name or "root" for folder in folders]
    taken = {name.casefold() for name in names}
    used: set[str] = set()
    labels = []
    for folder, name in zip(folders, names, strict=True):
        label = name
        counter = 0
        while label.casefold() in used or (counter and label.casefold() in taken):
            counter += 1
            label = f"{name}-{counter}"
        if label != name:
            logger.warning(
                "%s: another input folder is also named %r; its outputs go to %r", folder, name, label
            )
        used.add(label.casefold())
        labels.append(label)
    return labels


def _stem_key(relative: PurePath) -> str:
    # Case-insensitive (macOS, Windows) and suffix-blind, so photo.jpg and Photo.png cannot share crops.
    return str(relative.parent / relative.stem).casefold()


def _unique(planned: Sequence[tuple[Path, PurePath]]) -> list[PurePath]:
    """Resolve target clashes: the first job keeps its name, later ones get ``-1``, ``-2``, ...

    New names avoid every name some job wants naturally, so the result does not depend on which of
    two clashing files happens to be seen first beyond their plan order.
    """
    natural_keys = {_stem_key(rel) for _, rel in planned}
    used: set[str] = set()
    result: list[PurePath] = []
    for source, rel in planned:
        key = _stem_key(rel)
        chosen = rel
        if key in used:
            counter = 0
            while True:
                counter += 1
                chosen = rel.with_name(f"{rel.stem}-{counter}{rel.suffix}")
                candidate = _stem_key(chosen)
                if candidate not in used and candidate not in natural_keys:
                    break
            logger.warning(
                "%s: output name %s is already taken by another input; writing to %s",
                source,
                rel.as_posix(),
                chosen.as_posix(),
            )
        used.add(_stem_key(chosen))
        result.append(chosen)
    return result


# --------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class FileResult:
    """What happened to one input file."""

    source: Path
    targets: tuple[Path, ...]
    status: Status
    faces_found: int = 0
    faces_anonymized: int = 0
    reason: str = ""
    seconds: float = 0.0
    faces_obscured: int = 0  # detected faces pixelated and blurred (too small, no landmarks), never left
    video: Mapping[str, Any] | None = None  # a video's frames, tracks, faces per frame, ...

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; expected one of {', '.join(STATUSES)}")
        if self.status == "failed" and not self.reason:
            raise ValueError(f"{self.source}: a failed result needs a reason")
        object.__setattr__(self, "targets", tuple(Path(t) for t in self.targets))

    @property
    def target(self) -> Path | None:
        """The first (usually the only) output path."""
        return self.targets[0] if self.targets else None

    @classmethod
    def failure(cls, source: str | os.PathLike[str], reason: str, *, seconds: float = 0.0) -> FileResult:
        return cls(source=Path(source), targets=(), status="failed", reason=reason, seconds=seconds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "targets": [str(t) for t in self.targets],
            "status": self.status,
            "faces_found": self.faces_found,
            "faces_anonymized": self.faces_anonymized,
            "faces_obscured": self.faces_obscured,
            "reason": self.reason,
            "seconds": round(float(self.seconds), 4),
            **({"video": dict(self.video)} if self.video is not None else {}),
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class BatchReport:
    """Per-file results of one run plus the settings used; the audit record and the exit code."""

    results: tuple[FileResult, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    ganon_version: str = __version__

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))

    @classmethod
    def from_results(cls, results: Iterable[FileResult], **kwargs: Any) -> BatchReport:
        return cls(results=tuple(results), **kwargs)

    def totals(self) -> dict[str, Any]:
        counts = Counter(result.status for result in self.results)
        return {
            "files": len(self.results),
            **{status: counts.get(status, 0) for status in STATUSES},
            "faces_found": sum(result.faces_found for result in self.results),
            "faces_anonymized": sum(result.faces_anonymized for result in self.results),
            "faces_obscured": sum(result.faces_obscured for result in self.results),
            "seconds": round(sum(result.seconds for result in self.results), 3),
        }

    def exit_code(self) -> int:
        """0 when every file succeeded (or had no face, or was skipped); 1 when any failed."""
        return 1 if any(result.status in FAILING_STATUSES for result in self.results) else 0

    def summary(self) -> str:
        """One line for the log, e.g. ``12 files: 10 ok, 1 no face, 1 failed, ...``."""
        t = self.totals()
        return (
            f"{t['files']} files: {t['ok']} ok, {t['no_face']} no face, "
            f"{t['failed']} failed, {t['skipped_exists']} skipped (output exists); "
            f"{t['faces_found']} faces found, {t['faces_anonymized']} anonymized; {t['seconds']:.1f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ganon_version": self.ganon_version,
            "created": self.created,
            "settings": dict(self.settings),
            "totals": self.totals(),
            "exit_code": self.exit_code(),
            "files": [result.to_dict() for result in self.results],
        }

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the report atomically (replacing an earlier report at the same path)."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"
        return write_bytes_atomic(path, text.encode("utf-8"), overwrite=True)
