"""The ``ganon`` command line. Each module in this package adds its commands through ``register``."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import typer

app = typer.Typer(
    name="ganon",
    help="GANonymization, reproduced: anonymize faces, train, evaluate and build the book.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output (-v, -vv)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


#: Commands whose module registers only them: ``ganon CMD`` then imports that module alone (startup).
_SELF_CONTAINED = {"anonymize": "anonymize", "stages": "stages", "preprocess": "preprocess", "train": "train",
                   "synth-faces": "synth"}


def _only_module() -> str | None:
    """The one command module to import when this process is the ``ganon`` command line itself."""
    if not (sys.argv[:1] == ["-m"] or sys.argv[0].endswith(("/ganon", "\\ganon.exe"))):
        return None
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    return _SELF_CONTAINED.get(command or "")


def _register_all() -> None:
    only = _only_module()
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or (only is not None and info.name != only):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    app()
