"""Training speed of Section 3.4: samples per second per preset, and the cost of the authors' step.

Run: ``python benchmarks/bench_training.py --out outputs/bench_training.json`` (add
``--presets cpu-test small-128 paper`` for the paper's 512 px preset). Each step is the work of
``Pix2Pix.training_step`` without a Trainer: generator update (LSGAN + lambda * L1), then
discriminator update, on random batches of the preset's shape. Variants are timed round-robin in the
same run, so machine load hits them alike and their ratios are fair:

- ``fp32``: one generator forward per step (ganon's default);
- ``fp32-double``: the authors' step, the generator runs again for the discriminator update;
- on CUDA also ``bf16-cl`` (bf16 autocast + channels-last) and ``bf16-cl-double``.

Wall time and this process's CPU time are both recorded per step; on a shared CPU (other jobs
running) ``--clock process`` with ``--threads 1`` gives the figures that load does not distort.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ganon.training.config import get_preset
from ganon.training.pix2pix import Pix2Pix

log = logging.getLogger("bench_training")


@dataclass(frozen=True)
class Variant:
    name: str
    double_forward: bool
    bf16: bool
    channels_last: bool


VARIANTS_CPU = (Variant("fp32", False, False, False), Variant("fp32-double", True, False, False))
VARIANTS_CUDA = VARIANTS_CPU + (Variant("bf16-cl", False, True, True),
                               Variant("bf16-cl-double", True, True, True))


def _lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    return F.mse_loss(scores.float(), target.float())


class Stepper:
    """One pix2pix model with its two Adam optimisers, stepping like ``Pix2Pix.training_step``."""

    def __init__(self, preset: str, variant: Variant, device: torch.device) -> None:
        config = get_preset(preset).replace(double_forward=variant.double_forward)
        self.config, self.variant, self.device = config, variant, device
        module = Pix2Pix(config).to(device).train()
        if variant.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.generator, self.discriminator = module.generator, module.discriminator
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr, betas=config.betas)

    def batch(self, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.config.resolution
        g = torch.Generator().manual_seed(seed)
        x = (torch.rand(2, batch_size, 3, r, r, generator=g) * 2 - 1).to(self.device)
        condition, target = x[0], x[1]
        if self.variant.channels_last:
            condition = condition.contiguous(memory_format=torch.channels_last)
            target = target.contiguous(memory_format=torch.channels_last)
        return condition, target

    def step(self, condition: torch.Tensor, target: torch.Tensor) -> float:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.variant.bf16):
            fake = self.generator(condition)
            self.discriminator.requires_grad_(False)
            g_loss = _lsgan(self.discriminator(fake, condition), True) + self.config.lambda_l1 * F.l1_loss(
                fake.float(), target.float())
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.variant.bf16):
            if self.variant.double_forward:
                with torch.no_grad():
                    fake = self.generator(condition)
            d_loss = 0.5 * (_lsgan(self.discriminator(target, condition), True)
                            + _lsgan(self.discriminator(fake.detach(), condition), False))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return float(g_loss.detach())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_preset(preset: str, variants: tuple[Variant, ...], device: torch.device, *, batch_size: int | None,
                 warmup: int, steps: int, clock: str = "wall") -> dict:
    """Round-robin timing: each round runs one step of every variant; medians per variant."""
    batch = batch_size or get_preset(preset).batch_size
    steppers = {v.name: Stepper(preset, v, device) for v in variants}
    batches = {v.name: steppers[v.name].batch(batch, seed=0) for v in variants}
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    cpu_times: dict[str, list[float]] = {v.name: [] for v in variants}
    for round_ in range(warmup + steps):
        for name, stepper in steppers.items():
            _sync(device)
            began, began_cpu = time.perf_counter(), time.process_time()
            stepper.step(*batches[name])
            _sync(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - began)
                cpu_times[name].append(time.process_time() - began_cpu)
    if clock == "process":
        times, cpu_times = cpu_times, times
    result: dict = {"preset": preset, "resolution": get_preset(preset).resolution, "batch": batch,
                    "steps": steps, "warmup": warmup, "clock": clock, "variants": {}}
    for name, values in times.items():
        median = statistics.median(values)
        result["variants"][name] = {"s_per_step": round(median, 5), "samples_per_s": round(batch / median, 2),
                                    "s_per_step_all": [round(t, 5) for t in values],
                                    "other_clock_s_per_step": round(statistics.median(cpu_times[name]), 5)}
    s = {name: entry["s_per_step"] for name, entry in result["variants"].items()}
    result["ratios"] = {"double_over_single_time": round(s["fp32-double"] / s["fp32"], 3)}
    if "bf16-cl" in s:
        result["ratios"]["fp32_over_bf16cl_time"] = round(s["fp32"] / s["bf16-cl"], 3)
        result["ratios"]["bf16cl_double_over_single_time"] = round(s["bf16-cl-double"] / s["bf16-cl"], 3)
    del steppers
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def machine(device: torch.device) -> dict:
    info = {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["cpu-test", "small-128"])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=None, help="default: each preset's batch size")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--clock", choices=("wall", "process"), default="wall",
                        help="wall time, or this process's CPU time (CPU only; for a shared machine)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if args.clock == "process" and device.type == "cuda":
        parser.error("--clock process measures CPU work; use wall time on CUDA")
    variants = VARIANTS_CUDA if device.type == "cuda" else VARIANTS_CPU
    results = []
    for preset in args.presets:
        log.info("%s ...", preset)
        results.append(bench_preset(preset, variants, device, batch_size=args.batch_size, warmup=args.warmup,
                                    steps=args.steps, clock=args.clock))
    report = {"machine": machine(device), "variants": [asdict(v) for v in variants], "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print("| preset | px | batch | " + " | ".join(f"{v.name} samples/s" for v in variants)
          + " | double/single time |")
    print("|---" * (4 + len(variants)) + "|")
    for r in results:
        cells = " | ".join(str(r["variants"][v.name]["samples_per_s"]) for v in variants)
        print(f"| {r['preset']} | {r['resolution']} | {r['batch']} | {cells} | "
              f"{r['ratios']['double_over_single_time']} |")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
