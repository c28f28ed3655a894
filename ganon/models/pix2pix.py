"""The pix2pix U-Net generator and PatchGAN discriminator of Section 3.4, as small configurable blocks.

The ``paper`` presets rebuild the authors' networks exactly (54,404,099 and 2,767,808 parameters); the
smaller presets keep the same design with fewer channels, blocks or pixels. Both networks are fully
convolutional, so one set of weights runs at any input whose side is a multiple of ``2 ** depth``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from ganon.registry import Registry

__all__ = [
    "DISCRIMINATOR_PRESETS",
    "GENERATOR_PRESETS",
    "CodeInjection",
    "DiscriminatorConfig",
    "DownBlock",
    "GeneratorConfig",
    "OutputHead",
    "PatchDiscriminator",
    "UNetGenerator",
    "UpBlock",
    "build_discriminator",
    "build_generator",
    "coded_from",
    "count_parameters",
    "init_weights",
]


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of a U-Net generator; the defaults are the paper's (8 blocks, 64 to 512 channels, 512 px).

    Block ``i`` (0-based) of the encoder has ``width * min(2**i, max_multiplier)`` channels. Dropout is
    applied in every block whose channel count has reached the cap, which is where the authors put it.
    ``resolution`` is the side the weights were trained at; the network itself accepts any multiple
    of ``2 ** depth``.
    """

    in_channels: int = 3
    out_channels: int = 3
    width: int = 64
    depth: int = 8
    resolution: int = 512
    dropout: float = 0.5
    max_multiplier: int = 8
    negative_slope: float = 0.2
    #: Length of the appearance code (0: the paper's un-coded generator). The code modulates the
    #: bottleneck and every decoder block (FiLM, zero-initialised: at start it changes nothing).
    code_dim: int = 0
    code_hidden: int = 256

    def __post_init__(self) -> None:
        if self.code_dim < 0 or self.code_hidden < 1:
            raise ValueError(f"code_dim must be >= 0 and code_hidden positive: {self}")
        if self.depth < 2:
            raise ValueError(f"depth must be at least 2, got {self.depth}")
        if min(self.in_channels, self.out_channels, self.width, self.max_multiplier) < 1:
            raise ValueError(f"channel counts must be positive: {self}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.resolution % self.min_side != 0:
            raise ValueError(f"resolution {self.resolution} is not a multiple of 2**depth = {self.min_side}")

    @property
    def min_side(self) -> int:
        """Smallest input side the network accepts (and the step between accepted sides)."""
        return 2**self.depth

    @property
    def widths(self) -> tuple[int, ...]:
        """Output channels of the encoder blocks, outermost first."""
        return tuple(self.width * min(2**i, self.max_multiplier) for i in range(self.depth))


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Shape of a PatchGAN discriminator on concat(image, condition); defaults are the paper's."""

    in_channels: int = 3
    width: int = 64
    n_layers: int = 4
    max_multiplier: int = 8
    negative_slope: float = 0.2

    def __post_init__(self) -> None:
        if self.n_layers < 1 or self.width < 1 or self.in_channels < 1:
            raise ValueError(f"invalid discriminator config: {self}")

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(self.width * min(2**i, self.max_multiplier) for i in range(self.n_layers))


class DownBlock(nn.Module):
    """Encoder step: Conv 4x4 stride 2 (no bias), optional InstanceNorm, LeakyReLU, optional dropout."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        normalize: bool = True,
        dropout: float = 0.0,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.norm = nn.InstanceNorm2d(out_channels) if normalize else nn.Identity()
        self.act = nn.LeakyReLU(negative_slope)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.norm(self.conv(x))))


class UpBlock(nn.Module):
    """Decoder step: ConvTranspose 4x4 stride 2 (no bias), InstanceNorm, ReLU, optional dropout, then
    concatenation with the encoder's skip tensor."""

    def __init__(self, in_channels: int, out_channels: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.norm = nn.InstanceNorm2d(out_channels)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, skip: torch.Tensor,
                film: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = self.norm(self.conv(x))
        if film is not None:  # AdaIN-style: scale and shift the normalised features before the ReLU
            x = _modulate(x, film)
        return torch.cat((self.drop(self.act(x)), skip), dim=1)


class OutputHead(nn.Module):
    """Last step to full resolution: nearest Upsample x2, ZeroPad2d((1, 0, 1, 0)), Conv 4x4 pad 1, Tanh.

    The one-sided pad makes the 4x4 convolution keep the side (H + 1 + 2 - 4 + 1 = H).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2)
        self.pad = nn.ZeroPad2d((1, 0, 1, 0))
        self.conv = nn.Conv2d(in_channels, out_channels, 4, padding=1)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(self.pad(self.upsample(x))))


def _modulate(x: torch.Tensor, film: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    gamma, beta = film
    return x * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None]


class CodeInjection(nn.Module):
    """Appearance code -> one (gamma, beta) pair per modulated block: a shared two-layer mapping, then a
    zero-initialised linear head per block, so that a fresh injection is the identity for every code."""

    def __init__(self, code_dim: int, hidden: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.code_dim = code_dim
        self.mapping = nn.Sequential(nn.Linear(code_dim, hidden), nn.LeakyReLU(0.2),
                                     nn.Linear(hidden, hidden), nn.LeakyReLU(0.2))
        self.heads = nn.ModuleList(nn.Linear(hidden, 2 * c) for c in channels)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        for layer in self.mapping:
            if isinstance(layer, nn.Linear):
                layer.weight.normal_(0.0, layer.in_features**-0.5, generator=generator)
                layer.bias.zero_()
        for head in self.heads:
            head.weight.zero_()
            head.bias.zero_()

    def forward(self, code: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        h = self.mapping(code)
        return [tuple(head(h).chunk(2, dim=1)) for head in self.heads]  # type: ignore[misc]


class UNetGenerator(nn.Module):
    """pix2pix U-Net: landmark canvas in [-1, 1] (N, C, H, W) -> face in [-1, 1] of the same size.

    Submodules ``down.{i}``, ``up.{i}`` and ``head`` correspond one to one to the authors'
    ``down{i+1}``, ``up{i+1}`` and ``final`` (see ``ganon.models.checkpoint.authors_to_ganon_keys``).
    """

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeneratorConfig()
        widths = config.widths
        cap = config.width * config.max_multiplier
        last = config.depth - 1

        self.down = nn.ModuleList()
        in_ch = config.in_channels
        for i, out_ch in enumerate(widths):
            self.down.append(
                DownBlock(
                    in_ch,
                    out_ch,
                    normalize=0 < i < last,
                    dropout=config.dropout if out_ch == cap else 0.0,
                    negative_slope=config.negative_slope,
                )
            )
            in_ch = out_ch

        # Decoder block j mirrors encoder block (last - 1 - j); its input is the previous output + skip.
        self.up = nn.ModuleList()
        in_ch = widths[last]
        for j in range(last):
            out_ch = widths[last - 1 - j]
            self.up.append(UpBlock(in_ch, out_ch, dropout=config.dropout if out_ch == cap else 0.0))
            in_ch = 2 * out_ch

        self.head = OutputHead(in_ch, config.out_channels)
        # Only the coded variant has this submodule, so un-coded state dicts keep their exact keys.
        if config.code_dim:
            channels = (widths[last],) + tuple(widths[last - 1 - j] for j in range(last))
            self.code = CodeInjection(config.code_dim, config.code_hidden, channels)

    def forward(self, x: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        """``code`` (N, code_dim) is required by the coded variant and ignored by un-coded generators."""
        checking = not (torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling())
        if checking:
            _check_input(x, self.config.in_channels, self.config.min_side)
        films: list = [None] * len(self.up)
        bottleneck = None
        if self.config.code_dim:
            if code is None:
                raise ValueError(f"this generator takes an appearance code of {self.config.code_dim} values; "
                                 "pass code=(N, code_dim)")
            if checking and (code.ndim != 2 or code.shape != (x.shape[0], self.config.code_dim)):
                raise ValueError(f"expected code of shape ({x.shape[0]}, {self.config.code_dim}), "
                                 f"got {tuple(code.shape)}")
            bottleneck, *films = self.code(code.to(x.dtype))
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        if bottleneck is not None:
            x = _modulate(x, bottleneck)
        for block, film in zip(self.up, films):
            x = block(x, skips.pop(), film)
        return self.head(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: concat(image, condition) -> one realness score per patch (32 x 32 at 512 px).

    ``blocks.{i}.conv`` and ``head.conv`` correspond to the authors' ``model.{0, 2, 5, 8}`` and
    ``model.12``.
    """

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DiscriminatorConfig()
        self.blocks = nn.ModuleList()
        in_ch = 2 * config.in_channels
        for i, out_ch in enumerate(config.widths):
            self.blocks.append(_PatchBlock(in_ch, out_ch, normalize=i > 0, slope=config.negative_slope))
            in_ch = out_ch
        self.head = _PatchHead(in_ch)

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        x = torch.cat((image, condition), dim=1)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class _PatchBlock(nn.Module):
    """Discriminator step: Conv 4x4 stride 2 (with bias), optional InstanceNorm, LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int, *, normalize: bool, slope: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1)
        self.norm = nn.InstanceNorm2d(out_channels) if normalize else nn.Identity()
        self.act = nn.LeakyReLU(slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class _PatchHead(nn.Module):
    """ZeroPad2d((1, 0, 1, 0)) then Conv 4x4 pad 1 to one channel (no bias): keeps the patch grid size."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 0, 1, 0))
        self.conv = nn.Conv2d(in_channels, 1, 4, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


def _check_input(x: torch.Tensor, channels: int, step: int) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"expected input of shape (N, {channels}, H, W), got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h % step or w % step:
        raise ValueError(f"input side {h}x{w} must be a multiple of 2**depth = {step}")


GENERATOR_PRESETS: Registry[GeneratorConfig] = Registry("generator preset")
DISCRIMINATOR_PRESETS: Registry[DiscriminatorConfig] = Registry("discriminator preset")

GENERATOR_PRESETS.register("paper")(GeneratorConfig())
GENERATOR_PRESETS.register("small-256")(GeneratorConfig(width=32, depth=8, resolution=256))
GENERATOR_PRESETS.register("small-128")(GeneratorConfig(width=32, depth=7, resolution=128))
# For tests and smoke runs: seconds to train on a CPU, never meant to look like a face.
GENERATOR_PRESETS.register("tiny-64")(GeneratorConfig(width=8, depth=6, resolution=64))
# The seeded variant of the shipped default: same U-Net plus a 100-value appearance code (the DCGAN
# latent size of gan-face-generate, which made the synthetic training faces and supervises the code).
GENERATOR_PRESETS.register("small-128-coded")(GeneratorConfig(width=32, depth=7, resolution=128, code_dim=100))
GENERATOR_PRESETS.register("tiny-64-coded")(GeneratorConfig(width=8, depth=6, resolution=64, code_dim=100,
                                                            code_hidden=32))

DISCRIMINATOR_PRESETS.register("paper")(DiscriminatorConfig())
DISCRIMINATOR_PRESETS.register("small-256")(DiscriminatorConfig(width=32))
DISCRIMINATOR_PRESETS.register("small-128")(DiscriminatorConfig(width=32))
DISCRIMINATOR_PRESETS.register("tiny-64")(DiscriminatorConfig(width=8))
DISCRIMINATOR_PRESETS.register("small-128-coded")(DiscriminatorConfig(width=32))
DISCRIMINATOR_PRESETS.register("tiny-64-coded")(DiscriminatorConfig(width=8))


@torch.no_grad()
def init_weights(module: nn.Module, *, std: float = 0.02, generator: torch.Generator | None = None) -> None:
    """pix2pix initialisation: every (transposed) convolution weight ~ N(0, std), biases 0.

    The authors' code leaves conv biases at PyTorch's default; zero is the usual DCGAN choice and
    makes a seeded init independent of PyTorch's default-init code.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            m.weight.normal_(0.0, std, generator=generator)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, CodeInjection):
            m.reset_parameters(generator)


def build_generator(
    preset_or_config: str | GeneratorConfig = "paper", *, init: bool = True, seed: int | None = None
) -> UNetGenerator:
    """Make a generator from a preset name or a config, initialised N(0, 0.02) (seeded if ``seed``)."""
    config = (
        GENERATOR_PRESETS.get(preset_or_config) if isinstance(preset_or_config, str) else preset_or_config
    )
    model = UNetGenerator(config)
    if init:
        init_weights(model, generator=_seeded(seed))
    return model


def build_discriminator(
    preset_or_config: str | DiscriminatorConfig = "paper", *, init: bool = True, seed: int | None = None
) -> PatchDiscriminator:
    """Make a PatchGAN discriminator from a preset name or a config, initialised N(0, 0.02)."""
    config = (
        DISCRIMINATOR_PRESETS.get(preset_or_config) if isinstance(preset_or_config, str) else preset_or_config
    )
    model = PatchDiscriminator(config)
    if init:
        init_weights(model, generator=_seeded(seed))
    return model


def coded_from(uncoded: UNetGenerator, *, code_dim: int = 100, code_hidden: int = 256,
               seed: int | None = None) -> UNetGenerator:
    """A coded generator that starts as ``uncoded``: its weights copied, the code injection fresh (identity).

    This is how the seeded variant is fine-tuned from the shipped default weights.
    """
    if uncoded.config.code_dim:
        raise ValueError("the generator has an appearance code already")
    config = dataclasses.replace(uncoded.config, code_dim=code_dim, code_hidden=code_hidden)
    model = build_generator(config, init=False)
    if isinstance(model.code, CodeInjection):
        model.code.reset_parameters(_seeded(seed))
    missing, unexpected = model.load_state_dict(uncoded.state_dict(), strict=False)
    if unexpected or any(not k.startswith("code.") for k in missing):
        raise ValueError(f"weights do not fit {config}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.to(next(uncoded.parameters()).device).train(uncoded.training)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (InstanceNorm without affine has none)."""
    return sum(p.numel() for p in module.parameters())


def _seeded(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(seed)
