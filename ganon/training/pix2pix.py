"""Section 3.4 as a LightningModule: conditional GAN, landmark canvas -> face, LSGAN + lambda * L1.

Manual optimisation with two Adam optimisers. Per step the generator runs once; the discriminator
update reuses the detached fake (``double_forward=True`` runs the generator again, as the authors did).
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from ganon.models.pix2pix import build_discriminator, build_generator, count_parameters
from ganon.training.config import TrainConfig

__all__ = ["Pix2Pix"]


def _lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss against an all-ones (real) or all-zeros (fake) patch map."""
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    return F.mse_loss(scores.float(), target.float())


class Pix2Pix(L.LightningModule):
    """Generator + PatchGAN discriminator trained on (canvas, face) batches in [-1, 1]."""

    def __init__(self, config: TrainConfig | dict) -> None:
        super().__init__()
        config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
        self.config = config
        self.save_hyperparameters({"config": config.to_dict()})
        self.automatic_optimization = False
        self.generator = build_generator(config.generator, seed=config.seed)
        self.discriminator = build_discriminator(config.discriminator, seed=config.seed + 1)
        if not config.generator_dropout:
            for module in self.generator.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = 0.0

    @property
    def parameter_counts(self) -> dict[str, int]:
        return {"generator": count_parameters(self.generator), "discriminator": count_parameters(self.discriminator)}

    def forward(self, condition: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(condition, code)

    def configure_optimizers(self):
        c = self.config
        code = getattr(self.generator, "code", None)
        if code is not None and c.code_lr_multiplier != 1.0:
            ids = {id(p) for p in code.parameters()}
            groups = [{"params": [p for p in self.generator.parameters() if id(p) not in ids]},
                      {"params": list(code.parameters()), "lr": c.lr * c.code_lr_multiplier}]
            opt_g = torch.optim.Adam(groups, lr=c.lr, betas=c.betas)
        else:
            opt_g = torch.optim.Adam(self.generator.parameters(), lr=c.lr, betas=c.betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr, betas=c.betas)
        return [opt_g, opt_d]

    def on_fit_start(self) -> None:
        if self.config.channels_last and self.device.type == "cuda":
            self.to(memory_format=torch.channels_last)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.channels_last and x.device.type == "cuda":
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        condition, target = (self._prepare(t) for t in batch[:2])
        code = batch[2] if len(batch) > 2 else None  # the coded variant: the pair's DCGAN latent
        opt_g, opt_d = self.optimizers()

        # Generator: fool D on every patch and stay close to the target in L1 (with its own z, the
        # target is what the code should produce: this is what makes the code decide appearance).
        fake = self.generator(condition, code)
        self.toggle_optimizer(opt_g)
        g_gan = _lsgan(self.discriminator(fake, condition), real=True)
        g_l1 = F.l1_loss(fake.float(), target.float())
        g_loss = g_gan + self.config.lambda_l1 * g_l1
        g_div = None
        if code is not None and self.config.lambda_diversity > 0:
            # A random second code for the same canvas: it has no target, so it must look real to D
            # and differ from the first face; the reward is capped so that it cannot run away.
            other = torch.randn_like(code)
            fake_other = self.generator(condition, other)
            g_gan = 0.5 * (g_gan + _lsgan(self.discriminator(fake_other, condition), real=True))
            g_div = (fake.float() - fake_other.float()).abs().mean() / (code - other).abs().mean()
            g_loss = (g_gan + self.config.lambda_l1 * g_l1
                      - self.config.lambda_diversity * torch.clamp(g_div, max=self.config.diversity_cap))
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        # Discriminator: real pairs -> 1, generated pairs -> 0, averaged.
        if self.config.double_forward:
            fake = self.generator(condition, code)
        self.toggle_optimizer(opt_d)
        d_real = _lsgan(self.discriminator(target, condition), real=True)
        d_fake = _lsgan(self.discriminator(fake.detach(), condition), real=False)
        if g_div is not None:
            d_fake = 0.5 * (d_fake + _lsgan(self.discriminator(fake_other.detach(), condition), real=False))
        d_loss = 0.5 * (d_real + d_fake)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(d_loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        self.log_dict(
            {"train/g_loss": g_loss, "train/g_gan": g_gan, "train/g_l1": g_l1, "train/d_loss": d_loss,
             "train/d_real": d_real, "train/d_fake": d_fake,
             **({"train/g_diversity": g_div} if g_div is not None else {})},
            prog_bar=False, on_step=True, on_epoch=False, batch_size=condition.shape[0],
        )
        self.log("l1", g_l1, prog_bar=True, on_step=True, on_epoch=False, logger=False)

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        condition, target = (self._prepare(t) for t in batch[:2])
        fake = self.generator(condition, batch[2] if len(batch) > 2 else None)
        self.log("val/l1", F.l1_loss(fake.float(), target.float()), on_epoch=True, sync_dist=True,
                 batch_size=condition.shape[0], prog_bar=True)
