"""Significance tests of the paper's emotion evaluation (Sec. 4.2.4), with explicit choices.

The paper runs Shapiro-Wilk on the probability distances, then per dataset and emotion a paired
Wilcoxon signed-rank test of GANonymization against each other method (normal approximation), reports
Z, the effect size r = Z / sqrt(N) and a p-value with Bonferroni correction per dataset, and flags it
with stars. Each function here returns a frozen result that records the method actually used.

References: Wilcoxon (1945); Pratt (1959) and Cureton (1967) for zeros; Rosenthal (1991) and Fritz,
Morris & Richler (2012) for r = Z / sqrt(N); scipy.stats.wilcoxon, whose conventions are kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as sps

__all__ = [
    "ShapiroResult",
    "WilcoxonResult",
    "bonferroni",
    "compare_methods",
    "p_from_z",
    "rank_sum_from_z",
    "shapiro_wilk",
    "stars",
    "wilcoxon_signed_rank",
]

ZeroMethod = Literal["wilcox", "pratt", "zsplit"]
Alternative = Literal["two-sided", "less", "greater"]
WilcoxonMethod = Literal["asymptotic", "exact", "auto"]
EffectSizeN = Literal["pairs", "nonzero"]

#: Star thresholds of Table 3's note: p < 0.001 -> ***, p < 0.01 -> **, p < 0.05 -> *.
STAR_THRESHOLDS: tuple[tuple[float, str], ...] = ((0.001, "***"), (0.01, "**"), (0.05, "*"))

#: Below this many non-zero differences the normal approximation is flagged in the notes
#: (scipy's ``method="auto"`` switches to the exact distribution at n <= 50 for the same reason).
SMALL_SAMPLE_N = 50


@dataclass(frozen=True)
class ShapiroResult:
    """Shapiro-Wilk normality test: W statistic, p-value, sample size and what was done."""

    statistic: float
    pvalue: float
    n: int
    method: str = "shapiro-wilk"
    notes: tuple[str, ...] = ()

    def is_normal(self, *, alpha: float = 0.05) -> bool:
        """True when normality is not rejected at ``alpha`` (False for a degenerate test)."""
        return bool(self.pvalue >= alpha) if math.isfinite(self.pvalue) else False


@dataclass(frozen=True)
class WilcoxonResult:
    """Paired Wilcoxon signed-rank test.

    ``statistic`` is scipy's (min(W+, W-) for two-sided, W+ otherwise); ``z`` is always the normal
    approximation (``-|z|`` for two-sided, as scipy reports it, so its sign carries no direction; use
    ``median_difference``); ``effect_size`` is r = z / sqrt(n_effect), where ``n_effect`` is
    ``n_pairs`` (the paper's N) or ``n`` (pairs left after zero removal); ``method`` is how the
    p-value was obtained ("asymptotic", "exact", "permutation", or "none" for a degenerate sample).
    """

    statistic: float
    z: float
    pvalue: float
    effect_size: float
    n_pairs: int
    n: int
    n_zero: int
    n_effect: int
    median_difference: float
    method: str
    zero_method: str
    correction: bool
    alternative: str
    notes: tuple[str, ...] = field(default=())


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def shapiro_wilk(x: ArrayLike) -> ShapiroResult:
    """Shapiro-Wilk test of normality (scipy.stats.shapiro) with NaNs dropped.

    Fewer than 3 finite values, or a constant sample, give W = p = NaN with a note instead of an
    error; scipy's warning that p may be inaccurate for n > 5000 is kept as a note.
    """
    values = _as_1d(x, "x")
    finite = values[np.isfinite(values)]
    notes: list[str] = []
    if finite.size < values.size:
        notes.append(f"dropped {values.size - finite.size} non-finite values")
    n = int(finite.size)
    if n < 3:
        return ShapiroResult(math.nan, math.nan, n, "none", (*notes, "needs at least 3 values"))
    if np.ptp(finite) == 0:
        return ShapiroResult(math.nan, math.nan, n, "none", (*notes, "all values are equal"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sps.shapiro(finite)
    notes.extend(str(w.message) for w in caught)
    return ShapiroResult(float(result.statistic), float(result.pvalue), n, "shapiro-wilk", tuple(notes))


def _auto_method(d: np.ndarray, n_zero: int) -> str:
    """The p-value method scipy's ``method="auto"`` picks (scipy >= 1.15 rule)."""
    if d.size > 50:
        return "asymptotic"
    has_ties = np.unique(np.abs(d[d != 0])).size < np.count_nonzero(d)
    if not (has_ties or n_zero > 0):
        return "exact"
    return "permutation" if d.size <= 13 else "asymptotic"


def wilcoxon_signed_rank(
    x: ArrayLike,
    y: ArrayLike,
    *,
    zero_method: ZeroMethod = "wilcox",
    correction: bool = False,
    method: WilcoxonMethod = "asymptotic",
    alternative: Alternative = "two-sided",
    effect_size_n: EffectSizeN = "pairs",
    nan_policy: Literal["raise", "omit"] = "raise",
) -> WilcoxonResult:
    """Paired Wilcoxon signed-rank test of ``x - y`` with z and the effect size r = z / sqrt(N).

    Defaults reproduce the paper's setup (scipy's normal approximation without continuity
    correction, zeros dropped as Wilcoxon did). ``effect_size_n="pairs"`` divides by the number of
    pairs as the paper's N (e.g. 2744 for AffectNet); ``"nonzero"`` by the pairs left after zero
    removal. If every difference is zero (or there are no pairs) the result is degenerate but
    defined: z = 0, p = 1, r = 0 (NaN without pairs), method "none", with a note.
    """
    a, b = _as_1d(x, "x"), _as_1d(y, "y")
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same length, got {a.size} and {b.size}")
    notes: list[str] = []
    missing = np.isnan(a) | np.isnan(b)
    if missing.any():
        if nan_policy == "raise":
            raise ValueError(f"{int(missing.sum())} pairs contain NaN; pass nan_policy='omit' to drop them")
        a, b = a[~missing], b[~missing]
        notes.append(f"dropped {int(missing.sum())} pairs with NaN")
    d = a - b
    n_pairs = int(d.size)
    n_zero = int(np.count_nonzero(d == 0))
    n = n_pairs if zero_method == "zsplit" else n_pairs - n_zero
    n_effect = n_pairs if effect_size_n == "pairs" else n
    median_difference = float(np.median(d)) if n_pairs else math.nan
    common = dict(zero_method=zero_method, correction=correction, alternative=alternative)

    if n_pairs == 0 or n_zero == n_pairs:
        notes.append("no pairs" if n_pairs == 0 else "all differences are zero: no evidence of a difference")
        return WilcoxonResult(
            statistic=0.0, z=0.0, pvalue=1.0, effect_size=0.0 if n_effect else math.nan,
            n_pairs=n_pairs, n=n, n_zero=n_zero, n_effect=n_effect,
            median_difference=median_difference, method="none", notes=tuple(notes), **common,
        )  # fmt: skip

    used = _auto_method(d, n_zero) if method == "auto" else method
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        approx = sps.wilcoxon(a, b, method="asymptotic", **common)
        exact = approx if used == "asymptotic" else sps.wilcoxon(a, b, method=method, **common)
    notes.extend(dict.fromkeys(str(w.message) for w in caught))
    if used == "asymptotic" and n <= SMALL_SAMPLE_N:
        notes.append(f"normal approximation with only {n} non-zero differences; consider method='exact'")
    if used == "exact" and (n_zero or np.unique(np.abs(d[d != 0])).size < n):
        notes.append("exact distribution assumes no ties or zeros; the p-value is conservative")
    z = float(approx.zstatistic)
    return WilcoxonResult(
        statistic=float(exact.statistic), z=z, pvalue=float(exact.pvalue),
        effect_size=z / math.sqrt(n_effect) if n_effect else math.nan,
        n_pairs=n_pairs, n=n, n_zero=n_zero, n_effect=n_effect,
        median_difference=median_difference, method=used, notes=tuple(notes), **common,
    )  # fmt: skip


def p_from_z(z: ArrayLike, *, alternative: Alternative = "two-sided") -> np.ndarray:
    """The normal-approximation p-value that a z statistic implies (two-sided: 2 * sf(|z|))."""
    values = np.asarray(z, dtype=float)
    if alternative == "two-sided":
        return 2.0 * sps.norm.sf(np.abs(values))
    return sps.norm.sf(values) if alternative == "greater" else sps.norm.cdf(values)


def rank_sum_from_z(z: ArrayLike, n: ArrayLike) -> np.ndarray:
    """Signed-rank statistic T implied by a z computed without ties, zeros or continuity correction.

    T = n(n+1)/4 + z * sqrt(n(n+1)(2n+1)/24). With exact inputs T is a whole number; with a z
    printed to 6 decimals it is whole up to about 5e-7 * sqrt(n(n+1)(2n+1)/24). A clearly fractional T
    means the z did not come from n tie-free, zero-free pairs.
    """
    zs, ns = np.asarray(z, dtype=float), np.asarray(n, dtype=float)
    return ns * (ns + 1) / 4 + zs * np.sqrt(ns * (ns + 1) * (2 * ns + 1) / 24)


def bonferroni(pvalues: ArrayLike) -> np.ndarray:
    """Bonferroni-corrected p-values: p * m capped at 1, where m counts the non-NaN p-values.

    NaNs stay NaN and do not count towards m.
    """
    p = np.asarray(pvalues, dtype=float)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    m = int(np.count_nonzero(~np.isnan(p)))
    return np.minimum(p * m, 1.0)


def stars(p: float) -> str:
    """Table 3's significance flag: '***' p < 0.001, '**' p < 0.01, '*' p < 0.05, '' otherwise or NaN."""
    if p is None or not math.isfinite(p):
        return ""
    for threshold, flag in STAR_THRESHOLDS:
        if p < threshold:
            return flag
    return ""


def compare_methods(
    distances: pd.DataFrame,
    *,
    reference: str = "GANonymization",
    others: Sequence[str] | None = None,
    by: Sequence[str] = ("dataset", "emotion"),
    correct_by: Sequence[str] = ("dataset",),
    value: str = "distance",
    method_column: str = "method",
    pair_column: str = "image_id",
    zero_method: ZeroMethod = "wilcox",
    correction: bool = False,
    test_method: WilcoxonMethod = "asymptotic",
) -> pd.DataFrame:
    """Table 3: per group in ``by``, a paired Wilcoxon test of ``reference`` against each other method.

    ``distances`` is tidy, one row per (group, method, pair) with the distance in ``value``; pairs
    are matched on ``pair_column`` and only pairs present for both methods are used (N). Returns one
    row per group and comparison with ``p`` (uncorrected, as the paper printed), ``p_bonferroni``
    (Bonferroni over all tests sharing ``correct_by``, the paper's "dataset-wise" correction),
    ``stars`` (from ``p_bonferroni``), ``stars_uncorrected``, ``Z``, ``r``, ``N``, ``n`` (non-zero
    pairs), ``mean_difference`` (reference minus other; negative: reference changes less) and
    ``test`` / ``notes``.
    """
    required = {*by, value, method_column, pair_column}
    missing = required - set(distances.columns)
    if missing:
        raise KeyError(f"distances lacks columns {sorted(missing)}")
    methods = list(dict.fromkeys(distances[method_column]))
    if reference not in methods:
        raise ValueError(f"reference method {reference!r} not in {methods}")
    others = [m for m in methods if m != reference] if others is None else list(others)
    unknown = set(others) - set(methods)
    if unknown:
        raise ValueError(f"methods {sorted(unknown)} not in {methods}")
    duplicated = distances.duplicated([*by, method_column, pair_column])
    if duplicated.any():
        raise ValueError(f"{int(duplicated.sum())} rows repeat a (group, method, {pair_column}) combination")
    if not set(correct_by) <= set(by):
        raise ValueError(f"correct_by {list(correct_by)} must be a subset of by {list(by)}")

    rows: list[dict[str, object]] = []
    for key, group in distances.groupby(list(by), sort=False):
        wide = group.pivot(index=pair_column, columns=method_column, values=value)
        for other in others:
            if reference not in wide or other not in wide:
                continue
            pairs = wide[[reference, other]].dropna()
            result = wilcoxon_signed_rank(
                pairs[reference].to_numpy(), pairs[other].to_numpy(),
                zero_method=zero_method, correction=correction, method=test_method,
            )  # fmt: skip
            diff = pairs[reference].to_numpy() - pairs[other].to_numpy()
            rows.append({
                **dict(zip(by, key if isinstance(key, tuple) else (key,))),
                "comparison": f"{reference} vs {other}", "reference": reference, "other": other,
                "p": result.pvalue, "Z": result.z, "r": result.effect_size, "N": result.n_pairs,
                "n": result.n, "mean_difference": float(diff.mean()) if diff.size else math.nan,
                "test": result.method, "notes": "; ".join(result.notes),
            })  # fmt: skip
    columns = [*by, "comparison", "reference", "other", "p", "p_bonferroni", "stars", "stars_uncorrected",
               "Z", "r", "N", "n", "mean_difference", "test", "notes"]  # fmt: skip
    derived = ("p_bonferroni", "stars", "stars_uncorrected")
    table = pd.DataFrame(rows, columns=[c for c in columns if c not in derived])
    if table.empty:
        return pd.DataFrame(columns=columns)
    if correct_by:
        table["p_bonferroni"] = table.groupby(list(correct_by), sort=False)["p"].transform(bonferroni)
    else:
        table["p_bonferroni"] = bonferroni(table["p"])
    table["stars"] = table["p_bonferroni"].map(stars)
    table["stars_uncorrected"] = table["p"].map(stars)
    return table[columns]
