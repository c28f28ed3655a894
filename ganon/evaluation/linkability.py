"""Linkability of anonymized faces (Gomez-Barrero et al. 2017) and the diversity of a method's faces.

Two anonymized images of one person form a mated pair, two of different people a non-mated pair.
From the two score distributions, the local score ``D(s) = 2 P(mated | s) - 1`` where the likelihood
ratio ``LR(s) = p(s | mated) / p(s | non-mated)`` (times the prior ratio ``omega``) exceeds 1, else 0,
says how surely a score ``s`` links two images; the global ``D_sys`` is its mean over the mated
scores, 0 for fully unlinkable and 1 for fully linkable. Both distributions are estimated with one
shared histogram, as in the authors' reference implementation. Diversity is the share of non-mated
pairs that the recognizer calls one person (its false match rate at its own threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from ganon.evaluation.reid import EmbeddedSet

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Linkability", "false_match_rate", "linkability", "pair_distances", "plot_local_linkability"]


@dataclass(frozen=True)
class Linkability:
    """Histogram edges, both score distributions (probability per bin), ``D(s)`` per bin and ``D_sys``."""

    edges: np.ndarray
    p_mated: np.ndarray
    p_non_mated: np.ndarray
    local: np.ndarray
    d_sys: float
    omega: float

    @property
    def centres(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


def linkability(mated: np.ndarray, non_mated: np.ndarray, *, bins: int | np.ndarray = 100,
                omega: float = 1.0) -> Linkability:
    """Local and global linkability from mated and non-mated scores (any score; distances are fine)."""
    mated, non_mated = np.asarray(mated, dtype=np.float64), np.asarray(non_mated, dtype=np.float64)
    mated, non_mated = mated[np.isfinite(mated)], non_mated[np.isfinite(non_mated)]
    if not len(mated) or not len(non_mated):
        raise ValueError(f"linkability needs mated and non-mated scores, got {len(mated)} and "
                         f"{len(non_mated)}")
    if omega <= 0:
        raise ValueError(f"omega (the prior ratio) must be positive, got {omega}")
    if np.ndim(bins) == 0:
        low, high = min(mated.min(), non_mated.min()), max(mated.max(), non_mated.max())
        edges = np.linspace(low, high if high > low else low + 1.0, int(bins) + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
    p_mated = np.histogram(mated, edges)[0] / len(mated)
    p_non_mated = np.histogram(non_mated, edges)[0] / len(non_mated)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = omega * p_mated / p_non_mated  # inf where only mated scores fall, nan where none do
        posterior = np.where(np.isinf(ratio), 1.0, ratio / (1 + ratio))
    local = np.where(np.nan_to_num(ratio, nan=0.0) > 1, 2 * posterior - 1, 0.0)
    return Linkability(edges, p_mated, p_non_mated, local, float((local * p_mated).sum()), omega)


def pair_distances(embedded: EmbeddedSet, *, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """Distances of every mated and every non-mated pair of faces in one set (images without a face: none)."""
    usable = embedded.select(embedded.found)
    vectors = usable.embeddings
    if metric == "cosine":
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        matrix = 1.0 - unit @ unit.T
    elif metric == "euclidean":
        matrix = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    else:
        raise ValueError(f"metric must be cosine or euclidean, got {metric!r}")
    mated, non_mated = [], []
    for i, j in combinations(range(len(usable)), 2):
        (mated if usable.identities[i] == usable.identities[j] else non_mated).append(matrix[i, j])
    return np.asarray(mated), np.asarray(non_mated)


def false_match_rate(non_mated: np.ndarray, threshold: float) -> float:
    """Share of different-person pairs whose distance is at most ``threshold`` (called one person)."""
    non_mated = np.asarray(non_mated, dtype=np.float64)
    return float((non_mated <= threshold).mean()) if len(non_mated) else float("nan")


def plot_local_linkability(result: Linkability, *, ax: Axes | None = None, title: str = "") -> Axes:
    """Both score distributions as bars and ``D(s)`` as a line, with ``D_sys`` in the legend; the Axes."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    width = np.diff(result.edges)
    ax.bar(result.centres, result.p_mated, width=width, alpha=0.5, color="tab:red", label="mated pairs")
    ax.bar(result.centres, result.p_non_mated, width=width, alpha=0.5, color="tab:blue",
           label="non-mated pairs")
    ax.set_xlabel("distance between the two faces")
    ax.set_ylabel("share of pairs")
    twin = ax.twinx()
    twin.plot(result.centres, result.local, color="black", lw=1.5, label=f"D(s); D_sys = {result.d_sys:.2f}")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("local linkability D(s)")
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper right")
    if title:
        ax.set_title(title)
    return ax
