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
        wall, cpu = _timed([sys.executable, "-m", "ganon.cli", "-q", "anonymize", str(folder),
                            "--out", str(out), "--no-progress"], env)
        times["ganon"]["wall"].append(wall)
        times["ganon"]["cpu"].append(cpu)
        # deface writes PHOTO_anonymized.EXT beside each input: give it a fresh copy of the folder.
        copy = work / f"deface{run}"
        shutil.copytree(folder, copy)
        wall, cpu = _timed([deface, str(copy)], env)
        times["deface"]["wall"].append(wall)
        times["deface"]["cpu"].append(cpu)
        logger.info("run %d: ganon %.2f s (cpu %.2f), deface %.2f s (cpu %.2f)", run,
                    times["ganon"]["wall"][-1], times["ganon"]["cpu"][-1], wall, cpu)
    summary: dict = {"photos": len(photos), "folder": os.path.relpath(folder, ROOT), "runs": runs}
    for tool, measured in times.items():
        for kind, values in measured.items():
            summary[f"{tool}_{kind}_seconds"] = [round(v, 3) for v in values]
            summary[f"{tool}_{kind}_median"] = round(statistics.median(values), 3)
    for kind in ("wall", "cpu"):
        summary[f"ratio_{kind}_ganon_over_deface"] = round(
            summary[f"ganon_{kind}_median"] / summary[f"deface_{kind}_median"], 3)
    return summary


def _stages(anonymizer, jobs, clock) -> dict[str, float]:
    """Each stage of the whole folder run on its own, in seconds of ``clock``."""
    from ganon.imageio import read_image, write_image
    from ganon.pipeline.anonymize import FaceStages
    from ganon.pipeline.extract import align_face
    from ganon.pipeline.landmarks import render_landmarks
    from ganon.pipeline.segment import face_outline_mask

    spent = dict.fromkeys(("read", "detect", "align", "mesh", "render", "generate", "assemble", "write"), 0.0)

    def timed(stage, call, *args, **kwargs):
        started = clock()
        value = call(*args, **kwargs)
        spent[stage] += clock() - started
        return value

    resolution, style = anonymizer.synthesizer.resolution, anonymizer.synthesizer.render_style
    photos = []
    for job in jobs:
        image = timed("read", read_image, job.source)
        stages = []
        for detection in timed("detect", anonymizer.detector.detect, image.rgb):
            face = timed("align", align_face, image.rgb, detection, anonymizer.config.align)
            marks = None if anonymizer.too_small(face) else timed("mesh", anonymizer.mesh, face.image)
            canvas = outline = None
            if marks is not None:
                canvas = timed("render", render_landmarks, marks, size=resolution, style=style)
                outline = timed("render", face_outline_mask, marks, resolution)
            stages.append(FaceStages(aligned=face, landmarks=marks, canvas=canvas, synthesized=None,
                                     outline=outline))
        photos.append((job, image, stages))
    todo = [stage for _, _, stages in photos for stage in stages if stage.canvas is not None]
    for stage, face in zip(todo, timed("generate", anonymizer.synthesizer, [s.canvas for s in todo])):
        stage.synthesized = face
    with tempfile.TemporaryDirectory() as tmp:
        for index, (job, image, stages) in enumerate(photos):
            if stages:
                result = timed("assemble", anonymizer.assemble, image.rgb, stages)
                timed("write", write_image, Path(tmp) / f"{index}{job.target.suffix}", result.composite,
                      like=image)
    return spent


def per_face(folder: Path, rounds: int = 2) -> dict:
    """In process, models loaded: a whole folder's time per face against the sum of its stages run one
    by one (all faces in full generator batches, the best case). Wall and CPU time; the best of
    ``rounds`` each, as the machine is shared."""
    from ganon.batch import plan_outputs
    from ganon.pipeline.anonymize import Anonymizer
    from ganon.pipeline.files import WriteOptions, anonymize_files

    logging.getLogger("ganon").setLevel(logging.WARNING)  # one line per photo and round otherwise
    anonymizer = Anonymizer.from_weights(None, device="cpu")
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        anonymize_files(anonymizer, plan_outputs([folder], Path(tmp) / "warm"), progress=False)
        for kind, clock in (("wall", time.perf_counter), ("cpu", time.process_time)):
            wholes, sums = [], []
            for round_ in range(rounds):
                jobs = plan_outputs([folder], Path(tmp) / f"{kind}{round_}")
                started = clock()
                results = anonymize_files(anonymizer, jobs, options=WriteOptions(), progress=False)
                wholes.append(clock() - started)
                sums.append(_stages(anonymizer, jobs, clock))
            faces = sum(r.faces_found for r in results)
            best = min(sums, key=lambda spent: sum(spent.values()))
            report[kind] = {
                "faces": faces, "whole_ms_per_face": round(1000 * min(wholes) / faces, 1),
                "stages_ms_per_face": {k: round(1000 * v / faces, 1) for k, v in best.items()},
                "stage_sum_ms_per_face": round(1000 * sum(best.values()) / faces, 1),
                "ratio_whole_over_stages": round(min(wholes) / sum(best.values()), 3),
            }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deface", default=shutil.which("deface") or "", help="deface 1.5.0's command")
    parser.add_argument("--folder", type=Path, default=ROOT / "samples" / "photos")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS for both tools")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "vs_deface.json")
    parser.add_argument("--in-process-only", action="store_true", help="skip the whole-process runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.deface:
        parser.error("deface not found: pass --deface PATH")
    folder = args.folder.absolute()
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "threads": args.threads,
                                "load_average_before": [round(v, 2) for v in os.getloadavg()]}}
    if not args.in_process_only:
        with tempfile.TemporaryDirectory() as tmp:
            report["whole_process"] = whole_process(folder, args.deface, args.runs, Path(tmp), args.threads)
    elif args.out.exists():
        report["whole_process"] = json.loads(args.out.read_text()).get("whole_process")
    report["in_process"] = per_face(folder)
    logger.info("ganon/deface whole process: %.2fx wall, %.2fx cpu; per face whole/stages: %.2fx",
                report["whole_process"]["ratio_wall_ganon_over_deface"],
                report["whole_process"]["ratio_cpu_ganon_over_deface"],
                report["in_process"]["cpu"]["ratio_whole_over_stages"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
