"""``ganon reproduce RESULT... --profile P --out DIR``: make any table or figure of the paper without the book."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

logger = logging.getLogger(__name__)


def reproduce(
    results: list[str] = typer.Argument(..., metavar="RESULT...",
                                        help="Results to make (listed below), or 'all'."),
    profile: str = typer.Option("smoke", "--profile", "-p", help="Profile name in profiles/ or a YAML path."),
    out: Path = typer.Option(..., "--out", "-o", help="Results folder (tables, figures, provenance, absences)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Overrides the profile's data_dir."),
    root: Path | None = typer.Option(None, "--root", help="Book root holding profiles/; default: found upward."),
) -> None:
    """Regenerate paper results by name into DIR; exit code 1 when any of them failed (absent is not failed).

    A result whose data or model this profile lacks (e.g. Table 4 in smoke) is written as <name>.absent.txt
    with the reason and does not fail the command. Intermediate faces and classifiers stay in DIR and are
    reused by the next result that needs them.
    """
    from ganon import reproduce as rep
    from ganon.book import ProfileError, find_root

    known = rep.names()
    wanted = known if "all" in results else list(dict.fromkeys(results))
    unknown = [name for name in wanted if name not in known]
    if unknown:
        typer.echo(f"error: unknown result(s) {', '.join(unknown)}; known: {', '.join(known)}, all", err=True)
        raise typer.Exit(2)
    try:
        settings = rep.Settings.from_profile(profile, root=find_root(root or Path.cwd()), data_dir=data_dir)
    except (ProfileError, FileNotFoundError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    store = rep.ResultStore(out)
    failed = []
    for name in wanted:
        try:
            result = rep.reproduce(name, settings, workdir=out, store=store)
        except Exception as error:  # noqa: BLE001 - one failing result must not stop the others
            logger.exception("%s failed", name)
            store.absent(name, f"failed: {type(error).__name__}: {error}")
            failed.append(name)
            typer.echo(f"{name:<9} failed   {type(error).__name__}: {error}")
            continue
        if result.regenerated:
            written = ", ".join(p.name for p in sorted(store.root.glob(f"{name}.*")) if p.suffix != ".json")
            typer.echo(f"{name:<9} made     {written}")
        else:
            typer.echo(f"{name:<9} absent   {result.absent_reason} (not a failure)")
    if failed:
        typer.echo(f"{len(failed)} of {len(wanted)} failed: {', '.join(failed)}", err=True)
        raise typer.Exit(1)


def _epilog() -> str:
    """One line per result: its name and the first line of its function's docstring."""
    from ganon import reproduce as rep

    lines = []
    for name in rep.names():
        summary = (rep.REPRODUCERS.get(name).__doc__ or "").strip().splitlines()[0]
        lines.append(f"{name}: {summary.partition(': ')[2] or summary}")
    return "Results:\n\n" + "\n\n".join(lines)


def register(app: typer.Typer) -> None:
    app.command("reproduce", epilog=_epilog())(reproduce)
