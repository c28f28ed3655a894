"""Naive (every frame a lone photo) against tracked video anonymization: speed and temporal measures.

Run: ``python benchmarks/bench_video.py [--variants naive tracked] [--videos single_face wolfgang_langer]``;
``--start 72 --frames 48`` measures a cut of each video instead (the chapter's case for the privacy guard).
Each variant anonymizes each sample video to a scratch folder (frames per second of the whole file
path: decode, detect, mesh, generate, paste, encode), then ``ganon.evaluation.video.evaluate_video``
measures flicker, leaked frames, identity drift, distance to the original and expression following.
Prints a markdown table and writes ``benchmarks/results/video-<date>.json`` (no absolute paths).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import tempfile
from dataclasses import asdict
from datetime import date
from pathlib import Path

import torch

from ganon.data.samples import ensure_samples
from ganon.evaluation.video import VideoEvalConfig, evaluate_video
from ganon.pipeline.anonymize import Anonymizer
from ganon.registry import Registry
from ganon.video.anonymize import VideoAnonymizer, VideoConfig

log = logging.getLogger("bench_video")

#: The variants compared; ``tracked`` is the default of ``ganon anonymize``.
VARIANTS: Registry = Registry("video variant")
VARIANTS.register("naive")(lambda: VideoConfig(tracked=False))
VARIANTS.register("tracked")(lambda: VideoConfig())
VARIANTS.register("tracked-no-guard")(lambda: VideoConfig(guard=None))  # the default without the privacy guard
# Each of these changes one or two settings of the default, or goes back to the first design.
VARIANTS.register("tracked-own-geometry")(lambda: VideoConfig(toward_mean_face=0.0, face_blend=1.0))
VARIANTS.register("tracked-own-geometry-uniform-landmarks")(
    lambda: VideoConfig(toward_mean_face=0.0, face_blend=1.0, shape_landmarks=None))
VARIANTS.register("tracked-own-geometry-fixed-colour")(
    lambda: VideoConfig(toward_mean_face=0.0, face_blend=1.0, fixed_colour=True))
VARIANTS.register("tracked-own-geometry-blend-50")(lambda: VideoConfig(toward_mean_face=0.0, face_blend=0.5))
VARIANTS.register("tracked-mean-face-50-no-blend")(lambda: VideoConfig(toward_mean_face=0.5, face_blend=1.0))
VARIANTS.register("tracked-mean-face-no-blend")(lambda: VideoConfig(face_blend=1.0))
VARIANTS.register("tracked-mean-face-blend-50")(lambda: VideoConfig(face_blend=0.5))
VARIANTS.register("tracked-mean-face-130")(lambda: VideoConfig(toward_mean_face=1.3))

COLUMNS = ("fps", "flicker_ratio", "leaked_frames", "drift_anonymized", "distance_min", "distance_mean",
           "within_threshold", "sampled", "mouth_r", "eye_r")


def cut(source: Path, target: Path, start: int, frames: int | None) -> Path:
    """Frames ``start`` to ``start + frames`` of ``source`` re-encoded near-losslessly (x264, crf 12), no audio."""
    from ganon.video.io import ffmpeg_exe

    limit = ["-frames:v", str(frames)] if frames else []
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-vf",
                    f"select=gte(n\\,{start})", *limit, "-c:v", "libx264", "-crf", "12", "-an", str(target)],
                   check=True)
    return target


def run(videos: list[str], variants: list[str], samples: Path, stride: int, threads: int,
        start: int = 0, frames: int | None = None) -> dict:
    torch.set_num_threads(threads)
    anonymizer = Anonymizer.from_weights(None)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for video in videos:
            source = samples / "videos" / f"{video}.mp4"
            if start or frames:
                source = cut(source, Path(scratch) / f"{video}-from{start}.mp4", start, frames)
            for variant in variants:
                config: VideoConfig = VARIANTS.get(variant)()
                target = Path(scratch) / f"{video}-{variant}.mp4"
                result = VideoAnonymizer(anonymizer, config).anonymize_file(source, target, progress=False)
                measures = evaluate_video(source, target, VideoEvalConfig(stride=stride)).to_dict()
                measures.pop("leaked")
                row = {"video": video, "variant": variant, "fps": round(result.fps, 2), "frames": result.frames,
                       "tracks": result.tracks, "obscured_frames": len(result.obscured_frames),
                       "guard_checks": result.guard_checks, "guard_steps": result.guard_steps,
                       "guard_closest": None if result.guard_closest is None else round(result.guard_closest, 4),
                       **measures}
                log.info("%s %s: %s", video, variant, {k: row[k] for k in COLUMNS})
                rows.append(row)
    return {
        "date": date.today().isoformat(),
        "machine": {"cpu": platform.processor() or platform.machine(), "torch_threads": threads,
                    "python": platform.python_version(), "torch": torch.__version__},
        "weights": anonymizer.synthesizer.card.get("name", "ganon-synth-128"),
        "identity_stride": stride,
        "clip": {"start": start, "frames": frames},
        "configs": {name: _config_dict(VARIANTS.get(name)()) for name in variants},
        "rows": rows,
    }


def _config_dict(config: VideoConfig) -> dict:
    return json.loads(json.dumps(asdict(config), default=str))


def markdown(report: dict) -> str:
    head = "| video | variant | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for row in report["rows"]:
        lines.append(f"| {row['video']} | {row['variant']} | " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", nargs="+", default=["single_face", "wolfgang_langer"])
    parser.add_argument("--variants", nargs="+", default=["naive", "tracked-own-geometry", "tracked"], choices=VARIANTS.names())
    parser.add_argument("--stride", type=int, default=4, help="identity measured on every N-th frame")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--samples", type=Path, default=Path("samples"))
    parser.add_argument("--start", type=int, default=0, help="cut each video from this frame on")
    parser.add_argument("--frames", type=int, default=None, help="cut each video to this many frames")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/video-<date>.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    report = run(args.videos, args.variants, ensure_samples(args.samples), args.stride, args.threads,
                 args.start, args.frames)
    out = args.out or Path(__file__).parent / "results" / f"video-{report['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"written to {out.as_posix()}")


if __name__ == "__main__":
    main()
