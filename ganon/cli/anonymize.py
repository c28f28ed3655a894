"""``ganon anonymize INPUT... --out DIR``: the paper's pipeline on your own photos."""

from __future__ import annotations

import logging
from enum import Enum
from pathlib import Path

import typer

from ganon.batch import FAILING_STATUSES, BatchReport, PlanError, is_video, plan_outputs
from ganon.weights import WeightsNotFoundError

logger = logging.getLogger(__name__)


class ModeChoice(str, Enum):
    composite = "composite"
    crops = "crops"


class MissChoice(str, Enum):
    blur = "blur"
    average = "average"
    error = "error"


class PresetChoice(str, Enum):
    privacy = "privacy"
    paper = "paper"


class IdentityChoice(str, Enum):
    per_face = "per-face"
    per_file = "per-file"
    per_track = "per-track"
    fixed = "fixed"


class NoFaceChoice(str, Enum):
    skip = "skip"
    copy = "copy"
    error = "error"


def anonymize(
    inputs: list[Path] = typer.Argument(..., metavar="INPUT...",
                                        help="Photos, videos (mp4, mov, avi, mkv, webm) and folders (searched recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; it mirrors the input tree."),
    mode: ModeChoice = typer.Option(
        ModeChoice.composite, "--mode",
        help="composite: faces replaced inside the photo (same size). crops: one 512x512 face per "
             "detected face, the paper's output."),
    weights: str | None = typer.Option(
        None, "--weights", "-w",
        help="Generator: a .safetensors/.ckpt path or a shipped model name (default: the shipped model)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Faces per generator batch."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the per-file report here."),
    on_miss: MissChoice = typer.Option(
        MissChoice.blur, "--on-miss",
        help="A detected face without landmarks: blur (pixelate + blur it), average (the generator's "
             "face from an empty canvas, as the authors did) or error (fail the file, write nothing)."),
    on_no_face: NoFaceChoice = typer.Option(
        NoFaceChoice.skip, "--on-no-face",
        help="A photo without faces: skip (write nothing), copy (write it unchanged) or error."),
    preset: PresetChoice = typer.Option(
        PresetChoice.privacy, "--preset",
        help="privacy: detect for recall (YuNet at 0.3, every hand-checked face found). paper: the paper's "
             "RetinaFace at 0.9. --detector and --threshold override it."),
    detector: str | None = typer.Option(None, "--detector",
                                        help="Face detector backend (default: the preset's)."),
    threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                           help="Detector score threshold (default: the preset's)."),
    min_face: int = typer.Option(24, "--min-face", min=0,
                                 help="Faces smaller than this many pixels are obscured, not synthesized."),
    suffix: str | None = typer.Option(None, "--suffix", help="Output format for composites, e.g. .png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace outputs that exist (never inputs)."),
    progress: bool | None = typer.Option(None, "--progress/--no-progress", help="Progress bar (default: on a terminal)."),
    seed: int | None = typer.Option(
        None, "--seed", min=0, max=2**63 - 1,
        help="Seed of the appearance codes of a seeded generator (e.g. small-128-coded): the same seed "
             "gives the same files byte for byte. Default: a fresh random seed, recorded in --json. "
             "Un-coded generators (the shipped default) ignore it; the report says so."),
    identity: IdentityChoice = typer.Option(
        IdentityChoice.per_face, "--identity",
        help="Which faces share one appearance code: per-face, per-file, per-track (videos: one per "
             "tracked person) or fixed (one for the whole run). No effect on un-coded generators."),
) -> None:
    """Replace every face in the given photos and videos by a synthesized one with the same expression.

    Videos keep size, frame rate, frame count and audio; faces are tracked so each person keeps one face.
    """
    from ganon.pipeline.anonymize import DETECTION_PRESETS, AnonymizeConfig, Anonymizer
    from ganon.pipeline.files import WriteOptions, anonymize_files

    detector = detector or DETECTION_PRESETS[preset.value][0]
    threshold = DETECTION_PRESETS[preset.value][1] if threshold is None else threshold

    try:
        jobs = plan_outputs(inputs, out, suffix=suffix)
    except (PlanError, OSError) as error:
        _fail(error)
    if not jobs:
        _fail(f"no images or videos found in {', '.join(str(p) for p in inputs)}")
    try:
        config = AnonymizeConfig(mode=mode.value, detector=detector, detector_threshold=threshold,
                                 on_miss=on_miss.value, on_no_face=on_no_face.value, min_face=min_face,
                                 seed=seed, identity=identity.value)
        anonymizer = Anonymizer.from_weights(weights, config, device=device, batch_size=batch_size)
    except (WeightsNotFoundError, ValueError, RuntimeError, OSError) as error:
        _fail(error)
    out.mkdir(parents=True, exist_ok=True)
    photos = [(i, job) for i, job in enumerate(jobs) if not is_video(job.source)]
    videos = [(i, job) for i, job in enumerate(jobs) if is_video(job.source)]
    by_index = {}
    if photos:
        by_index.update(zip((i for i, _ in photos), anonymize_files(
            anonymizer, [job for _, job in photos], options=WriteOptions(overwrite=overwrite), progress=progress)))
    if videos:
        from ganon.video.files import anonymize_videos

        by_index.update(zip((i for i, _ in videos), anonymize_videos(
            anonymizer, [job for _, job in videos], overwrite=overwrite, progress=progress)))
    results = [by_index[i] for i in range(len(jobs))]
    report = BatchReport.from_results(results, settings={
        "mode": mode.value, "weights": str(anonymizer.synthesizer.source),
        "weights_sha256": anonymizer.synthesizer.sha256, "device": str(anonymizer.synthesizer.device),
        "preset": preset.value, "detector": detector, "threshold": threshold, "min_face": min_face,
        "on_miss": on_miss.value,
        "on_no_face": on_no_face.value, "render_style": anonymizer.synthesizer.render_style,
        "appearance_codes": anonymizer.codes.describe(),
    })
    for result in results:
        if result.status in FAILING_STATUSES:
            typer.echo(f"error: {result.source}: {result.reason}", err=True)
    if json_path is not None:
        try:
            report.to_json(json_path)
        except OSError as error:
            typer.echo(f"error: cannot write the report {json_path}: {error}", err=True)
            raise typer.Exit(code=1) from None
    typer.echo(report.summary())
    typer.echo(f"detector {detector} at {threshold:g} (preset {preset.value}); "
               f"{report.totals()['faces_obscured']} faces obscured (too small, no landmarks, or barely "
               "changed by the generator), none left")
    codes = anonymizer.codes.describe()
    typer.echo(f"appearance codes: seed {codes['seed']}, {codes['identity']}" if anonymizer.codes.effective
               else "appearance codes: none (this generator is deterministic; --seed and --identity have no effect)")
    typer.echo(f"outputs in {out}")
    raise typer.Exit(code=report.exit_code())


def _fail(error: BaseException | str) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    app.command("anonymize")(anonymize)
