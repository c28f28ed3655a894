"""Section 3.4 networks (pix2pix generator and discriminator) and their weights I/O."""

from __future__ import annotations

from ganon.models.checkpoint import (
    LoadedGenerator,
    WeightsError,
    load_any,
    load_authors_checkpoint,
    load_generator,
    save_generator,
)
from ganon.models.pix2pix import (
    DISCRIMINATOR_PRESETS,
    GENERATOR_PRESETS,
    DiscriminatorConfig,
    GeneratorConfig,
    PatchDiscriminator,
    UNetGenerator,
    build_discriminator,
    build_generator,
    init_weights,
)

__all__ = [
    "DISCRIMINATOR_PRESETS",
    "GENERATOR_PRESETS",
    "DiscriminatorConfig",
    "GeneratorConfig",
    "LoadedGenerator",
    "PatchDiscriminator",
    "UNetGenerator",
    "WeightsError",
    "build_discriminator",
    "build_generator",
    "init_weights",
    "load_any",
    "load_authors_checkpoint",
    "load_generator",
    "save_generator",
]
