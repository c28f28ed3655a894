"""Which generator weights to use: a path, a shipped model, or a named asset from data_manifests."""

from __future__ import annotations

import os
from pathlib import Path

#: Generator weights that ship inside the package (``ganon/weights_data/<name>.safetensors``).
SHIPPED_DIR = Path(__file__).resolve().parent / "weights_data"

#: The model ``ganon anonymize`` uses without ``--weights``: trained by this project (see its card).
DEFAULT_WEIGHTS: str | None = "ganon-synth-128"

HOW_TO_GET_WEIGHTS = (
    "pass --weights PATH with a ganon .safetensors generator or the authors' Lightning .ckpt "
    "(publication model: `ganon data info ganonymization-publication` says where to download it and "
    "`ganon data fetch ganonymization-publication` fetches it on a machine with internet), or a shipped "
    "model name ({shipped}). For a pipeline test without a trained model, "
    "`ganon models init random.safetensors --preset small-128` writes an untrained generator."
)


class WeightsNotFoundError(FileNotFoundError):
    """No usable generator weights; the message says how to get some."""


def shipped_weights() -> dict[str, Path]:
    """Generator weights shipped with ganon, by name."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.safetensors"))}


def shipped_card(name: str) -> dict:
    """The model card (``<name>.json``) of a shipped model: how it was trained, its sha256, its metrics."""
    import json

    card = SHIPPED_DIR / f"{name}.json"
    if not card.is_file():
        raise WeightsNotFoundError(f"{card}: no model card for shipped model {name!r}")
    return json.loads(card.read_text())


def shipped_sha256(path: str | os.PathLike[str]) -> str | None:
    """The sha256 that a shipped model's card promises for ``path``; None for files that do not ship."""
    path = Path(path).resolve()
    if path.parent != SHIPPED_DIR or not (SHIPPED_DIR / f"{path.stem}.json").is_file():
        return None
    return shipped_card(path.stem).get("sha256")


def _guidance() -> str:
    names = ", ".join(shipped_weights()) or "none ship yet"
    return HOW_TO_GET_WEIGHTS.format(shipped=names)


def resolve_weights(weights: str | os.PathLike[str] | None) -> Path:
    """A local file for ``weights``: an existing path, a shipped model name or a cached manifest asset."""
    if weights is None:
        if DEFAULT_WEIGHTS is None:
            raise WeightsNotFoundError(f"no generator weights given and no default model ships yet: {_guidance()}")
        weights = DEFAULT_WEIGHTS
    candidate = Path(weights).expanduser()
    if candidate.is_file():
        return candidate
    if candidate.exists():
        raise WeightsNotFoundError(f"{candidate}: is not a file")
    name = str(weights)
    shipped = shipped_weights()
    if name in shipped:
        return shipped[name]
    looks_like_path = os.sep in name or candidate.suffix in {".safetensors", ".ckpt", ".pt", ".pth"}
    if not looks_like_path:
        try:
            from ganon.data.assets import resolve_asset
        except ImportError:  # pragma: no cover - assets module is part of the package
            resolve_asset = None
        if resolve_asset is not None:
            try:
                return Path(resolve_asset(name))
            except KeyError:
                pass
            except Exception as error:  # MissingAssetError carries the download instructions
                raise WeightsNotFoundError(str(error)) from error
    raise WeightsNotFoundError(f"{name}: no such file or known model name; {_guidance()}")
