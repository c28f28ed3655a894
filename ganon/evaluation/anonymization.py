"""Table 1 with several recognizers: each one's mean distance beside its share of pairs beyond its own threshold.

Distances of different recognizers live on different scales (dlib's cosine threshold is 0.084,
SFace's 0.637, Facenet512's 0.3), so a mean distance only means something next to its model's
threshold. The share of pairs beyond that threshold ("no longer the same person" for that model)
is the number that can be put side by side across recognizers. ``verification_shares`` measures the
same share on faces with known identities, which says how each recognizer behaves on true matches
and true non-matches of the data at hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ganon.backends.identity import IdentityModel

__all__ = ["RECOGNIZER_VALUES", "recognizer_view", "side_by_side", "verification_shares"]

#: Per recognizer, the columns of ``summarize_identity`` that ``side_by_side`` keeps, and their suffix.
RECOGNIZER_VALUES: dict[str, str] = {"mean": "distance", "fraction_above_threshold": "beyond_threshold",
                                     "n": "n", "n_no_face": "no_face", "threshold": "threshold"}


def side_by_side(summaries: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per method and, per recognizer ``m``, columns ``m_distance``, ``m_beyond_threshold``, ``m_n``...

    ``summaries`` maps a recognizer's name to its ``summarize_identity`` table; methods keep the order
    of the first summary.
    """
    if not summaries:
        raise ValueError("no recognizer summaries given")
    frames = []
    for name, summary in summaries.items():
        part = summary.set_index("method")[list(RECOGNIZER_VALUES)]
        frames.append(part.rename(columns={c: f"{name}_{suffix}" for c, suffix in RECOGNIZER_VALUES.items()}))
    wide = pd.concat(frames, axis=1)
    first = next(iter(summaries.values()))["method"]
    return wide.reindex(list(dict.fromkeys([*first, *wide.index]))).rename_axis("method").reset_index()


def verification_shares(embeddings: Sequence[np.ndarray | None], people: Sequence[str],
                        model: IdentityModel) -> pd.DataFrame:
    """Every pair of faces with known identities: per kind (same person, different people) how many
    pairs, their mean distance and the share beyond ``model``'s threshold. Faces without an embedding
    (no face found) are left out and counted in ``n_no_face``."""
    if len(embeddings) != len(people):
        raise ValueError(f"{len(embeddings)} embeddings but {len(people)} identities")
    kept = [(e, p) for e, p in zip(embeddings, people) if e is not None]
    distances: dict[str, list[float]] = {"same person": [], "different people": []}
    for (a, person_a), (b, person_b) in itertools.combinations(kept, 2):
        kind = "same person" if person_a == person_b else "different people"
        distances[kind].append(model.distance(a, b))
    rows = []
    for kind, values in distances.items():
        array = np.asarray(values, dtype=float)
        rows.append({"pairs": kind, "n": len(array),
                     "mean_distance": float(array.mean()) if len(array) else np.nan,
                     "fraction_above_threshold": float((array > model.threshold).mean()) if len(array) else np.nan,
                     "faces": len(kept), "n_no_face": len(embeddings) - len(kept),
                     "backend": model.name, "metric": model.metric, "threshold": model.threshold})
    return pd.DataFrame(rows)


def recognizer_view(table: pd.DataFrame, recognizers: Sequence[str]) -> pd.DataFrame:
    """Table 1 as the book shows it: method, kernel, then per recognizer its mean distance and share beyond."""
    columns = [f"{name}_{suffix}" for name in recognizers for suffix in ("distance", "beyond_threshold", "no_face")]
    return table[["method", "kernel", *[c for c in columns if c in table]]]
