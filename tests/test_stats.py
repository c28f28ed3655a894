"""Statistics of the emotion evaluation: scipy agreement, hand cases, edge cases, and Table 3's arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ganon.evaluation.reference import paper_table
from ganon.evaluation.stats import (
    bonferroni,
    compare_methods,
    p_from_z,
    rank_sum_from_z,
    shapiro_wilk,
    stars,
    wilcoxon_signed_rank,
)
from ganon.evaluation.tables import audit_table3

# --- Wilcoxon against scipy -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [12, 68, 214, 2744])
@pytest.mark.parametrize("zero_method", ["wilcox", "pratt", "zsplit"])
@pytest.mark.parametrize("correction", [False, True])
def test_wilcoxon_matches_scipy_asymptotic(n: int, zero_method: str, correction: bool) -> None:
    rng = np.random.default_rng(20240101 + n)
    x = rng.random(n)
    y = np.clip(x + rng.normal(0.03, 0.1, n), 0, 1)
    y[: n // 10] = x[: n // 10]  # some exact zero differences
    ours = wilcoxon_signed_rank(x, y, zero_method=zero_method, correction=correction)
    ref = sps.wilcoxon(x, y, zero_method=zero_method, correction=correction, method="asymptotic")
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    assert ours.z == pytest.approx(ref.zstatistic, rel=1e-12)
    assert ours.z <= 0  # two-sided: -|z| as scipy reports it
    assert ours.method == "asymptotic"
    assert ours.n_pairs == n and ours.n_zero == n // 10
    assert ours.n == (n if zero_method == "zsplit" else n - n // 10)
    assert ours.effect_size == pytest.approx(ours.z / math.sqrt(n))


def test_wilcoxon_exact_and_one_sided_match_scipy() -> None:
    rng = np.random.default_rng(7)
    x = rng.random(20)
    y = x + rng.normal(0.2, 0.1, 20)  # mostly y > x, so x - y tends to be negative
    exact = wilcoxon_signed_rank(x, y, method="exact")
    ref = sps.wilcoxon(x, y, method="exact")
    assert (exact.statistic, exact.pvalue) == pytest.approx((ref.statistic, ref.pvalue))
    assert exact.method == "exact"
    # z still comes from the normal approximation so r is defined for every method
    assert exact.z == pytest.approx(sps.wilcoxon(x, y, method="asymptotic").zstatistic)
    less = wilcoxon_signed_rank(x, y, alternative="less")
    ref_less = sps.wilcoxon(x, y, alternative="less", method="asymptotic")
    assert less.pvalue == pytest.approx(ref_less.pvalue)
    assert less.z == pytest.approx(ref_less.zstatistic) and less.z < 0  # sign kept for one-sided


# --- hand-computed cases ----------------------------------------------------------------------------


def test_wilcoxon_hand_case_without_ties() -> None:
    # d = 1, -2, 3, 4, 5: ranks 1..5, W+ = 13, W- = 2, mu = 7.5, var = 5*6*11/24 = 13.75
    d = np.array([1.0, -2.0, 3.0, 4.0, 5.0])
    result = wilcoxon_signed_rank(d, np.zeros(5))
    z = (13 - 7.5) / math.sqrt(13.75)
    assert result.statistic == 2.0
    assert result.z == pytest.approx(-z)
    assert result.pvalue == pytest.approx(2 * sps.norm.sf(z))
    assert result.effect_size == pytest.approx(-z / math.sqrt(5))
    assert result.median_difference == 3.0
    assert any("normal approximation" in note for note in result.notes)  # n = 5 is flagged


def test_wilcoxon_hand_case_with_ties() -> None:
    # |d| = 1, 1, 2, 3 -> ranks 1.5, 1.5, 3, 4; var = (4*5*9 - (2**3 - 2) / 2) / 24 = 7.375
    # d = 1, -1, -2, 3: W+ = 1.5 + 4 = 5.5, W- = 1.5 + 3 = 4.5
    result = wilcoxon_signed_rank([1.0, -1.0, -2.0, 3.0], [0.0, 0.0, 0.0, 0.0])
    assert result.statistic == 4.5
    assert result.z == pytest.approx(-(5.5 - 5) / math.sqrt(7.375))
    # d = 1, 1, -2, 3: W+ = 1.5 + 1.5 + 4 = 7, W- = 3
    result2 = wilcoxon_signed_rank([1.0, 1.0, -2.0, 3.0], [0.0, 0.0, 0.0, 0.0])
    assert result2.statistic == 3.0
    assert result2.z == pytest.approx(-(7 - 5) / math.sqrt(7.375))


def test_wilcoxon_hand_case_with_zero_differences() -> None:
    # d = 0, 0, 1, 2, 3, -0.5: zeros dropped (wilcox) -> n = 4, ranks 2, 3, 4 positive, 1 negative
    d = np.array([0.0, 0.0, 1.0, 2.0, 3.0, -0.5])
    result = wilcoxon_signed_rank(d, np.zeros(6))
    z = (9 - 5) / math.sqrt(4 * 5 * 9 / 24)
    assert (result.n_pairs, result.n, result.n_zero) == (6, 4, 2)
    assert result.statistic == 1.0
    assert result.z == pytest.approx(-z)
    assert result.effect_size == pytest.approx(-z / math.sqrt(6))  # paper's N: all pairs
    nonzero = wilcoxon_signed_rank(d, np.zeros(6), effect_size_n="nonzero")
    assert nonzero.n_effect == 4
    assert nonzero.effect_size == pytest.approx(-z / 2)


def test_rank_sum_from_z_inverts_the_normal_approximation() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.random(68), rng.random(68)
    result = wilcoxon_signed_rank(x, y)
    assert rank_sum_from_z(result.z, 68) == pytest.approx(result.statistic, abs=1e-8)
    assert p_from_z(result.z) == pytest.approx(result.pvalue)


# --- degenerate and small samples ------------------------------------------------------------------


def test_wilcoxon_all_zero_differences_is_defined() -> None:
    result = wilcoxon_signed_rank([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert (result.z, result.pvalue, result.effect_size, result.method) == (0.0, 1.0, 0.0, "none")
    assert (result.n_pairs, result.n, result.n_zero) == (3, 0, 3)
    assert "all differences are zero" in result.notes[0]
    for zero_method in ("pratt", "zsplit"):
        assert wilcoxon_signed_rank([1.0], [1.0], zero_method=zero_method).pvalue == 1.0


def test_wilcoxon_no_pairs_and_single_pair() -> None:
    empty = wilcoxon_signed_rank([], [])
    assert empty.pvalue == 1.0 and math.isnan(empty.effect_size) and empty.notes == ("no pairs",)
    single = wilcoxon_signed_rank([1.0], [0.0])
    assert single.z == pytest.approx(-1.0)  # (1 - 0.5) / sqrt(1*2*3/24)
    assert single.pvalue == pytest.approx(2 * sps.norm.sf(1.0))
    assert single.effect_size == pytest.approx(-1.0)


def test_wilcoxon_auto_reports_the_method_scipy_picks() -> None:
    no_ties = wilcoxon_signed_rank([1.0, 2.0, 3.5, -0.2], [0.0] * 4, method="auto")
    assert no_ties.method == "exact"
    assert no_ties.pvalue == pytest.approx(sps.wilcoxon([1.0, 2.0, 3.5, -0.2], [0.0] * 4).pvalue)
    ties = wilcoxon_signed_rank([1.0, 2.0, 2.0, 0.0], [0.0] * 4, method="auto")
    assert ties.method == "permutation"
    assert ties.pvalue == pytest.approx(sps.wilcoxon([1.0, 2.0, 2.0, 0.0], [0.0] * 4).pvalue)
    rng = np.random.default_rng(1)
    assert wilcoxon_signed_rank(rng.random(60), rng.random(60), method="auto").method == "asymptotic"


def test_wilcoxon_input_validation() -> None:
    with pytest.raises(ValueError, match="same length"):
        wilcoxon_signed_rank([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        wilcoxon_signed_rank([1.0, np.nan, 3.0], [0.0, 0.0, 0.0])
    omitted = wilcoxon_signed_rank([1.0, np.nan, 3.0], [0.0, 0.0, 0.0], nan_policy="omit")
    assert omitted.n_pairs == 2 and "dropped 1 pairs with NaN" in omitted.notes


def test_shapiro_wilk_matches_scipy_and_handles_degenerate_samples() -> None:
    rng = np.random.default_rng(11)
    sample = rng.exponential(size=200)
    result = shapiro_wilk(sample)
    ref = sps.shapiro(sample)
    assert (result.statistic, result.pvalue, result.n) == pytest.approx((ref.statistic, ref.pvalue, 200))
    assert not result.is_normal()  # exponential data is clearly non-normal
    assert shapiro_wilk(rng.normal(size=50)).method == "shapiro-wilk"
    too_few = shapiro_wilk([1.0, 2.0])
    assert math.isnan(too_few.pvalue) and too_few.method == "none" and not too_few.is_normal()
    constant = shapiro_wilk([0.5] * 10)
    assert "all values are equal" in constant.notes
    with_nan = shapiro_wilk([*rng.normal(size=10), np.nan])
    assert with_nan.n == 10 and "dropped 1 non-finite values" in with_nan.notes


# --- Bonferroni and stars ---------------------------------------------------------------------------


def test_bonferroni_multiplies_and_caps() -> None:
    np.testing.assert_allclose(bonferroni([0.01, 0.02, 0.5]), [0.03, 0.06, 1.0])
    np.testing.assert_allclose(bonferroni([0.2] * 10), [1.0] * 10)
    corrected = bonferroni([0.01, np.nan, 0.02])
    assert math.isnan(corrected[1])
    np.testing.assert_allclose(corrected[[0, 2]], [0.02, 0.04])  # m counts non-NaN p only
    assert bonferroni([]).size == 0
    with pytest.raises(ValueError):
        bonferroni([1.2])


@pytest.mark.parametrize(
    ("p", "flag"),
    [(0.0, "***"), (0.00099, "***"), (0.001, "**"), (0.0099, "**"), (0.01, "*"), (0.0499, "*"),
     (0.05, ""), (0.5, ""), (1.0, ""), (math.nan, "")],
)  # fmt: skip
def test_stars_thresholds_are_strict(p: float, flag: str) -> None:
    assert stars(p) == flag


# --- compare_methods --------------------------------------------------------------------------------


def _synthetic_distances(seed: int = 5) -> pd.DataFrame:
    """Per-image distances for two datasets, where DP2 changes probabilities more than ours."""
    rng = np.random.default_rng(seed)
    rows = []
    for dataset, n_images, emotions in (("A", 80, ["Happy", "Sad"]), ("B", 30, ["Happy", "Fear", "Anger"])):
        for emotion in emotions:
            base = rng.random(n_images) * 0.2
            for method, shift in (("GANonymization", 0.0), ("DeepPrivacy2", 0.08), ("CIAGAN", 0.005)):
                noise = rng.normal(0, 0.05, n_images)
                for i in range(n_images):
                    rows.append((dataset, emotion, method, f"img{i}", abs(base[i] + shift + noise[i])))
    return pd.DataFrame(rows, columns=["dataset", "emotion", "method", "image_id", "distance"])


def test_compare_methods_table3_layout_and_values() -> None:
    distances = _synthetic_distances()
    table = compare_methods(distances)
    assert list(table.columns[:3]) == ["dataset", "emotion", "comparison"]
    assert len(table) == (2 + 3) * 2
    assert set(table["comparison"]) == {"GANonymization vs DeepPrivacy2", "GANonymization vs CIAGAN"}
    row = table[(table.dataset == "B") & (table.emotion == "Fear") & (table.other == "DeepPrivacy2")].iloc[0]
    sel = distances[(distances.dataset == "B") & (distances.emotion == "Fear")]
    ours = sel[sel.method == "GANonymization"].set_index("image_id")["distance"]
    dp2 = sel[sel.method == "DeepPrivacy2"].set_index("image_id")["distance"].loc[ours.index]
    direct = wilcoxon_signed_rank(ours.to_numpy(), dp2.to_numpy())
    assert (row.p, row.Z, row.r, row.N) == pytest.approx((direct.pvalue, direct.z, direct.effect_size, 30))
    assert row.mean_difference < 0  # ours changes the probability less
    # Bonferroni family = all tests of a dataset: 4 in A, 6 in B
    for dataset, m in (("A", 4), ("B", 6)):
        part = table[table.dataset == dataset]
        np.testing.assert_allclose(part.p_bonferroni, np.minimum(part.p * m, 1))
    assert list(table["stars"]) == [stars(p) for p in table["p_bonferroni"]]
    assert list(table["stars_uncorrected"]) == [stars(p) for p in table["p"]]
    strong = table[table.other == "DeepPrivacy2"]
    assert (strong.p_bonferroni < 0.01).all() and (strong.Z < -3).all()


def test_compare_methods_uses_only_complete_pairs_and_validates() -> None:
    distances = _synthetic_distances()
    dropped = distances[~((distances.method == "CIAGAN") & distances.image_id.isin(["img0", "img1"]))]
    table = compare_methods(dropped, others=["CIAGAN"])
    assert set(table.N[table.dataset == "A"]) == {78} and set(table.N[table.dataset == "B"]) == {28}
    assert compare_methods(distances, correct_by=()).p_bonferroni.max() <= 1.0
    with pytest.raises(ValueError, match="reference"):
        compare_methods(distances, reference="Ours")
    with pytest.raises(KeyError, match="image_id"):
        compare_methods(distances.drop(columns="image_id"))
    with pytest.raises(ValueError, match="repeat"):
        compare_methods(pd.concat([distances, distances.iloc[:1]]))
    with pytest.raises(ValueError, match="subset"):
        compare_methods(distances, correct_by=("method",))


# --- the paper's own arithmetic (Table 3) -----------------------------------------------------------

AFFECTNET_CIAGAN = ("AffectNet", "GANonymization vs CIAGAN")


def _is_affectnet_ciagan(table: pd.DataFrame) -> pd.Series:
    return (table["dataset"] == AFFECTNET_CIAGAN[0]) & (table["comparison"] == AFFECTNET_CIAGAN[1])


def test_paper_r_equals_z_over_sqrt_n_except_affectnet_ciagan() -> None:
    """r = Z / sqrt(N) reproduces 34 of Table 3's 42 r values to 1e-5; the 8 AffectNet-vs-CIAGAN rows
    need N = 2825 (Table 4's AffectNet support), not the printed 2744."""
    table = paper_table("table3")
    matches = (table["r"] - table["Z"] / np.sqrt(table["N"])).abs() <= 1e-5
    odd = _is_affectnet_ciagan(table)
    assert matches[~odd].all() and int(matches.sum()) == 34
    assert not matches[odd].any()
    assert ((table["r"] - table["Z"] / math.sqrt(2825)).abs()[odd] <= 1e-5).all()
    np.testing.assert_allclose((table["Z"] / table["r"])[odd] ** 2, 2825, atol=0.05)


def test_paper_printed_p_values_are_uncorrected_and_four_contradict_their_z() -> None:
    """Every printed p equals the uncorrected two-sided normal p of its Z, except four AffectNet
    CIAGAN rows whose |Z| > 10 implies p < 1e-23 while 0.119, 1.000, 0.013 and 0.034 are printed."""
    audit = audit_table3()
    bad = audit[~audit["p_ok"]]
    assert len(audit) - len(bad) == 38
    assert set(bad["emotion"]) == {"Neutral", "Anger", "Contempt", "Surprise"}
    assert _is_affectnet_ciagan(bad).all()
    assert list(bad["p_printed"]) == ["0.119", "1.000", "0.013", "0.034"]
    assert (bad["Z"].abs() > 10).all() and (bad["p_from_Z"] < 1e-23).all()
    # printed stars follow the printed p with the table's rule
    printed = audit["p_stars"].fillna("")
    assert list(printed) == [stars(p * 0.999 if b else p) for p, b in zip(audit.p, audit.p_is_upper_bound)]


def test_paper_bonferroni_claim_changes_nine_flags() -> None:
    """Bonferroni per dataset (m = 16/14/12 tests), applied to the p implied by Z, changes 9 of the 38
    consistent rows' stars; two FACES rows lose significance altogether."""
    audit = audit_table3()
    consistent = audit[audit["p_ok"]]
    changed = consistent[consistent["stars_bonferroni"] != consistent["p_stars"]]
    assert len(changed) == 9 and set(changed["dataset"]) == {"CK+", "FACES"}
    lost = changed[changed["stars_bonferroni"] == ""]
    assert set(zip(lost.emotion, lost.comparison)) == {
        ("Sadness", "GANonymization vs CIAGAN"),
        ("Disgust", "GANonymization vs DeepPrivacy2"),
    }


def test_paper_z_values_imply_whole_rank_sums() -> None:
    """Each Z back-solves to a rank sum T that is a multiple of 0.5 (as a real signed-rank sum is)
    with N pairs; the AffectNet CIAGAN rows only with N = 2825. CK+ and FACES T are whole numbers,
    i.e. no ties, no zeros and no continuity correction."""
    audit = audit_table3()
    odd = _is_affectnet_ciagan(audit)
    assert audit.loc[~odd, "T_ok"].all()
    assert not audit.loc[odd, "T_ok"].any()
    assert audit.loc[odd, "T_ok_alternative_n"].all()
    small = audit[audit.dataset.isin(["CK+", "FACES"])]
    np.testing.assert_allclose(small["T_implied"], small["T_implied"].round(), atol=1e-3)


def test_paper_duplicate_statistics() -> None:
    """CK+ Happy vs DP2 and CK+ Anger vs CIAGAN print identical Z and r."""
    t = paper_table("table3").set_index(["dataset", "emotion", "comparison"])
    a = t.loc[("CK+", "Happy", "GANonymization vs DeepPrivacy2"), ["Z", "r"]]
    b = t.loc[("CK+", "Anger", "GANonymization vs CIAGAN"), ["Z", "r"]]
    assert list(a) == list(b) == [-3.415688, -0.414213]
