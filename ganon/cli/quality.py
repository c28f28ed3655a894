"""``ganon models quality``: identity, realism and expression checks of a generator on the sample set."""

from __future__ import annotations

from pathlib import Path

import typer


def quality(
    weights: str = typer.Option(None, "--weights", "-w", help="Generator weights (default: the shipped default)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for metrics.json, faces.csv and side_by_side/."),
    samples: Path = typer.Option(Path("samples"), "--samples", help="Samples dataset root (built if missing)."),
    frames: int | None = typer.Option(None, "--frames", min=1, help="Use only the first N frames per video."),
    no_photos: bool = typer.Option(False, "--no-photos", help="Skip the sample photos (frames only)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Measure a generator: dlib identity distance, RetinaFace + face-mesh realism, expression correlation."""
    import json

    from ganon.evaluation.model_quality import ModelQuality, sample_inputs
    from ganon.models.checkpoint import WeightsError
    from ganon.weights import WeightsNotFoundError

    try:
        photos, videos = sample_inputs(samples, frames_per_video=frames, photos=not no_photos)
        evaluator = ModelQuality.from_weights(weights, device=device)
        metrics = evaluator.run(photos, videos, out, progress=progress)
    except (WeightsNotFoundError, WeightsError, FileNotFoundError, OSError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    summary = {k: metrics[k] for k in ("faces", "identity", "realism", "expression")}
    typer.echo(json.dumps(summary, indent=2))
    typer.echo(f"written {out / 'metrics.json'}")


def register(app: typer.Typer) -> None:
    """Adds ``quality`` to the ``ganon models`` group (registered before this module, by name order)."""
    from ganon.cli.models import models_app

    models_app.command("quality")(quality)
