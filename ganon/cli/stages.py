"""``ganon stages INPUT... --out DIR``: every intermediate picture of Sections 3.1-3.4, per face."""

from __future__ import annotations

from pathlib import Path

import typer

from ganon.batch import PlanError, plan_outputs
from ganon.weights import WeightsNotFoundError


def stages(
    inputs: list[Path] = typer.Argument(..., metavar="INPUT...", help="Photos and folders."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (one sub-folder per photo)."),
    weights: str | None = typer.Option(None, "--weights", "-w", help="Generator path or shipped name."),
    segmenter: str = typer.Option("mediapipe-head", "--segmenter", help="Head segmentation backend (3.2)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing pictures."),
) -> None:
    """Write aligned face, head mask, segmented face, landmark canvas, synthesized face and composite."""
    from ganon.imageio import ImageReadError, read_image
    from ganon.pipeline.anonymize import Anonymizer
    from ganon.pipeline.stages import write_stages
    from ganon.pipeline.segment import build_segmenter

    try:
        jobs = plan_outputs(inputs, out, suffix=".png")
        anonymizer = Anonymizer.from_weights(weights, device=device)
        segment = build_segmenter(segmenter)
    except (PlanError, WeightsNotFoundError, ValueError, RuntimeError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    failed = 0
    for job in jobs:
        try:
            image = read_image(job.source)
            written = write_stages(anonymizer, segment, image.rgb, job.target.with_suffix(""), overwrite=overwrite)
        except (ImageReadError, FileExistsError, OSError) as error:
            typer.echo(f"error: {job.source}: {error}", err=True)
            failed += 1
            continue
        typer.echo(f"{job.source}: {len(written)} pictures in {job.target.with_suffix('')}")
    raise typer.Exit(code=1 if failed else 0)


def register(app: typer.Typer) -> None:
    app.command("stages")(stages)
