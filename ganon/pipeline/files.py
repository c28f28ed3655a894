"""``ganon anonymize`` over files: read, anonymize, write, report; one bad file never stops the batch.

Faces of several photos are collected before the generator runs, so it always sees full batches
(video frames have one face each). Privacy fails closed: a photo is written only after every detected
face in it was replaced or obscured; when that is impossible the file fails and nothing is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ganon.batch import FAILING_STATUSES, FileResult, Job, face_target
from ganon.imageio import ImageReadError, LoadedImage, read_image, write_image
from ganon.pipeline.anonymize import Anonymizer, FaceMissError, FaceStages, ImageResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteOptions:
    """How results reach the disk: replace existing outputs or not, and the crops' image format."""

    overwrite: bool = False
    crop_suffix: str = ".png"


@dataclass
class _Pending:
    job: Job
    image: LoadedImage
    stages: list[FaceStages]
    seconds: float  # time spent on this file so far (its share of batched work included)


def anonymize_files(
    anonymizer: Anonymizer,
    jobs: Sequence[Job],
    *,
    options: WriteOptions = WriteOptions(),
    progress: bool | None = None,
) -> list[FileResult]:
    """Anonymize every job's source into its target and return one ``FileResult`` per job, in order.

    ``progress=None`` shows a bar only on a terminal. Errors of one file (unreadable, no landmarks
    with ``on_miss='error'``, a target that exists) become that file's result; the rest go on.
    """
    results: dict[int, FileResult] = {}
    bar = tqdm(total=len(jobs), unit="file", disable=(None if progress is None else not progress),
               desc="anonymize")
    with bar:
        for index, result in _run(anonymizer, jobs, options):
            results[index] = result
            level = logging.WARNING if result.status in FAILING_STATUSES else logging.INFO
            logger.log(level, "%s: %s%s", result.source, result.status, f" ({result.reason})" if result.reason else "")
            bar.update(1)
    return [results[i] for i in range(len(jobs))]


def _run(anonymizer: Anonymizer, jobs: Sequence[Job], options: WriteOptions) -> Iterator[tuple[int, FileResult]]:
    batch_faces = anonymizer.synthesizer.batch_size
    pending: list[tuple[int, _Pending]] = []
    for index, job in enumerate(jobs):
        started = time.perf_counter()
        existing = _existing_target(job, anonymizer, options)
        if existing is not None:
            yield index, FileResult(job.source, (existing,), "skipped_exists",
                                    reason=f"{existing} exists (use --overwrite to replace it)")
            continue
        try:
            image = read_image(job.source)
            stages = anonymizer.prepare(image.rgb, source=job.relative.as_posix())
        except ImageReadError as error:
            yield index, FileResult.failure(job.source, error.reason, seconds=time.perf_counter() - started)
            continue
        except Exception as error:  # a model failing on one odd image must not end the batch
            logger.debug("prepare failed", exc_info=True)
            yield index, FileResult.failure(job.source, f"{type(error).__name__}: {error}",
                                            seconds=time.perf_counter() - started)
            continue
        pending.append((index, _Pending(job, image, stages, time.perf_counter() - started)))
        if sum(len(p.stages) for _, p in pending) >= batch_faces:
            yield from _flush(anonymizer, pending, options)
            pending = []
    yield from _flush(anonymizer, pending, options)


def _flush(anonymizer: Anonymizer, pending: list[tuple[int, _Pending]],
           options: WriteOptions) -> Iterable[tuple[int, FileResult]]:
    started = time.perf_counter()
    anonymizer.synthesize([stage for _, item in pending for stage in item.stages])
    per_face = (time.perf_counter() - started) / max(1, sum(len(item.stages) for _, item in pending))
    for index, item in pending:
        started = time.perf_counter()
        item.seconds += per_face * len(item.stages)
        try:
            result = _finish(anonymizer, item, options, started)
        except Exception as error:  # e.g. a full disk: report this file, keep going
            logger.debug("finishing failed", exc_info=True)
            result = FileResult.failure(item.job.source, f"{type(error).__name__}: {error}",
                                        seconds=item.seconds + time.perf_counter() - started)
        yield index, result


def _finish(anonymizer: Anonymizer, item: _Pending, options: WriteOptions, started: float) -> FileResult:
    job, image = item.job, item.image
    config = anonymizer.config
    seconds = lambda: item.seconds + time.perf_counter() - started  # noqa: E731
    if not item.stages:
        if config.on_no_face == "error":
            return FileResult.failure(job.source, "no face found (--on-no-face error)", seconds=seconds())
        if config.on_no_face == "copy" and config.mode == "composite":
            target = write_image(job.target, image.rgb, like=image, overwrite=options.overwrite)
            return FileResult(job.source, (target,), "no_face", reason="no face found; copied unchanged",
                              seconds=seconds())
        return FileResult(job.source, (), "no_face", reason="no face found; nothing written", seconds=seconds())
    try:
        result = anonymizer.assemble(image.rgb, item.stages)
    except FaceMissError as error:
        return FileResult.failure(job.source, f"{error}; nothing written", seconds=seconds())
    targets = _write(job, image, result, config.mode, options)
    return FileResult(job.source, tuple(targets), "ok", faces_found=result.found,
                      faces_anonymized=result.anonymized, faces_obscured=result.obscured,
                      reason=_describe(result), seconds=seconds())


def _write(job: Job, image: LoadedImage, result: ImageResult, mode: str, options: WriteOptions) -> list[Path]:
    if mode == "composite":
        assert result.composite is not None
        return [write_image(job.target, result.composite, like=image, overwrite=options.overwrite)]
    return [write_image(face_target(job, i, options.crop_suffix), crop, overwrite=options.overwrite)
            for i, crop in enumerate(result.crops)]


def _describe(result: ImageResult) -> str:
    """Name every face that was not re-synthesized from its own landmarks."""
    notes = [f"face {f.index}: {f.reason}" for f in result.faces if f.status != "anonymized"]
    return "; ".join(notes)


def _existing_target(job: Job, anonymizer: Anonymizer, options: WriteOptions) -> Path | None:
    if options.overwrite:
        return None
    target = job.target if anonymizer.config.mode == "composite" else face_target(job, 0, options.crop_suffix)
    return target if target.exists() else None
