"""Seeded faces on the sample photos: dlib distance between two seeds' faces for the same photo face,
and how alike the anonymized faces of different people are (issue 16's "done" figures).

Usage: ``python -m benchmarks.bench_seeded --weights W.safetensors [--weights shipped] --out R.json``.
Faces are compared on the aligned crop, as ``ganon models quality`` does (dlib, euclidean, 0.6).
"""

from __future__ import annotations

import argparse
import json
import logging
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np

from ganon.backends.identity import DlibIdentity
from ganon.imageio import read_image
from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer

log = logging.getLogger(__name__)
THRESHOLD = 0.6


def _embeddings(anonymizer: Anonymizer, identity: DlibIdentity, photos: list[Path]) -> dict[tuple[str, int], tuple]:
    """(photo, face) -> (original embedding, anonymized embedding) for faces synthesized from landmarks."""
    found = {}
    for photo in photos:
        for index, stage in enumerate(_stages(anonymizer, photo)):
            if stage.synthesized is None or stage.landmarks is None:
                continue
            size = stage.aligned.image.shape[0]
            crop = cv2.resize(stage.synthesized, (size, size), interpolation=cv2.INTER_LANCZOS4)
            a, b = identity.embed(stage.aligned.image), identity.embed(crop)
            if a is not None and b is not None:
                found[(photo.name, index)] = (a, b)
    return found


def _stages(anonymizer: Anonymizer, photo: Path) -> list:
    stages = anonymizer.prepare(read_image(photo).rgb, source=photo.name)
    anonymizer.synthesize(stages)
    return stages


def measure(weights: str, photos: list[Path], seeds: tuple[int, int]) -> dict:
    identity = DlibIdentity(metric="euclidean", assume_aligned=True)
    base = Anonymizer.from_weights(weights, AnonymizeConfig(seed=seeds[0]), device="cpu")
    runs = [_embeddings(base.with_config(seed=seed), identity, photos) for seed in seeds]
    common = sorted(set(runs[0]) & set(runs[1]))
    between = np.array([identity.distance(runs[0][k][1], runs[1][k][1]) for k in common])
    to_original = np.array([identity.distance(*runs[0][k]) for k in common])
    pairs = list(combinations(common, 2))
    originals = np.array([identity.distance(runs[0][i][0], runs[0][j][0]) for i, j in pairs])
    anonymized = np.array([identity.distance(runs[0][i][1], runs[0][j][1]) for i, j in pairs])
    return {
        "weights": weights, "code_dim": base.codes.dim, "seeds": list(seeds), "faces": len(common),
        "between_seeds_mean_distance": round(float(between.mean()), 4),
        "between_seeds_min_distance": round(float(between.min()), 4),
        "between_seeds_fraction_at_least_0.5": round(float((between >= 0.5).mean()), 4),
        "identity_fraction_above_threshold": round(float((to_original > THRESHOLD).mean()), 4),
        "pairs": len(pairs),
        "original_pairs_below_threshold": round(float((originals <= THRESHOLD).mean()), 4),
        "anonymized_pairs_below_threshold": round(float((anonymized <= THRESHOLD).mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", action="append", required=True)
    parser.add_argument("--samples", type=Path, default=Path("samples"))
    parser.add_argument("--seeds", type=int, nargs=2, default=(1, 2))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    photos = sorted(p for p in (args.samples / "photos").iterdir() if p.is_file())
    report = [measure(w, photos, tuple(args.seeds)) for w in args.weights]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
