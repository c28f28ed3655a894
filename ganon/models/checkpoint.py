"""Generator weights on disk: ganon's safetensors files, and the authors' Lightning checkpoints.

A ganon weights file is a safetensors file whose metadata carries everything needed to use it: the
``GeneratorConfig``, a model card, the landmark rendering it was trained on and its resolution. The
authors' ``.ckpt`` is read with ``torch.load(weights_only=True)``: nothing in it is ever unpickled
beyond tensors and plain containers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pickle
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file

from ganon.models.pix2pix import (
    DiscriminatorConfig,
    GeneratorConfig,
    UNetGenerator,
    build_generator,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "RENDER_STYLES",
    "AuthorsCheckpoint",
    "LoadedGenerator",
    "WeightsError",
    "authors_discriminator_to_ganon_keys",
    "authors_to_ganon_keys",
    "load_any",
    "load_authors_checkpoint",
    "load_generator",
    "read_authors_checkpoint",
    "save_generator",
    "sha256_file",
]

log = logging.getLogger(__name__)

FORMAT_NAME = "ganon.generator"
FORMAT_VERSION = 1
#: Landmark renderings a generator can have been trained on: the authors' MediaPipe plus-shaped dots
#: of value 224, or the paper's description (single white pixels).
RENDER_STYLES = ("authors", "paper")


class WeightsError(RuntimeError):
    """A weights file is missing, corrupt, of the wrong kind, or does not fit the model."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class LoadedGenerator:
    """A generator ready for inference (eval mode) with what is known about its weights."""

    model: UNetGenerator
    config: GeneratorConfig
    card: dict[str, Any]
    sha256: str
    path: Path
    render_style: str

    @property
    def resolution(self) -> int:
        return self.config.resolution


@dataclass(frozen=True)
class AuthorsCheckpoint:
    """The parts of the authors' Lightning checkpoint that matter, keys already in ganon's names."""

    generator_state: dict[str, torch.Tensor]
    discriminator_state: dict[str, torch.Tensor]
    hyper_parameters: dict[str, Any] = field(default_factory=dict)
    epoch: int | None = None
    global_step: int | None = None
    sha256: str = ""


def sha256_file(path: str | os.PathLike[str], *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# ganon's own format
# --------------------------------------------------------------------------------------------------


def save_generator(
    path: str | os.PathLike[str],
    model: UNetGenerator,
    *,
    config: GeneratorConfig | None = None,
    card: Mapping[str, Any],
    render_style: str | None = None,
    dtype: torch.dtype = torch.float16,
    overwrite: bool = False,
) -> str:
    """Write the generator's weights with its config and card to a safetensors file; return its sha256.

    ``render_style`` defaults to ``card["render_style"]``; one of them must say it. The file appears
    atomically and an existing file is only replaced with ``overwrite=True``.
    """
    path = Path(path)
    config = config or model.config
    if getattr(model, "config", config) != config:
        raise ValueError(f"config {config} does not match the model's {model.config}")
    render_style = render_style or card.get("render_style")
    if render_style not in RENDER_STYLES:
        raise ValueError(f"render_style must be one of {RENDER_STYLES}, got {render_style!r}")
    if dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise ValueError(f"dtype must be float16, bfloat16 or float32, got {dtype}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)")
    try:
        card_json = json.dumps(dict(card), sort_keys=True)
    except TypeError as exc:
        raise ValueError(f"card must be JSON-serialisable: {exc}") from None

    tensors = {}
    for name, tensor in model.state_dict().items():
        stored = tensor.detach().to("cpu", dtype).contiguous()
        if not torch.isfinite(stored).all():
            raise ValueError(f"{name} is not finite after conversion to {dtype}")
        tensors[name] = stored
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(dataclasses.asdict(config), sort_keys=True),
        "card": card_json,
        "render_style": render_style,
        "resolution": str(config.resolution),
        "dtype": str(dtype).removeprefix("torch."),
    }

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        _publish(tmp, path, overwrite=overwrite)
    finally:
        tmp.unlink(missing_ok=True)
    digest = sha256_file(path)
    log.info("saved generator to %s (%s, sha256 %s)", path, metadata["dtype"], digest[:12])
    return digest


def load_generator(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    expected_sha256: str | None = None,
) -> LoadedGenerator:
    """Read a file written by ``save_generator`` into an fp32 generator in eval mode on ``device``."""
    path = Path(path)
    data = _read_bytes(path)
    digest = _check_sha256(path, hashlib.sha256(data).hexdigest(), expected_sha256)
    metadata = _safetensors_metadata(path, data)
    if metadata.get("format") != FORMAT_NAME:
        raise WeightsError(path, f"not a ganon generator file (metadata format={metadata.get('format')!r})")
    if int(metadata.get("format_version", "0")) > FORMAT_VERSION:
        raise WeightsError(path, f"format version {metadata['format_version']} is newer than this ganon")
    try:
        config = GeneratorConfig(**json.loads(metadata["config"]))
        card = json.loads(metadata.get("card", "{}"))
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(path, f"unreadable config or card in metadata: {exc}") from None
    render_style = metadata.get("render_style", "")
    if render_style not in RENDER_STYLES:
        raise WeightsError(path, f"unknown render_style {render_style!r}")
    try:
        state = load_safetensors_bytes(data)
    except Exception as exc:  # safetensors raises its own error type for corrupt data
        raise WeightsError(path, f"corrupt safetensors data: {exc}") from None
    model = _model_from_state(path, config, state, device)
    return LoadedGenerator(model, config, card, digest, path, render_style)


def _publish(tmp: Path, path: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:  # a hard link never replaces an existing file, so no race with another writer
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)") from None
    except OSError:  # file systems without hard links
        if path.exists():
            raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)") from None
        os.replace(tmp, path)


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise WeightsError(path, "no such file")
    return path.read_bytes()


def _check_sha256(path: Path, digest: str, expected: str | None) -> str:
    if expected is not None and digest != expected.lower():
        raise WeightsError(path, f"sha256 mismatch: expected {expected}, file has {digest}")
    return digest


def _safetensors_metadata(path: Path, data: bytes) -> dict[str, str]:
    if len(data) < 8:
        raise WeightsError(path, "not a safetensors file (shorter than its 8-byte header length)")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise WeightsError(path, f"not a safetensors file or truncated (header of {n} bytes)")
    try:
        header = json.loads(data[8 : 8 + n])
    except ValueError:
        raise WeightsError(path, "not a safetensors file (header is not JSON)") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict):
        raise WeightsError(path, "safetensors file without metadata: not written by ganon")
    return metadata


def _model_from_state(
    path: Path, config: GeneratorConfig, state: Mapping[str, torch.Tensor], device: str | torch.device
) -> UNetGenerator:
    model = build_generator(config, init=False)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsError(path, f"keys do not fit {config}: {_key_diff(missing, unexpected)}")
    bad = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if state[k].shape != v.shape
    ]
    if bad:
        raise WeightsError(path, f"shape mismatch: {'; '.join(bad[:5])}")
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
    return model.to(device).eval()


# --------------------------------------------------------------------------------------------------
# the authors' Lightning checkpoints
# --------------------------------------------------------------------------------------------------


def authors_to_ganon_keys(
    config: GeneratorConfig | None = None, *, prefix: str = "generator."
) -> dict[str, str]:
    """Authors' generator parameter names (``generator.down1.model.0.weight``...) -> ganon's names."""
    config = config or GeneratorConfig()
    mapping = {f"{prefix}down{i + 1}.model.0.weight": f"down.{i}.conv.weight" for i in range(config.depth)}
    mapping |= {f"{prefix}up{j + 1}.model.0.weight": f"up.{j}.conv.weight" for j in range(config.depth - 1)}
    mapping[f"{prefix}final.2.weight"] = "head.conv.weight"
    mapping[f"{prefix}final.2.bias"] = "head.conv.bias"
    return mapping


def authors_discriminator_to_ganon_keys(
    config: DiscriminatorConfig | None = None, *, prefix: str = "discriminator."
) -> dict[str, str]:
    """Authors' discriminator names (one flat ``model`` Sequential) -> ganon's ``blocks.i`` / ``head``.

    Block 0 is Conv+LeakyReLU (indices 0-1), later blocks Conv+Norm+LeakyReLU (3 each), then the pad
    and the final conv.
    """
    config = config or DiscriminatorConfig()
    mapping = {}
    for i in range(config.n_layers):
        index = 0 if i == 0 else 2 + 3 * (i - 1)
        for kind in ("weight", "bias"):
            mapping[f"{prefix}model.{index}.{kind}"] = f"blocks.{i}.conv.{kind}"
    mapping[f"{prefix}model.{3 * config.n_layers}.weight"] = "head.conv.weight"
    return mapping


def read_authors_checkpoint(
    path: str | os.PathLike[str], *, expected_sha256: str | None = None
) -> AuthorsCheckpoint:
    """Read the authors' Lightning ``.ckpt`` (or a bare state dict in their naming) without unpickling."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(path, "no such file")
    digest = _check_sha256(path, sha256_file(path), expected_sha256)
    raw = _torch_load_safely(path)
    if isinstance(raw, Mapping) and "state_dict" in raw:
        state, hparams = raw["state_dict"], raw.get("hyper_parameters") or {}
        epoch, step = raw.get("epoch"), raw.get("global_step")
    elif isinstance(raw, Mapping) and raw and all(isinstance(v, torch.Tensor) for v in raw.values()):
        state, hparams, epoch, step = raw, {}, None, None
    else:
        raise WeightsError(path, "neither a Lightning checkpoint (no 'state_dict') nor a state dict")
    if not isinstance(state, Mapping):
        raise WeightsError(path, f"'state_dict' is a {type(state).__name__}, not a mapping")

    if not isinstance(hparams, Mapping):
        hparams = {"value": hparams}

    # A bare generator state dict (torch.save(generator.state_dict())) has no "generator." prefix.
    g_prefix = "generator." if any(k.startswith("generator.") for k in state) else ""
    generator_state = _rename(path, state, authors_to_ganon_keys(prefix=g_prefix), g_prefix, "generator")
    discriminator_state = {}
    if any(k.startswith("discriminator.") for k in state):
        mapping = authors_discriminator_to_ganon_keys()
        discriminator_state = _rename(path, state, mapping, "discriminator.", "discriminator")
    return AuthorsCheckpoint(
        generator_state=generator_state,
        discriminator_state=discriminator_state,
        hyper_parameters=_jsonable(dict(hparams)),
        epoch=int(epoch) if epoch is not None else None,
        global_step=int(step) if step is not None else None,
        sha256=digest,
    )


def load_authors_checkpoint(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    expected_sha256: str | None = None,
) -> LoadedGenerator:
    """Load the generator of the authors' published checkpoint into the ``paper`` preset (strict)."""
    path = Path(path)
    ckpt = read_authors_checkpoint(path, expected_sha256=expected_sha256)
    config = GeneratorConfig()
    model = _model_from_state(path, config, ckpt.generator_state, device)
    card = {
        "name": f"authors-{path.stem}",
        "origin": "authors' published Lightning checkpoint (GANonymization)",
        "source_file": path.name,
        "epoch": ckpt.epoch,
        "global_step": ckpt.global_step,
        "hyper_parameters": ckpt.hyper_parameters,
        "render_style": "authors",
    }
    return LoadedGenerator(model, config, card, ckpt.sha256, path, "authors")


def load_any(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    expected_sha256: str | None = None,
) -> LoadedGenerator:
    """Load generator weights by suffix: ``.safetensors`` (ganon) or ``.ckpt`` / ``.pt`` (authors)."""
    path = Path(path)
    loaders = {
        ".safetensors": load_generator,
        ".ckpt": load_authors_checkpoint,
        ".pt": load_authors_checkpoint,
        ".pth": load_authors_checkpoint,
    }
    loader = loaders.get(path.suffix.lower())
    if loader is None:
        raise WeightsError(path, f"unknown weights suffix {path.suffix!r}; expected one of {sorted(loaders)}")
    return loader(path, device=device, expected_sha256=expected_sha256)


def _torch_load_safely(path: Path) -> Any:
    """``torch.load(weights_only=True)``; a file that needs more than tensors and builtin containers is
    refused with the names of the objects it would have built, never unpickled."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        try:
            names = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
        except Exception:
            names = []
        if not names:  # nothing unsafe found: the file is simply not a (zip) PyTorch checkpoint
            reason = str(exc).split("WeightsUnpickler error:")[-1].strip().splitlines()[0][:200]
            raise WeightsError(path, f"not a readable PyTorch checkpoint: {reason}") from None
        raise WeightsError(
            path,
            f"refusing to unpickle objects other than tensors and plain containers (found "
            f"{', '.join(names)}); re-save its 'state_dict' alone from a trusted environment",
        ) from None
    except Exception as exc:  # zip/format errors of a truncated or foreign file
        raise WeightsError(
            path, f"not a readable PyTorch checkpoint (truncated or another format): {exc}"
        ) from None


def _rename(
    path: Path, state: Mapping[str, Any], mapping: dict[str, str], prefix: str, what: str
) -> dict[str, torch.Tensor]:
    ours = {k for k in state if k.startswith(prefix)} if prefix else set(state)
    missing = sorted(set(mapping) - ours)
    unexpected = sorted(ours - set(mapping))
    if missing or unexpected:
        raise WeightsError(
            path,
            f"{what} keys are not the authors' layout: {_key_diff(missing, unexpected)}",
        )
    return {mapping[k]: state[k] for k in mapping}


def _key_diff(missing: list[str], unexpected: list[str]) -> str:
    return f"{len(missing)} missing {missing[:5]}, {len(unexpected)} unexpected {unexpected[:5]}"


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (tensors and odd values become strings), for a model card."""
    return json.loads(json.dumps(value, default=str))
