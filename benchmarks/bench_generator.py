"""Generator speed: ms per face, FLOPs and achieved GFLOP/s per preset, batch size, device and precision.

Run: ``python benchmarks/bench_generator.py --out outputs/bench_generator.json``. Prints a markdown
table and writes every measurement with the machine's description as JSON. FLOPs are counted with
``torch.utils.flop_counter.FlopCounterMode`` (convolutions and transposed convolutions, 2 per
multiply-add; normalisation and activations are not counted).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from ganon.models.pix2pix import GENERATOR_PRESETS, build_generator, count_parameters

log = logging.getLogger("bench_generator")


@dataclass(frozen=True)
class Measurement:
    preset: str
    resolution: int
    parameters: int
    device: str
    precision: str
    batch: int
    gflop_per_face: float
    ms_per_face: float
    ms_per_batch: float
    gflops_achieved: float
    repeats: int


def count_gflop(model: torch.nn.Module, resolution: int) -> float:
    """GFLOP of one forward on one face."""
    x = torch.zeros(1, model.config.in_channels, resolution, resolution)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 1e9


def time_forward(model: torch.nn.Module, x: torch.Tensor, *, bf16: bool, warmup: int, repeats: int) -> float:
    """Median seconds of one forward (after ``warmup`` untimed runs)."""
    cuda = x.device.type == "cuda"
    times = []
    with torch.inference_mode(), torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(warmup + repeats):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(x)
            if cuda:
                torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def variants(device: str) -> list[tuple[str, bool, bool]]:
    """(precision label, bf16 autocast, channels_last) to try on a device."""
    if device == "cuda":
        return [("fp32", False, False), ("bf16+channels_last", True, True)]
    return [("fp32", False, False)]


def run(
    presets: list[str], batches: list[int], devices: list[str], *, warmup: int, repeats: int
) -> list[Measurement]:
    results = []
    for name in presets:
        config = GENERATOR_PRESETS.get(name)
        cpu_model = build_generator(config, seed=0).eval()
        gflop = count_gflop(cpu_model, config.resolution)
        params = count_parameters(cpu_model)
        for device in devices:
            for precision, bf16, channels_last in variants(device):
                model = build_generator(config, seed=0).eval().to(device)
                if channels_last:
                    model = model.to(memory_format=torch.channels_last)
                for batch in batches:
                    x = (
                        torch.rand(
                            batch, config.in_channels, config.resolution, config.resolution, device=device
                        )
                        * 2
                        - 1
                    )
                    if channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    seconds = time_forward(model, x, bf16=bf16, warmup=warmup, repeats=repeats)
                    m = Measurement(
                        preset=name,
                        resolution=config.resolution,
                        parameters=params,
                        device=device,
                        precision=precision,
                        batch=batch,
                        gflop_per_face=round(gflop, 3),
                        ms_per_face=round(1000 * seconds / batch, 2),
                        ms_per_batch=round(1000 * seconds, 2),
                        gflops_achieved=round(gflop * batch / seconds, 1),
                        repeats=repeats,
                    )
                    log.info("%s", m)
                    results.append(m)
                del model
                if device == "cuda":
                    torch.cuda.empty_cache()
    return results


def machine() -> dict[str, object]:
    info: dict[str, object] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def markdown(results: list[Measurement]) -> str:
    head = "| preset | px | params (M) | device | precision | batch | GFLOP/face | ms/face | GFLOP/s |"
    rows = [head, "|" + "---|" * 9]
    for m in results:
        rows.append(
            f"| {m.preset} | {m.resolution} | {m.parameters / 1e6:.1f} | {m.device} | {m.precision} | "
            f"{m.batch} | {m.gflop_per_face:.1f} | {m.ms_per_face:.1f} | {m.gflops_achieved:.0f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--presets", nargs="+", default=["paper", "small-256", "small-128"], choices=GENERATOR_PRESETS.names()
    )
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 4])
    parser.add_argument(
        "--devices",
        nargs="+",
        default=None,
        choices=["cpu", "cuda"],
        help="default: cpu, plus cuda when available",
    )
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    torch.backends.cudnn.benchmark = True
    results = run(args.presets, args.batch_sizes, devices, warmup=args.warmup, repeats=args.repeats)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine(), "results": [asdict(m) for m in results]}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(results))
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
