"""``ganon anonymize`` over video files: one ``FileResult`` per video; one bad video never stops the batch."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ganon.batch import FAILING_STATUSES, FileResult, Job
from ganon.pipeline.anonymize import Anonymizer, FaceMissError
from ganon.video.anonymize import VideoAnonymizer, VideoConfig, VideoResult
from ganon.video.io import VideoReadError, VideoWriteError

logger = logging.getLogger(__name__)


def anonymize_videos(anonymizer: Anonymizer, jobs: Sequence[Job], *, config: VideoConfig = VideoConfig(),
                     overwrite: bool = False, progress: bool | None = None) -> list[FileResult]:
    """Anonymize every job's video into its target (composite mode), in order, with a bar per video."""
    video = VideoAnonymizer(anonymizer, config)
    results = []
    for job in jobs:
        result = _one(video, job, overwrite=overwrite, progress=progress)
        level = logging.WARNING if result.status in FAILING_STATUSES else logging.INFO
        logger.log(level, "%s: %s%s", result.source, result.status, f" ({result.reason})" if result.reason else "")
        results.append(result)
    return results


def _one(video: VideoAnonymizer, job: Job, *, overwrite: bool, progress: bool | None) -> FileResult:
    started = time.perf_counter()
    seconds = lambda: time.perf_counter() - started  # noqa: E731
    settings = video.anonymizer.config
    if settings.mode != "composite":
        return FileResult.failure(job.source, "videos are anonymized in composite mode only (not --mode crops)")
    if job.target.exists() and not overwrite:
        return FileResult(job.source, (job.target,), "skipped_exists",
                          reason=f"{job.target} exists (use --overwrite to replace it)")
    policy = settings.on_no_face
    keep = lambda r: r.faces > 0 or policy == "copy"  # noqa: E731
    try:
        outcome = video.anonymize_file(job.source, job.target, overwrite=overwrite, progress=progress, keep=keep)
    except VideoReadError as error:
        return FileResult.failure(job.source, error.reason, seconds=seconds())
    except FaceMissError as error:
        return FileResult.failure(job.source, f"{error}; nothing written", seconds=seconds())
    except (VideoWriteError, FileExistsError, OSError) as error:
        return FileResult.failure(job.source, f"{type(error).__name__}: {error}", seconds=seconds())
    except Exception as error:  # a model failing on one odd video must not end the batch
        logger.debug("video failed", exc_info=True)
        return FileResult.failure(job.source, f"{type(error).__name__}: {error}; nothing written", seconds=seconds())
    return _result(job, outcome, policy, seconds())


def _result(job: Job, outcome: VideoResult, policy: str, seconds: float) -> FileResult:
    details = outcome.to_dict()
    if outcome.faces == 0:
        if policy == "error":
            return FileResult(job.source, (), "failed", reason="no face found (--on-no-face error); nothing written",
                              seconds=seconds, video=details)
        written = (job.target,) if policy == "copy" else ()
        note = "copied with no face changed" if written else "nothing written"
        return FileResult(job.source, written, "no_face", reason=f"no face found; {note}", seconds=seconds,
                          video=details)
    notes = []
    if outcome.obscured_frames:
        notes.append(f"{len(outcome.obscured_frames)} frames with a face obscured (no landmarks)")
    if outcome.predicted_frames:
        notes.append(f"{outcome.predicted_frames} face-frames replaced at a tracked (undetected) position")
    return FileResult(job.source, (job.target,), "ok", faces_found=outcome.faces,
                      faces_anonymized=outcome.faces - outcome.obscured_faces, reason="; ".join(notes), seconds=seconds, video=details)
