"""``ganon data``: list, inspect, fetch and verify weight files; check a dataset folder."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import typer
import yaml

from ganon.data import assets
from ganon.data.manifests import ManifestError, WeightManifest, list_datasets, list_weights, load_any, load_weight
from ganon.registry import UnknownNameError

data_app = typer.Typer(name="data", help="Weight files and datasets: list, info, fetch, verify, check-dataset.",
                       no_args_is_help=True)

_FAILURES = (assets.AssetError, ManifestError, UnknownNameError, FileNotFoundError, ValueError)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (layout trees) as literal blocks, as they are written in the manifests."""


_Dumper.add_representer(
    str, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|" if "\n" in v else None)
)


def _fail(error: BaseException) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=1)


def _weight_status(manifest: WeightManifest) -> str:
    try:
        path = assets.resolve_asset(manifest.name, verify=False)
    except assets.MissingAssetError:
        return "missing"
    return "installed" if manifest.offline else f"cached ({path.stat().st_size / 1e6:.1f} MB)"


@data_app.command("list")
def list_command(
    kind: str = typer.Option("all", "--kind", "-k", help="weights, datasets or all."),
) -> None:
    """List every manifest with its paper section and, for weights, whether the file is here."""
    if kind not in {"all", "weights", "datasets"}:
        raise _fail(ValueError(f"--kind must be all, weights or datasets, not {kind!r}"))
    try:
        if kind in {"all", "weights"}:
            typer.echo("weights:")
            for name in list_weights():
                m = load_weight(name)
                where = "package" if m.offline else "download"
                typer.echo(f"  {name:40s} {m.section:6s} {m.kind:14s} {m.format:15s} {where:8s} {_weight_status(m)}")
        if kind in {"all", "datasets"}:
            typer.echo("datasets:")
            for name in list_datasets():
                m = load_any(name)
                typer.echo(f"  {name:40s} {m.section:6s} {m.task:14s} split: {m.split.kind}")
    except _FAILURES as error:
        raise _fail(error) from None


@data_app.command("info")
def info_command(name: str = typer.Argument(..., help="A weight or dataset manifest name.")) -> None:
    """Print a manifest, and for a weight file where it is expected and whether it is there."""
    try:
        manifest = load_any(name)
        typer.echo(yaml.dump(manifest.model_dump(mode="json", exclude_defaults=True), Dumper=_Dumper,
                             sort_keys=False, allow_unicode=True, width=100).rstrip())
        if isinstance(manifest, WeightManifest):
            if manifest.offline:
                typer.echo(f"# status: {_weight_status(manifest)}")
            else:
                typer.echo(f"# expected at: {assets.asset_path(name)}")
                typer.echo(f"# status: {_weight_status(manifest)}; fetch with: {assets.fetch_command(name)}")
    except _FAILURES as error:
        raise _fail(error) from None


@data_app.command("fetch")
def fetch_command(
    name: str = typer.Argument(..., help="A weight manifest name (see 'ganon data list')."),
    url: Optional[str] = typer.Option(None, "--url", help="Download from this URL (mirror, file://) instead."),
    from_file: Optional[Path] = typer.Option(None, "--from-file", help="Install a file downloaded by hand."),
    force: bool = typer.Option(False, "--force", help="Download again even if the file is cached."),
    timeout: float = typer.Option(assets.DEFAULT_TIMEOUT, "--timeout", help="Network timeout in seconds."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Download (or install from a file) a weight file into the cache and check its hash."""
    try:
        if from_file is not None:
            path = assets.install_asset(name, from_file)
        else:
            path = assets.fetch_asset(name, url=url, force=force, timeout=timeout, progress=progress)
        status = assets.verify_asset(name)
    except _FAILURES as error:
        raise _fail(error) from None
    typer.echo(f"{name}: {path}\n  sha256 {status.sha256} ({status.policy})")


@data_app.command("verify")
def verify_command(names: list[str] = typer.Argument(..., help="One or more weight manifest names.")) -> None:
    """Check weight files against their pinned or recorded sha256 (records it on first use)."""
    failed = 0
    for name in names:
        try:
            status = assets.verify_asset(name)
        except _FAILURES as error:
            typer.echo(f"error: {error}", err=True)
            failed += 1
            continue
        note = " (hash recorded now: trust on first use)" if status.recorded_now else ""
        typer.echo(f"ok {name}: {status.path} sha256 {status.sha256}{note}")
    if failed:
        raise typer.Exit(code=1)


def _summary(frame: pd.DataFrame, task: str) -> str:
    lines = [f"{len(frame)} samples", "per split:"]
    lines += [f"  {split}: {count}" for split, count in frame["split"].value_counts().sort_index().items()]
    if task == "single-label":
        table = pd.crosstab(frame["label_name"], frame["split"], margins=True, margins_name="total")
        lines += ["per label and split:", table.to_string()]
    elif task == "multi-label":
        attributes = [c for c in frame.columns if c not in {"path", "image_id", "split", "subject", "labels"}]
        positives = frame.groupby("split")[attributes].sum().T
        lines += ["positives per attribute and split:", positives.to_string()]
    elif "n_faces" in frame.columns:
        faces = frame.loc[frame["n_faces"] >= 0].groupby("split")["n_faces"].sum()
        lines += ["annotated faces per split:"] + [f"  {split}: {int(n)}" for split, n in faces.items()]
    if frame["subject"].notna().any():
        lines.append("subjects per split:")
        lines += [f"  {s}: {n}" for s, n in frame.groupby("split")["subject"].nunique().items()]
    return "\n".join(lines)


@data_app.command("check-dataset")
def check_dataset_command(
    name: str = typer.Argument(..., help="Dataset manifest name: " + ", ".join(list_datasets())),
    root: Path = typer.Argument(..., help="The dataset's root folder in its official layout."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Split seed (datasets without an official split)."),
    val_fraction: Optional[float] = typer.Option(None, "--val-fraction", help="Validation share (same)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the sample table to this CSV file."),
    checksums: bool = typer.Option(False, "--checksums", help="Also compare the label files' official checksums."),
) -> None:
    """Read a dataset folder and print the number of samples per split and label."""
    from ganon.data.datasets import DATASETS, DatasetLayoutError

    try:
        manifest = load_any(name)
        reader_class = DATASETS.get(manifest.reader)
        options = {k: v for k, v in {"seed": seed, "val_fraction": val_fraction}.items() if v is not None}
        accepted = inspect.signature(reader_class.__init__).parameters
        rejected = [k for k in options if k not in accepted]
        if rejected:
            raise ValueError(f"{name} uses its official split; --{rejected[0].replace('_', '-')} does not apply")
        reader = reader_class(root, **options)
        frame = reader.read()
        problems = reader.verify_checksums() if checksums else []
        if out is not None:
            if out.exists():
                raise FileExistsError(f"{out} exists; not overwriting it")
            arrays = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, np.ndarray)).any()]
            frame.drop(columns=arrays).to_csv(out, index=False)  # array cells (boxes, labels) do not fit a CSV
    except (DatasetLayoutError, FileExistsError, *_FAILURES) as error:
        raise _fail(error) from None
    typer.echo(f"{manifest.title} in {root}")
    typer.echo(_summary(frame, manifest.task))
    if "split_seed" in frame.attrs:
        typer.echo(f"split: seeded subject-disjoint, seed {frame.attrs['split_seed']}, "
                   f"val_fraction {frame.attrs['val_fraction']}")
    if checksums:
        for problem in problems:
            typer.echo(f"checksum mismatch: {problem}", err=True)
        if problems:
            raise typer.Exit(code=1)
        typer.echo("checksums: all listed files match" if any(f.md5 or f.sha256 for f in manifest.files)
                   else "checksums: the manifest lists none for this dataset")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
