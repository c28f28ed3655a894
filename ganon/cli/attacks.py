"""``ganon evaluate reid``: re-identify probe faces against a gallery of identities (issue 13, item 1)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from ganon.cli.evaluate import _fail, evaluate_app

logger = logging.getLogger(__name__)


@evaluate_app.command("reid")
def reid(
    gallery: Path = typer.Option(..., "--gallery", help="Folder with one sub-folder of images per identity."),
    probe: list[Path] = typer.Option(
        ..., "--probe", help="Folder of probe images in identity sub-folders (e.g. anonymized); repeatable."
    ),
    backend: str = typer.Option("sface", "--backend", "-b",
                                help="Identity model: sface, dlib or facenet512."),
    train: Path | None = typer.Option(
        None, "--train",
        help="Anonymized images per identity: also fit a trained attacker (linear probe) on them.",
    ),
    assume_aligned: bool = typer.Option(False, "--assume-aligned",
                                        help="Images are face crops (see evaluate identity)."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Summary CSV; per-probe rows go to <out stem>_probes.csv."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing CSV files."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Rank-1 / rank-5 identification, chance and mean rank of every probe set against the gallery."""
    import pandas as pd

    from ganon import backends
    from ganon.backends.identity import ModelUnavailableError
    from ganon.evaluation.reid import (
        LinearProbeAttacker, NearestNeighbourAttacker, attack, embed_identity_folder, summarize_reid,
    )
    from ganon.registry import UnknownNameError

    probes_path = out.with_name(f"{out.stem}_probes.csv")
    for path in (out, probes_path):
        if path.exists() and not overwrite:
            raise _fail(f"{path}: exists; refusing to overwrite (use --overwrite)")
    names = [folder.resolve().name for folder in probe]
    if len(set(names)) != len(names):
        raise _fail(f"probe folders need different names, got {names}")
    try:
        model = backends.build("identity", backend, **({"assume_aligned": True} if assume_aligned else {}))
    except (UnknownNameError, ModelUnavailableError, backends.BackendUnavailableError, ValueError) as error:
        raise _fail(error) from None
    try:
        cache: dict = {}
        known = embed_identity_folder(gallery, model, name="gallery", cache=cache, progress=progress)
        trained = None
        if train is not None:
            trained = LinearProbeAttacker()
            learned = embed_identity_folder(train, model, name="train", cache=cache, progress=progress)
            learned = learned.select(learned.found)
        tables = []
        for name, folder in zip(names, probe, strict=True):
            probes = embed_identity_folder(folder, model, name=name, cache=cache, progress=progress)
            nearest = NearestNeighbourAttacker(metric=model.metric)
            tables.append(attack(known, probes, nearest, backend=backend))
            if trained is not None:
                tables.append(attack(learned, probes, trained, backend=backend))
    except (OSError, ValueError) as error:
        raise _fail(error) from None
    per_probe = pd.concat(tables, ignore_index=True)
    summary = summarize_reid(per_probe)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out, index=False)
    per_probe.to_csv(probes_path, index=False)
    typer.echo(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo(f"summary:   {out}\nper probe: {probes_path}")
