"""Privacy under attack before and after the appearance code (issue 16, item 5), in one run.

The suite of chapter 6.1 (``ganon.evaluation.attacks.run_attacks``) on openpeople's 10 people, for the
shipped deterministic generator and for a seeded (coded) one, each image with its own code:

- naive: anonymized probes matched against the original gallery;
- parrot: the attacker anonymizes the gallery with the same system and matches probes against that;
- trained-parrot: a linear probe trained on the anonymized gallery and train images;
- linkability: d_sys and the false-match rate between anonymized probe and train photos (mated pairs are
  two photos of one person), the measure of whether anonymized photos of a person still link.

Usage: ``python -m benchmarks.bench_seeded_attacks --weights ganon-synth-128 --weights CODED.safetensors
--out benchmarks/results/seeded-attacks-<date>.json`` (writes no absolute paths).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import pandas as pd

from ganon.evaluation.attacks import AttackConfig, openpeople_attack_folders, run_attacks


def measure(weights: str, folders: dict[str, Path], work: Path, *, backends: tuple[str, ...],
            seed: int) -> dict:
    """Rank-1 per backend and scenario, and linkability per backend, of ``ganon-crops`` with ``weights``."""
    config = AttackConfig(methods=("original", "ganon-crops"), backends=backends, weights=weights, seed=seed,
                          emotion="fer")
    result = run_attacks(folders["gallery"], folders["probe"], folders["train"], work, config)
    rank1 = result.summary[["method", "backend", "scenario", "rank1", "chance"]]
    links = result.linkability[["method", "backend", "d_sys", "fmr", "fmr_original"]]
    return {
        "weights": weights if not Path(weights).exists() else Path(weights).name,
        "seed": seed,
        "rank1": _records(rank1),
        "linkability": _records(links),
        "expression": _records(result.expression),
        "skipped": result.skipped,
    }


def _records(table: pd.DataFrame) -> list[dict]:
    return json.loads(table.round(4).to_json(orient="records"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", action="append", required=True, help="Shipped name or .safetensors; repeat.")
    parser.add_argument("--backends", nargs="+", default=["dlib", "sface"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as scratch:
        folders = openpeople_attack_folders(Path(scratch) / "originals")
        report = [measure(w, folders, Path(scratch) / f"work{i}", backends=tuple(args.backends), seed=args.seed)
                  for i, w in enumerate(args.weights)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for entry in report:
        print(entry["weights"])
        print(pd.DataFrame(entry["rank1"]).pivot_table(index="method", columns=["backend", "scenario"],
                                                      values="rank1").round(2).to_string())
        print(pd.DataFrame(entry["linkability"]).to_string(index=False))


if __name__ == "__main__":
    main()
