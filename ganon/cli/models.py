"""``ganon models``: make, inspect and export generator weights."""

from __future__ import annotations

import json
from pathlib import Path

import typer

models_app = typer.Typer(name="models", help="Generator weights: init, info, export-onnx, quality.", no_args_is_help=True)


def _fail(error: BaseException | str) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(code=1)


@models_app.command("init")
def init(
    path: Path = typer.Argument(..., help="Where to write the .safetensors file."),
    preset: str = typer.Option("small-128", "--preset", help="Generator preset (paper, small-256, small-128, tiny-64)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random initialisation."),
    render_style: str = typer.Option("authors", "--render-style", help="Landmark rendering the model expects."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
) -> None:
    """Write an UNTRAINED generator: for testing the pipeline, not for anonymizing anything real."""
    from ganon.models.checkpoint import save_generator
    from ganon.models.pix2pix import build_generator
    from ganon.registry import UnknownNameError

    try:
        model = build_generator(preset, seed=seed)
        digest = save_generator(path, model, render_style=render_style, overwrite=overwrite, card={
            "name": path.stem, "preset": preset, "seed": seed, "trained": False,
            "note": "random initialisation (ganon models init); produces noise-like faces",
        })
    except (UnknownNameError, ValueError, FileExistsError, OSError) as error:
        _fail(error)
    typer.echo(f"{path}: untrained {preset} generator (seed {seed}), sha256 {digest}")


@models_app.command("info")
def info(weights: str = typer.Argument(None, help="Path or shipped name (default: the shipped default).")) -> None:
    """Print a weights file's config, card and checksum as JSON."""
    import dataclasses

    from ganon.models.checkpoint import WeightsError, load_any
    from ganon.weights import WeightsNotFoundError, resolve_weights

    try:
        loaded = load_any(resolve_weights(weights))
    except (WeightsNotFoundError, WeightsError) as error:
        _fail(error)
    typer.echo(json.dumps({"path": str(loaded.path), "sha256": loaded.sha256,
                           "render_style": loaded.render_style, "config": dataclasses.asdict(loaded.config),
                           "card": loaded.card}, indent=2, sort_keys=True))


@models_app.command("export-onnx")
def export(
    weights: str = typer.Argument(..., help="Path or shipped name of the generator."),
    out: Path = typer.Option(..., "--out", "-o", help="The .onnx file to write."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
) -> None:
    """Export a generator to ONNX and check onnxruntime's output against PyTorch's."""
    from ganon.models.checkpoint import WeightsError, load_any
    from ganon.models.export import OnnxMismatchError, export_onnx
    from ganon.weights import WeightsNotFoundError, resolve_weights

    try:
        loaded = load_any(resolve_weights(weights))
        result = export_onnx(loaded.model, out, resolution=loaded.resolution, overwrite=overwrite)
    except (WeightsNotFoundError, WeightsError, OnnxMismatchError, FileExistsError) as error:
        _fail(error)
    typer.echo(f"{result.path}: opset {result.opset}, max |onnx - torch| = {result.max_abs_diff:.2e}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app)
