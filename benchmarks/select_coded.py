"""Choose the seeded model's recipe on held-out synthetic pairs (issue 16), never on the sample photos.

Usage: ``python -m benchmarks.select_coded PAIRS RUN_OR_CKPT [RUN_OR_CKPT ...] --out R.json``: each run
folder's last checkpoint (or a given ``.ckpt`` / ``.safetensors``) is measured with
``ganon.evaluation.seed_variation.validate_coded`` on the validation split of ``PAIRS``; the run's
training settings are printed beside. Runs are named by their folder name only.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from ganon.evaluation.seed_variation import validate_coded


def load(path: Path) -> tuple[torch.nn.Module, dict]:
    """The generator and training settings of a run folder, a Lightning checkpoint or a generator file."""
    if path.suffix == ".safetensors":
        from ganon.models.checkpoint import load_generator

        loaded = load_generator(path)
        return loaded.model, loaded.card.get("training_config", {})
    from ganon.training.pix2pix import Pix2Pix

    ckpt = path if path.suffix == ".ckpt" else path / "ckpt" / "last.ckpt"
    module = Pix2Pix.load_from_checkpoint(ckpt, map_location="cpu")
    step = torch.load(ckpt, map_location="cpu", weights_only=False).get("global_step")
    return module.generator, {**module.config.to_dict(), "checkpoint_step": step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("-n", type=int, default=48)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report = []
    for run in args.runs:
        generator, settings = load(run)
        figures = validate_coded(generator, args.pairs, n=args.n)
        keys = ("lambda_diversity", "diversity_cap", "code_lr_multiplier", "lambda_l1", "lr", "checkpoint_step")
        report.append({"run": run.name, **{k: settings.get(k) for k in keys}, **figures})
        print(json.dumps(report[-1]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
