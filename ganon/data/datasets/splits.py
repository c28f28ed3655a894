"""Seeded, subject-disjoint train/val splits for datasets that publish none (CK+, FACES).

Subjects are ordered by ``sha256(f"{seed}:{subject}")``, which depends on nothing but the seed and
the subject ids (not on row order, numpy's generator or the platform). The validation set is the
shortest prefix of that order whose image count is closest to ``val_fraction`` of all images, so
the same seed always gives the same subjects and no subject is on both sides.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def subject_order(subjects: pd.Series, *, seed: int) -> list[str]:
    """The unique subjects in the seeded pseudo-random order used for splitting."""
    unique = sorted({str(s) for s in subjects})
    return sorted(unique, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())


def subject_disjoint_split(subjects: pd.Series, *, val_fraction: float, seed: int) -> pd.Series:
    """'train' or 'val' for every row, grouping rows by subject; see the module docstring."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if subjects.isna().any():
        raise ValueError("every row needs a subject for a subject-disjoint split")
    keys = subjects.astype(str)
    counts = keys.value_counts()
    order = subject_order(keys, seed=seed)
    if len(order) < 2:
        raise ValueError("a subject-disjoint split needs at least two subjects")
    cumulative = np.cumsum([counts[s] for s in order])
    target = val_fraction * len(keys)
    # Prefix lengths 1 .. n-1 keep at least one subject on each side.
    k = int(np.argmin(np.abs(cumulative[:-1] - target))) + 1
    val = set(order[:k])
    return pd.Series(np.where(keys.isin(val), "val", "train"), index=subjects.index, dtype="string")
