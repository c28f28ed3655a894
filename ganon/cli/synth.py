"""``ganon synth-faces``: write synthetic DCGAN faces as PNGs, training material for Section 3.4."""

from __future__ import annotations

import time
from pathlib import Path

import typer


def synth_faces(
    n: int = typer.Argument(..., min=1, help="How many faces to write."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the PNGs (created; existing files kept)."),
    seed: int = typer.Option(0, "--seed", help="Face i of seed s is always the same picture."),
    start: int = typer.Option(0, "--start", min=0, help="First face index (to extend a folder)."),
    size: int = typer.Option(128, "--size", min=16, help="Side in pixels (64 is native; larger: Lanczos)."),
) -> None:
    """Write N synthetic faces from the DCGAN shipped in gan-face-generate (then run `ganon preprocess`)."""
    from ganon.data.synthetic import write_faces

    began = time.perf_counter()
    try:
        write_faces(out, n, seed=seed, start=start, size=size)
    except (FileNotFoundError, ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"{n} faces in {out} ({time.perf_counter() - began:.1f} s)")


def register(app: typer.Typer) -> None:
    app.command("synth-faces")(synth_faces)
