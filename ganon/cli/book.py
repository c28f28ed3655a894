"""``ganon book run|build|all|pair|report``: run the notebooks under a profile, build the book, pair for Colab,
write the reproduction report as data."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from ganon import book
from ganon.book.paths import RUN_RECORD_FILE

logger = logging.getLogger(__name__)

book_app = typer.Typer(
    help="Execute the book's notebooks under a profile (papermill) and build the HTML (Jupyter Book 1).",
    no_args_is_help=True,
)

_ROOT = typer.Option(None, "--root", help="Book root (holds _config.yml and _toc.yml); default: found upward from here.")
_PROFILE = typer.Option("smoke", "--profile", "-p", help="Profile name in profiles/ or a YAML path.")
_ONLY = typer.Option(None, "--only", help="Run only this notebook (stem or unique prefix); repeatable.")
_FORCE = typer.Option(False, "--force", help="Rerun even when the inputs did not change.")
_KEEP_GOING = typer.Option(False, "--keep-going", help="After a failing notebook, run the others too.")
_DATA_DIR = typer.Option(None, "--data-dir", help="Overrides the profile's data_dir (also $GANON_DATA_DIR).")
_RESULTS_DIR = typer.Option(None, "--results-dir", help="Where notebooks write tables; default runs/book/<profile>/results.")
_TIMEOUT = typer.Option(None, "--cell-timeout", help="Seconds one cell may run (default: no limit).")
_ALLOW_FAILED = typer.Option(False, "--allow-failed", help="Build even if a notebook's last run failed.")


def _root(root: Path | None) -> Path:
    try:
        return book.find_root(root or Path.cwd())
    except FileNotFoundError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def _run(root: Path, profile: str, only: list[str] | None, force: bool, keep_going: bool,
         data_dir: Path | None, results_dir: Path | None, cell_timeout: int | None) -> None:
    try:
        summary = book.run_book(root=root, profile=profile, only=only or (), force=force,
                                keep_going=keep_going, data_dir=data_dir, results_dir=results_dir,
                                cell_timeout=cell_timeout)
    except (book.BookRunError, book.ProfileError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    for result in summary.results:
        wall = f"{result.wall_s:.1f} s" if result.wall_s is not None else "-"
        typer.echo(f"{result.stem:<28} {result.status:<8} {wall:>10}  {result.reason}")
    typer.echo(f"run record: {summary.record}")


def _build(root: Path, allow_failed: bool) -> None:
    try:
        index = book.build_book(root=root, allow_failed=allow_failed)
    except book.BookBuildError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"book: {index}")


@book_app.command("run")
def run(
    profile: str = _PROFILE,
    only: list[str] | None = _ONLY,
    force: bool = _FORCE,
    keep_going: bool = _KEEP_GOING,
    data_dir: Path | None = _DATA_DIR,
    results_dir: Path | None = _RESULTS_DIR,
    cell_timeout: int | None = _TIMEOUT,
    root: Path | None = _ROOT,
) -> None:
    """Execute the notebooks listed in _toc.yml into book/generated/, skipping unchanged ones."""
    _run(_root(root), profile, only, force, keep_going, data_dir, results_dir, cell_timeout)


@book_app.command("build")
def build(root: Path | None = _ROOT, allow_failed: bool = _ALLOW_FAILED) -> None:
    """jupyter-book build --all -W --keep-going -n; any warning fails the build."""
    _build(_root(root), allow_failed)


@book_app.command("all")
def run_and_build(
    profile: str = _PROFILE,
    only: list[str] | None = _ONLY,
    force: bool = _FORCE,
    keep_going: bool = _KEEP_GOING,
    data_dir: Path | None = _DATA_DIR,
    results_dir: Path | None = _RESULTS_DIR,
    cell_timeout: int | None = _TIMEOUT,
    root: Path | None = _ROOT,
) -> None:
    """`run` then `build`."""
    folder = _root(root)
    _run(folder, profile, only, force, keep_going, data_dir, results_dir, cell_timeout)
    _build(folder, allow_failed=False)


@book_app.command("pair")
def pair(
    check: bool = typer.Option(False, "--check", help="Only report out-of-date notebooks; exit 1 if any."),
    root: Path | None = _ROOT,
) -> None:
    """Write notebooks/<stem>.ipynb from each Jupytext source (the files Colab opens); commit them."""
    folder = _root(root)
    stale = book.pair_notebooks(folder, check=check)
    for path in stale:
        typer.echo(f"{path}: {'out of date; run `ganon book pair`' if check else 'written'}")
    if check and stale:
        raise typer.Exit(1)


@book_app.command("report")
def report(
    results: Path = typer.Option(..., "--results", help="A results folder, e.g. runs/book/smoke/results."),
    record: Path | None = typer.Option(None, "--record", help="Run record; default book/generated/run_record.json "
                                       "of the book root, if there is one."),
    root: Path | None = _ROOT,
) -> None:
    """Compare every table and figure in RESULTS with the paper's; print and write RESULTS/reproduction.csv."""
    if not results.is_dir():
        typer.echo(f"error: {results}: no such results folder", err=True)
        raise typer.Exit(2)
    if record is not None and not record.is_file():
        typer.echo(f"error: {record}: no such run record", err=True)
        raise typer.Exit(2)
    if record is None:
        try:
            record = book.find_root(root or Path.cwd()) / book.GENERATED_DIR / RUN_RECORD_FILE
        except FileNotFoundError:
            record = None
    path, frame = book.write_reproduction(results, book.load_run_record(record) if record else {})
    typer.echo(frame.astype(object).where(frame.notna(), "").to_string(index=False))
    typer.echo(f"written: {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(book_app, name="book")
