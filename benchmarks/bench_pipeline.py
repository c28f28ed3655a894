"""Milliseconds per face for each stage of the method (3.1 detect + align, 3.2 segment, 3.3 mesh, 3.4 generate).

Run: ``python benchmarks/bench_pipeline.py --out outputs/bench_pipeline.json [--device cuda]``. Uses the
real sample photos (``ganon.data.samples``); every stage is timed over all faces of all photos, after
one untimed warm-up pass, and reported as the median of ``--repeats`` passes divided by the face
count. The generator runs at the paper preset (512 px, untrained weights: speed does not depend on
them) and at the shipped default's preset, batched, with its FLOP count so the achieved GFLOP/s can be
compared with the machine's peak. Prints a markdown table and writes JSON with the machine's details.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ganon.backends.detectors import build_detector
from ganon.data.samples import ensure_samples
from ganon.imageio import read_image
from ganon.models.checkpoint import LoadedGenerator
from ganon.models.pix2pix import build_generator
from ganon.pipeline.composite import paste_back
from ganon.pipeline.extract import AlignConfig, align_face
from ganon.backends.face_mesh import FaceMesh
from ganon.pipeline.landmarks import render_landmarks
from ganon.pipeline.segment import build_segmenter, face_outline_mask
from ganon.pipeline.synthesize import Synthesizer

log = logging.getLogger("bench_pipeline")
PHOTOS = ("astronaut.png", "grace_hopper.jpg", "group_t1.jpg", "multi_face.jpg", "single_face.jpg",
          "tom_hanks.png")


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (lazy initialisation, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _gflop(model: torch.nn.Module, resolution: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, resolution, resolution))
    return counter.get_total_flops() / 1e9


def _synthesizer(preset: str, device: str, batch: int) -> Synthesizer:
    model = build_generator(preset, seed=0)
    loaded = LoadedGenerator(model=model.eval(), config=model.config, card={}, sha256="untrained",
                             path=Path(f"<untrained {preset}>"), render_style="authors")
    return Synthesizer(loaded, device=device, batch_size=batch)


def run(samples: Path, *, device: str, repeats: int, batch: int, presets: tuple[str, ...]) -> dict:
    images = [read_image(samples / "photos" / name).rgb for name in PHOTOS]
    detector = build_detector("retinaface-mobilenet")
    detections = [detector.detect(image) for image in images]
    n_faces = sum(len(d) for d in detections)
    config = AlignConfig()
    faces = [align_face(image, det, config) for image, dets in zip(images, detections) for det in dets]
    source = [i for i, dets in enumerate(detections) for _ in dets]  # photo index of each face
    mesh = FaceMesh()
    marks = [mesh(face.image) for face in faces]
    segmenter = build_segmenter("mediapipe-head")
    kept = [(f, m) for f, m in zip(faces, marks) if m is not None]
    kept_source = [images[i] for i, m in zip(source, marks) if m is not None]

    stages: dict[str, float] = {
        "detect (3.1)": _median_seconds(lambda: [detector.detect(i) for i in images], repeats) / n_faces,
        "align (3.1)": _median_seconds(
            lambda: [align_face(i, d, config) for i, ds in zip(images, detections) for d in ds], repeats) / n_faces,
        "segment (3.2)": _median_seconds(lambda: [segmenter(f.image, m) for f, m in kept], repeats) / len(kept),
        "face mesh (3.3)": _median_seconds(lambda: [mesh(f.image) for f in faces], repeats) / n_faces,
    }
    generator: list[dict] = []
    for preset in presets:
        synth = _synthesizer(preset, device, batch)
        res = synth.resolution
        canvases = [render_landmarks(m, size=res) for _, m in kept]
        stages[f"render landmarks {res}px (3.3)"] = _median_seconds(
            lambda: [render_landmarks(m, size=res) for _, m in kept], repeats) / len(kept)
        seconds = _median_seconds(lambda: synth(canvases), repeats) / len(kept)
        if synth.device.type == "cuda":
            torch.cuda.synchronize()
        stages[f"generator {preset} batch {batch} (3.4)"] = seconds
        gflop = _gflop(build_generator(preset).eval(), res)
        generator.append({"preset": preset, "resolution": res, "batch": batch, "ms_per_face": seconds * 1e3,
                          "gflop_per_face": gflop, "gflops_achieved": gflop / seconds})
        outs = synth(canvases)
        outlines = [face_outline_mask(m, res) for _, m in kept]

        def paste() -> None:
            for (face, _), photo, out, outline in zip(kept, kept_source, outs, outlines):
                paste_back(photo, out, face, outline)

        stages[f"paste back {res}px (composite)"] = _median_seconds(paste, repeats) / len(kept)
    return {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                    "device": str(synth.device), "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
        "photos": list(PHOTOS), "faces": n_faces, "faces_with_mesh": len(kept), "repeats": repeats,
        "ms_per_face": {k: round(v * 1e3, 2) for k, v in stages.items()},
        "generator": generator,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=Path("samples"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--presets", nargs="+", default=["paper", "small-128"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(ensure_samples(args.samples), device=args.device, repeats=args.repeats, batch=args.batch,
                 presets=tuple(args.presets))
    print("| stage | ms per face |\n|---|---:|")
    for stage, ms in result["ms_per_face"].items():
        print(f"| {stage} | {ms:.1f} |")
    for g in result["generator"]:
        print(f"generator {g['preset']}: {g['gflop_per_face']:.1f} GFLOP/face, {g['gflops_achieved']:.1f} GFLOP/s achieved")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
