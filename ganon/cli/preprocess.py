"""``ganon preprocess SRC --out DIR``: aligned, segmented face / landmark-canvas PNG pairs (3.1-3.3)."""

from __future__ import annotations

from pathlib import Path

import typer


def _shard(value: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise typer.BadParameter(f"--shard takes i/n, e.g. 0/4, got {value!r}") from None
    if count < 1 or not 0 <= index < count:
        raise typer.BadParameter(f"--shard i/n needs 0 <= i < n, got {value!r}")
    return index, count


def preprocess(
    src: Path = typer.Argument(..., help="Folder of images, or a CelebA root (img_align_celeba/ + partition)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: faces/, landmarks/, manifest*.csv."),
    resolution: int = typer.Option(128, "--resolution", "--size", help="Side of the stored pairs, the "
                                   "generator's resolution (the paper: 512); --size is its old name."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Parallel processes."),
    shard: str = typer.Option("0/1", "--shard", help="i/n: this job's share of the sources (array jobs)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many new sources."),
    style: str = typer.Option("authors", "--style", help="Landmark rendering: authors or paper."),
    segmenter: str = typer.Option("mediapipe-head", "--segmenter", help="Head segmenter; 'none' keeps all."),
    aligned: bool = typer.Option(False, "--aligned", help="Sources are already aligned face crops."),
    keep_missing: bool = typer.Option(False, "--keep-missing", help="Store faces without landmarks too."),
    val_fraction: float = typer.Option(0.05, "--val-fraction", help="Share of a plain folder held out."),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/val split."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Write training pairs; rerunning the same command resumes where it stopped."""
    from ganon.pipeline.preprocess import PreprocessConfig, preprocess as run

    try:
        config = PreprocessConfig(
            resolution=resolution, render_style=style, segmenter=None if segmenter == "none" else segmenter,
            assume_aligned=aligned, keep_missing=keep_missing, val_fraction=val_fraction, seed=seed,
        )
        summary = run(src, out, config, workers=workers, shard=_shard(shard), limit=limit, progress=progress)
    except (NotADirectoryError, ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(
        f"{summary.pairs} pairs from {summary.sources - summary.skipped} new sources "
        f"({summary.skipped} already done; no face {summary.no_face}, no landmarks {summary.no_landmarks}, "
        f"unreadable {summary.unreadable}); manifest {summary.manifest}"
    )
    if summary.unreadable:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("preprocess")(preprocess)
