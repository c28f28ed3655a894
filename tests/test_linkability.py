"""Linkability (Gomez-Barrero et al. 2017) against hand-computed values, and pair scores from embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from ganon.evaluation.linkability import false_match_rate, linkability, pair_distances, plot_local_linkability
from ganon.evaluation.reid import EmbeddedSet


def test_identical_distributions_are_unlinkable() -> None:
    scores = np.random.default_rng(0).normal(0.5, 0.1, 2000)
    result = linkability(scores, scores.copy(), bins=50)
    assert result.d_sys == 0.0 and (result.local == 0).all()


def test_disjoint_distributions_are_fully_linkable() -> None:
    rng = np.random.default_rng(1)
    result = linkability(rng.uniform(0.0, 0.3, 500), rng.uniform(0.6, 1.0, 500), bins=20)
    assert result.d_sys == pytest.approx(1.0)


def test_independent_overlapping_distributions_match_the_hand_computed_value() -> None:
    # Two bins [0, 1) and [1, 2]. Mated: 1 of 4 scores in the first bin, 3 in the second; non-mated: 3 and 1.
    # Bin 1: LR = (1/4) / (3/4) = 1/3 <= 1, so D = 0.
    # Bin 2: LR = 3, P(mated | s) = 3/4, D = 2 * 3/4 - 1 = 1/2.
    # D_sys = sum of D times the mated probability = 0 * 1/4 + 1/2 * 3/4 = 0.375.
    mated, non_mated = np.array([0.5, 1.5, 1.5, 1.5]), np.array([0.5, 0.5, 0.5, 1.5])
    result = linkability(mated, non_mated, bins=np.array([0.0, 1.0, 2.0]))
    assert result.local == pytest.approx([0.0, 0.5])
    assert result.d_sys == pytest.approx(0.375)
    # A prior ratio of 3 for mated pairs: bin 1 LR*omega = 1 (still 0), bin 2 = 9 -> D = 2 * 0.9 - 1 = 0.8.
    prior = linkability(mated, non_mated, bins=np.array([0.0, 1.0, 2.0]), omega=3.0)
    assert prior.d_sys == pytest.approx(0.6)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="mated and non-mated"):
        linkability(np.array([np.nan]), np.array([0.5]))
    with pytest.raises(ValueError, match="omega"):
        linkability(np.array([0.1]), np.array([0.5]), omega=0)


def test_pairs_and_false_match_rate_from_embeddings() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [np.nan, np.nan], [0.1, 1.0]])
    embedded = EmbeddedSet("toy", np.array(["a", "a", "b", "b", "b"]), tuple("vwxyz"), vectors)
    mated, non_mated = pair_distances(embedded)
    assert len(mated) == 2 and len(non_mated) == 4  # the face-less image takes part in no pair
    # Non-mated distances: 1, 1 - 0.1/sqrt(1.01) = 0.9005 (twice), 1 - 0.2/1.01 = 0.802.
    assert np.sort(non_mated) == pytest.approx([0.802, 0.9005, 0.9005, 1.0], abs=1e-3)
    assert mated.max() < 0.01
    assert false_match_rate(non_mated, 0.85) == pytest.approx(0.25)
    assert false_match_rate(non_mated, 0.95) == pytest.approx(0.75)
    assert false_match_rate(non_mated, 0.5) == 0.0
    ax = plot_local_linkability(linkability(mated, non_mated, bins=5), title="toy")
    assert "D_sys" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
