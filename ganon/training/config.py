"""Training settings for Section 3.4 as frozen dataclasses, with the paper's values as a named preset."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ganon.models.pix2pix import DISCRIMINATOR_PRESETS, GENERATOR_PRESETS
from ganon.registry import Registry

__all__ = ["TRAIN_PRESETS", "TrainConfig", "get_preset"]

Precision = Literal["auto", "32", "bf16-mixed", "16-mixed"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a pix2pix training run (data paths and run length come separately).

    ``double_forward`` reproduces the authors' step, which runs the generator a second time for the
    discriminator update; the default reuses the detached fake, as pix2pix does (one generator
    forward per step instead of two).
    """

    name: str
    generator: str = "paper"
    discriminator: str = "paper"
    resolution: int = 512
    batch_size: int = 32
    epochs: int = 25
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_l1: float = 100.0
    gan_loss: Literal["lsgan"] = "lsgan"
    double_forward: bool = False
    hflip: bool = True
    render_style: str = "authors"
    precision: Precision = "auto"  # auto: bf16-mixed on CUDA, 32 on CPU
    channels_last: bool = True  # on CUDA only
    num_workers: int = 4
    sample_every: int = 500  # steps between sample grids
    val_every: int = 1000  # steps between validation passes
    val_batches: int = 8
    checkpoint_minutes: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        GENERATOR_PRESETS.get(self.generator)
        DISCRIMINATOR_PRESETS.get(self.discriminator)
        if self.resolution % GENERATOR_PRESETS.get(self.generator).min_side:
            raise ValueError(f"resolution {self.resolution} does not fit generator {self.generator!r}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError(f"batch_size and epochs must be positive: {self}")

    def replace(self, **changes: Any) -> "TrainConfig":
        if "betas" in changes:
            changes["betas"] = tuple(changes["betas"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        data = dict(data)
        data["betas"] = tuple(data.get("betas", (0.5, 0.999)))
        return cls(**data)


TRAIN_PRESETS: Registry[TrainConfig] = Registry("training preset")

#: Section 3.4 as published: 512 px, batch 32, 25 epochs, Adam 2e-4 (0.5, 0.999), LSGAN + 100 L1.
TRAIN_PRESETS.register("paper")(TrainConfig(name="paper"))
#: The shipped default model: U-Net width 32, depth 7 at 128 px (10.5 M parameters, 21 MB in fp16).
TRAIN_PRESETS.register("small-128")(
    TrainConfig(name="small-128", generator="small-128", discriminator="small-128", resolution=128,
                batch_size=16, epochs=200, num_workers=1, sample_every=250, val_every=500, val_batches=4,
                checkpoint_minutes=5.0)
)
#: Same design at 256 px (13.6 M parameters).
TRAIN_PRESETS.register("small-256")(
    TrainConfig(name="small-256", generator="small-256", discriminator="small-256", resolution=256,
                batch_size=8, epochs=100, num_workers=2, sample_every=250, val_every=500, val_batches=4,
                checkpoint_minutes=5.0)
)
#: Smoke tests: a few hundred steps of a tiny network in a minute or two on a CPU.
TRAIN_PRESETS.register("cpu-test")(
    TrainConfig(name="cpu-test", generator="tiny-64", discriminator="tiny-64", resolution=64, batch_size=4,
                epochs=1000, num_workers=0, sample_every=100, val_every=100, val_batches=1,
                checkpoint_minutes=1.0)
)


def get_preset(name: str) -> TrainConfig:
    return TRAIN_PRESETS.get(name)
