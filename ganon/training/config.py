"""Training settings for Section 3.4 as frozen dataclasses, with the paper's values as a named preset."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ganon.models.pix2pix import DISCRIMINATOR_PRESETS, GENERATOR_PRESETS
from ganon.registry import Registry

__all__ = ["CODED_RECIPE", "TRAIN_PRESETS", "TrainConfig", "appearance_code_card", "get_preset"]

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
    #: Coded variant only: weight of a diversity term (Yang et al. 2019, "diversity-sensitive cGAN"):
    #: a second, random code per pair is rendered too, and the generator is rewarded for the L1
    #: distance between the two faces per unit of code distance, capped at ``diversity_cap``.
    lambda_diversity: float = 0.0
    diversity_cap: float = 0.2
    #: False: train the generator without its dropout, as it runs at inference. The diversity term
    #: needs this: two dropout masks alone make two faces differ and would meet its cap.
    generator_dropout: bool = True
    #: Learning-rate multiplier for the code injection (fine-tuning: a fresh pathway on old weights).
    code_lr_multiplier: float = 1.0
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
        if self.lambda_diversity < 0 or self.diversity_cap <= 0 or self.code_lr_multiplier <= 0:
            raise ValueError(f"lambda_diversity must be >= 0, diversity_cap and code_lr_multiplier > 0: {self}")
        if self.lambda_diversity and not self.code_dim:
            raise ValueError(f"lambda_diversity needs a coded generator, {self.generator!r} has no code")
        if self.lambda_diversity and self.generator_dropout:
            raise ValueError("lambda_diversity needs generator_dropout=False (--no-dropout): two dropout "
                             "masks alone would make the two faces differ")

    @property
    def code_dim(self) -> int:
        """Length of the generator's appearance code (0: un-coded)."""
        return GENERATOR_PRESETS.get(self.generator).code_dim

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

#: The seeded variant of the shipped default: the same U-Net plus a 100-value appearance code, trained
#: on DCGAN faces with each pair's z as the code, fine-tuned from the shipped weights (LSGAN + 30 L1 and
#: lr 1e-4, the shipped model's fine-tuning settings), plus the diversity term (weight 10, chosen over
#: 30 on held-out synthetic pairs: equal diversity, more faces the mesh still finds), a ten times
#: faster code injection and no dropout (see ``ganon-synth-128-coded.json``).
TRAIN_PRESETS.register("small-128-coded")(
    TRAIN_PRESETS.get("small-128").replace(name="small-128-coded", generator="small-128-coded",
                                           discriminator="small-128-coded", lambda_l1=30.0, lr=1e-4,
                                           lambda_diversity=10.0, code_lr_multiplier=10.0,
                                           generator_dropout=False)
)
#: Smoke tests of the coded variant.
TRAIN_PRESETS.register("cpu-test-coded")(
    TRAIN_PRESETS.get("cpu-test").replace(name="cpu-test-coded", generator="tiny-64-coded",
                                          discriminator="tiny-64-coded")
)

#: How the seeded default is (re)trained, in command lines; the model card carries it. ``--init-from``
#: starts from the shipped un-coded weights (their code injection fresh, so step 0 is the shipped model).
CODED_RECIPE: tuple[str, ...] = (
    "ganon synth-faces 10000 --out runs/synth-faces --seed 0 --size 128",
    "ganon preprocess runs/synth-faces --out runs/pairs128 --resolution 128 --workers 2",
    ("ganon train runs/pairs128 --run runs/coded128 --preset small-128-coded "
     "--init-from ganon/weights_data/ganon-synth-128.safetensors --max-steps 2710"),
    "python -m benchmarks.select_coded runs/pairs128 runs/coded128 --out runs/coded128/select.json",
    "ganon export runs/coded128 --out runs/coded128/ganon-synth-128-coded.safetensors",
    "ganon models quality --weights runs/coded128/ganon-synth-128-coded.safetensors --out runs/coded128/quality",
    "ganon anonymize samples/photos --weights runs/coded128/ganon-synth-128-coded.safetensors --out runs/coded128/seed1 --seed 1",
)


def appearance_code_card(config: TrainConfig) -> dict[str, Any]:
    """The model card's record of what the appearance code is and how it was trained."""
    return {
        "dim": config.code_dim,
        "injection": "FiLM (scale and shift) after the bottleneck and each decoder block's norm; "
                     "zero-initialised heads, so the untrained code changes nothing",
        "supervision": "each pair's DCGAN latent z (gan-face-generate, nz=100) fed as the code; the "
                       "target is the face that z produced (L1 + LSGAN); a second, random code per pair "
                       "has no target: it must fool the discriminator and is rewarded for its L1 distance "
                       "from the first face per unit of code distance (capped; Yang et al. 2019)",
        "inference": "N(0, I) drawn from --seed and a key per face, file, track or run (--identity); "
                     "never from the input face",
        "recipe": list(CODED_RECIPE),
    }


def get_preset(name: str) -> TrainConfig:
    return TRAIN_PRESETS.get(name)
