"""``ganon evaluate``: the paper's evaluations (Section 4) from the command line.

``identity`` measures how far anonymized faces moved from their originals (Table 1); ``baseline``
writes a folder anonymized with one of Table 1's classical baselines. Other evaluations add their
commands to ``evaluate_app``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from tqdm.auto import tqdm

from ganon.registry import UnknownNameError

logger = logging.getLogger(__name__)

evaluate_app = typer.Typer(
    name="evaluate",
    help="The paper's evaluations: identity distances (Table 1), baselines, and more.",
    no_args_is_help=True,
)


def _fail(error: BaseException | str) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=1)


@evaluate_app.command("identity")
def identity(
    original: Path = typer.Option(..., "--original", help="Folder of original face images."),
    anonymized: list[Path] = typer.Option(
        ..., "--anonymized", help="Folder of anonymized versions (same relative paths); repeatable."
    ),
    name: list[str] | None = typer.Option(
        None, "--name", help="Method name for each --anonymized folder, in order (default: folder name)."
    ),
    backend: str = typer.Option(
        "dlib", "--backend", "-b", help="Identity model: dlib (offline) or facenet512 (paper)."
    ),
    metric: str | None = typer.Option(
        None,
        "--metric",
        help="dlib only: cosine (default, the paper's Eq. 1) or euclidean (dlib's own, threshold 0.6).",
    ),
    assume_aligned: bool = typer.Option(
        False,
        "--assume-aligned",
        help="Take each whole image as the face (no detection), like DeepFace's 'skip'.",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Per-image CSV; the summary goes to <out stem>_summary.csv."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing CSV files."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Cosine (or euclidean) identity distance between originals and each anonymized version."""
    import pandas as pd

    from ganon.backends.identity import ModelUnavailableError, build_identity_model
    from ganon.evaluation.identity import identity_distances, pair_by_relative_path, summarize_identity

    names = list(name or [])
    if names and len(names) != len(anonymized):
        raise _fail(f"--name was given {len(names)} times for {len(anonymized)} --anonymized folders")
    names = names or [folder.resolve().name for folder in anonymized]
    if len(set(names)) != len(names):
        raise _fail(f"method names must be unique, got {names}; use --name")
    summary_path = out.with_name(f"{out.stem}_summary.csv")
    for path in (out, summary_path):
        if path.exists() and not overwrite:
            raise _fail(f"{path}: exists; refusing to overwrite (use --overwrite)")

    options: dict[str, object] = {"assume_aligned": assume_aligned}
    if metric is not None:
        options["metric"] = metric
    try:
        model = build_identity_model(backend, **options)
    except (UnknownNameError, ModelUnavailableError, ValueError, TypeError) as error:
        raise _fail(error) from None

    tables = []
    cache: dict = {}
    try:
        for method, folder in zip(names, anonymized, strict=True):
            pairs = pair_by_relative_path(original, folder)
            if not pairs.pairs:
                raise _fail(f"{folder}: no image shares a relative path with {original}")
            tables.append(
                identity_distances(pairs, model, method_name=method, original_cache=cache, progress=progress)
            )
    except (OSError, ValueError) as error:
        raise _fail(error) from None

    per_image = pd.concat(tables, ignore_index=True)
    summary = summarize_identity(per_image)
    out.parent.mkdir(parents=True, exist_ok=True)
    per_image.to_csv(out, index=False)
    summary.to_csv(summary_path, index=False)
    typer.echo(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    typer.echo(f"per image: {out}\nsummary:   {summary_path}")


@evaluate_app.command("baseline")
def baseline(
    name: str = typer.Argument(..., help="pixelate-8x8, pixelate-16x16, blur-9x9 or blur-17x17."),
    input_dir: Path = typer.Argument(..., help="Folder of face images (walked recursively)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder; mirrors the input tree, never overwrites."
    ),
    pixelate_mode: str | None = typer.Option(
        None, "--pixelate-mode", help="pixelate only: grid (default, N x N cells) or block (N-pixel cells)."
    ),
    suffix: str = typer.Option(".png", "--suffix", help="Output format; PNG keeps the cells exact."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Anonymize a folder with one of Table 1's classical baselines."""
    from ganon.batch import PlanError, plan_outputs
    from ganon.evaluation.baselines import build_baseline
    from ganon.imageio import read_image, write_image

    if not input_dir.is_dir():
        raise _fail(f"{input_dir}: not a folder")
    try:
        method = build_baseline(name, **({"mode": pixelate_mode} if pixelate_mode else {}))
        jobs = plan_outputs([input_dir], out, suffix=suffix)
    except (UnknownNameError, PlanError, TypeError, ValueError) as error:
        raise _fail(error) from None
    existing = [job.target for job in jobs if job.target.exists()]
    if existing:
        raise _fail(f"{existing[0]}: exists ({len(existing)} targets in all); refusing to overwrite")
    failures = 0
    for job in tqdm(jobs, desc=name, unit="img", disable=not progress):
        try:
            image = read_image(job.source)
            job.target.parent.mkdir(parents=True, exist_ok=True)
            write_image(job.target, method(image.rgb))
        except (OSError, ValueError) as error:
            failures += 1
            typer.echo(f"error: {error}", err=True)
    typer.echo(f"{name}: {len(jobs) - failures} of {len(jobs)} images written to {out}")
    if failures:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.add_typer(evaluate_app, name="evaluate")
