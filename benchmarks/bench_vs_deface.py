"""Whole-process time of ``ganon anonymize DIR`` against ``deface`` on the same folder, runs alternated,
and in-process time per face against the sum of its stages.

    PYTHONPATH=. python benchmarks/bench_vs_deface.py --deface /tmp/deface-venv/bin/deface [--runs 3]

deface 1.5.0 runs from its own venv (``python3 -m venv /tmp/deface-venv &&
/tmp/deface-venv/bin/pip install deface==1.5.0``) with its defaults (CenterFace at 0.2, blur). The
folder is the ordinary sample photos (samples/photos). Results go to benchmarks/results/vs_deface.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

logger = logging.getLogger("bench_vs_deface")

ROOT = Path(__file__).resolve().parents[1]


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system, children) seconds of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def whole_process(folder: Path, deface: str, runs: int, work: Path, threads: int) -> dict:
    """Alternate ganon and deface runs over the same photos; each writes into a fresh folder."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    photos = sorted(p for p in folder.iterdir() if p.is_file())
    # Not counted: each tool's first start from a cold disk cache, and ganon's one-time ONNX export.
    _timed([deface, "--version"], env)
    _timed([sys.executable, "-m", "ganon.cli", "-q", "anonymize", str(photos[0]), "--out", str(work / "warm"),
            "--no-progress"], env)
    times: dict[str, dict[str, list[float]]] = {tool: {"wall": [], "cpu": []} for tool in ("ganon", "deface")}
    for run in range(runs):
        out = work / f"ganon{run}"
        wall, cpu = _timed([sys.executable, "-m", "ganon.cli", "-q", "anonymize", str(folder), "--out", str(out),
                            "--no-progress"], env)
        times["ganon"]["wall"].append(wall)
        times["ganon"]["cpu"].append(cpu)
        # deface writes PHOTO_anonymized.EXT beside each input: give it a fresh copy of the folder.
        copy = work / f"deface{run}"
        shutil.copytree(folder, copy)
        wall, cpu = _timed([deface, str(copy)], env)
        times["deface"]["wall"].append(wall)
        times["deface"]["cpu"].append(cpu)
        logger.info("run %d: ganon %.2f s (cpu %.2f), deface %.2f s (cpu %.2f)", run, times["ganon"]["wall"][-1],
                    times["ganon"]["cpu"][-1], wall, cpu)
    summary: dict = {"photos": len(photos), "folder": os.path.relpath(folder, ROOT), "runs": runs}
    for tool, measured in times.items():
        for kind, values in measured.items():
            summary[f"{tool}_{kind}_seconds"] = [round(v, 3) for v in values]
            summary[f"{tool}_{kind}_median"] = round(statistics.median(values), 3)
    for kind in ("wall", "cpu"):
        summary[f"ratio_{kind}_ganon_over_deface"] = round(
            summary[f"ganon_{kind}_median"] / summary[f"deface_{kind}_median"], 3)
    return summary


def per_face(folder: Path) -> dict:
    """In process, models loaded: a whole folder's time per face against its stages' sum."""
    from ganon.batch import plan_outputs
    from ganon.imageio import read_image
    from ganon.pipeline.anonymize import Anonymizer
    from ganon.pipeline.files import WriteOptions, anonymize_files

    anonymizer = Anonymizer.from_weights(None, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        anonymize_files(anonymizer, plan_outputs([folder], Path(tmp) / "warm"), progress=False)
        jobs = plan_outputs([folder], Path(tmp) / "out")
        started = time.perf_counter()
        results = anonymize_files(anonymizer, jobs, options=WriteOptions(), progress=False)
        whole = time.perf_counter() - started
    faces = sum(r.faces_found for r in results)
    stages = {"read": 0.0, "detect": 0.0, "align": 0.0, "mesh": 0.0, "render": 0.0, "generate": 0.0,
              "paste": 0.0}
    from ganon.pipeline.extract import align_face
    from ganon.pipeline.landmarks import render_landmarks
    from ganon.pipeline.segment import face_outline_mask

    canvases = []
    images = []
    for job in jobs:
        t = time.perf_counter()
        image = read_image(job.source).rgb
        stages["read"] += time.perf_counter() - t
        t = time.perf_counter()
        detections = anonymizer.detector.detect(image)
        stages["detect"] += time.perf_counter() - t
        for det in detections:
            t = time.perf_counter()
            face = align_face(image, det, anonymizer.config.align)
            stages["align"] += time.perf_counter() - t
            t = time.perf_counter()
            marks = anonymizer.mesh(face.image)
            stages["mesh"] += time.perf_counter() - t
            if marks is None:
                continue
            t = time.perf_counter()
            canvas = render_landmarks(marks, size=anonymizer.synthesizer.resolution,
                                      style=anonymizer.synthesizer.render_style)
            outline = face_outline_mask(marks, anonymizer.synthesizer.resolution)
            stages["render"] += time.perf_counter() - t
            canvases.append(canvas)
            images.append((image, face, outline))
    t = time.perf_counter()
    synthesized = anonymizer.synthesizer(canvases)  # all faces in full batches, the best case
    stages["generate"] += time.perf_counter() - t
    from ganon.pipeline.composite import paste_back

    t = time.perf_counter()
    pasted = {}
    for (image, face, outline), out in zip(images, synthesized):
        pasted[id(image)] = paste_back(pasted.get(id(image), image.copy()), out, face, outline,
                                       anonymizer.config.blend)
    stages["paste"] += time.perf_counter() - t
    from ganon.imageio import write_image

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        for index, (job, composite) in enumerate(zip(jobs, pasted.values())):
            write_image(Path(tmp) / f"{index}{job.source.suffix}", composite)
        stages["write"] = time.perf_counter() - t
    stage_sum = sum(stages.values())
    return {"faces": faces, "whole_ms_per_face": round(1000 * whole / faces, 1),
            "stages_ms_per_face": {k: round(1000 * v / faces, 1) for k, v in stages.items()},
            "stage_sum_ms_per_face": round(1000 * stage_sum / faces, 1),
            "ratio_whole_over_stages": round(whole / stage_sum, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deface", default=shutil.which("deface") or "", help="deface 1.5.0's command")
    parser.add_argument("--folder", type=Path, default=ROOT / "samples" / "photos")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS for both tools")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "vs_deface.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.deface:
        parser.error("deface not found: pass --deface PATH")
    folder = args.folder.absolute()
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "threads": args.threads}}
    with tempfile.TemporaryDirectory() as tmp:
        report["whole_process"] = whole_process(folder, args.deface, args.runs, Path(tmp), args.threads)
    report["in_process"] = per_face(folder)
    logger.info("ganon/deface whole process: %.2fx wall, %.2fx cpu; per face whole/stages: %.2fx",
                report["whole_process"]["ratio_wall_ganon_over_deface"],
                report["whole_process"]["ratio_cpu_ganon_over_deface"], report["in_process"]["ratio_whole_over_stages"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
