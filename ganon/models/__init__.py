"""Section 3.4 networks (pix2pix generator and discriminator), their weights I/O, and the classifier
checkpoint format of Sections 4.2-4.3 (``ganon.models.classifier_checkpoint``).

Names are imported on first use (PEP 562), so reading a classifier's metadata does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "LoadedGenerator": "checkpoint",
    "WeightsError": "checkpoint",
    "load_any": "checkpoint",
    "load_authors_checkpoint": "checkpoint",
    "load_generator": "checkpoint",
    "save_generator": "checkpoint",
    "DISCRIMINATOR_PRESETS": "pix2pix",
    "GENERATOR_PRESETS": "pix2pix",
    "DiscriminatorConfig": "pix2pix",
    "GeneratorConfig": "pix2pix",
    "PatchDiscriminator": "pix2pix",
    "UNetGenerator": "pix2pix",
    "build_discriminator": "pix2pix",
    "build_generator": "pix2pix",
    "coded_from": "pix2pix",
    "init_weights": "pix2pix",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    try:
        module = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
