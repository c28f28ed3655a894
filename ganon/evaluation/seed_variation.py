"""A coded generator on held-out synthetic pairs: how much its code changes a face (issue 16's recipe choice).

The recipe of the seeded model is chosen here, on the validation split of ``ganon preprocess`` output
of DCGAN faces, never on the sample photos that ``ganon models quality`` then reports. Per canvas:
L1 to the target with the pair's own latent (does the code learn what z decided), dlib's distance
between two random codes' faces (seed variation), whether the face mesh still finds a face (realism),
and, over pairs of different canvases with their own random codes, the share dlib calls one person,
beside the same share among the DCGAN targets themselves (what the training faces allow).
"""

from __future__ import annotations

import os
from itertools import combinations
from typing import Any

import numpy as np
import torch

from ganon.training.pairs import PairDataset

__all__ = ["validate_coded"]

THRESHOLD = 0.6  # dlib's euclidean verification threshold


def _to_rgb(x: torch.Tensor) -> np.ndarray:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


@torch.inference_mode()
def validate_coded(generator: torch.nn.Module, pairs_dir: str | os.PathLike[str], *, n: int = 48,
                   seed: int = 0, split: str = "val") -> dict[str, Any]:
    """The validation figures of a coded ``generator`` on the first ``n`` pairs of ``split``."""
    from ganon.backends.face_mesh import FaceMesh
    from ganon.backends.identity import DlibIdentity

    code_dim = generator.config.code_dim
    if not code_dim:
        raise ValueError("validate_coded needs a coded generator (code_dim > 0)")
    data = PairDataset(pairs_dir, split=split, resolution=generator.config.resolution, code_dim=code_dim,
                       hflip=False)
    count = min(n, len(data))
    items = [data[i] for i in range(count)]
    canvas = torch.stack([item[0] for item in items])
    target = torch.stack([item[1] for item in items])
    own = torch.stack([item[2] for item in items])
    draw = torch.Generator().manual_seed(seed)
    first, second = (torch.randn(count, code_dim, generator=draw) for _ in range(2))
    generator = generator.eval()
    faces = {name: generator(canvas, codes) for name, codes in (("own", own), ("first", first), ("second", second))}

    identity, mesh = DlibIdentity(metric="euclidean", assume_aligned=True), FaceMesh()
    embed = {name: [identity.embed(_to_rgb(x)) for x in batch] for name, batch in faces.items()}
    embed["target"] = [identity.embed(_to_rgb(x)) for x in target]
    between = np.array([identity.distance(a, b) for a, b in zip(embed["first"], embed["second"])])
    pairs = list(combinations(range(count), 2))
    anonymized = np.array([identity.distance(embed["first"][i], embed["first"][j]) for i, j in pairs])
    targets = np.array([identity.distance(embed["target"][i], embed["target"][j]) for i, j in pairs])
    meshed = [mesh(_to_rgb(x)) is not None for x in faces["first"]]
    return {
        "split": split, "pairs": count, "seed": seed,
        "l1_own_code": round(float((faces["own"] - target).abs().mean()), 4),
        "l1_random_code": round(float((faces["first"] - target).abs().mean()), 4),
        "between_codes_mean_distance": round(float(between.mean()), 4),
        "between_codes_fraction_at_least_0.5": round(float((between >= 0.5).mean()), 4),
        "different_canvases_below_threshold": round(float((anonymized <= THRESHOLD).mean()), 4),
        "targets_below_threshold": round(float((targets <= THRESHOLD).mean()), 4),
        "mesh_found": round(float(np.mean(meshed)), 4),
    }
