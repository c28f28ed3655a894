"""Our numbers beside the paper's (Tables 1-6), an audit of Table 3's arithmetic, and formatting.

``beside_paper`` puts each of our values next to the printed one, with the difference and whether
they agree up to the paper's printed rounding. ``audit_table3`` checks Table 3 against itself
(r = Z / sqrt(N), p from Z, the implied rank sum). The format helpers render tables as Markdown or
HTML for the book without extra dependencies.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from ganon.evaluation.reference import TABLES, TableName, paper_table, parse_p
from ganon.evaluation.stats import bonferroni, p_from_z, rank_sum_from_z, stars

__all__ = [
    "audit_table3",
    "beside_paper",
    "format_p",
    "format_table",
    "printed_tolerance",
    "to_html",
    "to_markdown",
    "within_rounding",
]

Join = Literal["outer", "paper", "ours", "inner"]
_HOW = {"outer": "outer", "paper": "left", "ours": "right", "inner": "inner"}


def printed_tolerance(printed: str) -> float:
    """Half a unit in the last printed digit: ``"0.09"`` -> 0.005, ``"2744"`` -> 0.5, ``""`` -> NaN."""
    text = printed.strip().lstrip("<")
    if not text:
        return math.nan
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals


def within_rounding(ours: float, printed: str) -> bool:
    """Whether ``ours`` prints as ``printed``: within half a last-digit unit, or below a ``<`` bound."""
    if ours is None or not math.isfinite(ours) or not printed.strip():
        return False
    value, is_bound = parse_p(printed)
    if is_bound:
        return ours < value
    return abs(ours - value) <= printed_tolerance(printed) * (1 + 1e-9)


def _normalise_keys(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    frame = frame.copy()
    for key in keys:
        frame[key] = frame[key].astype(object).where(frame[key].notna(), "").astype(str)
    return frame


#: A column ``paper_<key>`` in our table names the paper's key a stand-in row is set beside
#: (``dataset=openpeople, paper_dataset=FACES``); ``stand_in`` then says so ("openpeople for FACES").
PAPER_KEY_PREFIX = "paper_"


def _as_paper_keys(ours: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Rows with ``paper_<key>`` set take that key for the join; ``stand_in`` names what stands for what."""
    aliases = [k for k in keys if PAPER_KEY_PREFIX + k in ours.columns]
    if not aliases:
        return ours
    ours = ours.copy()
    notes = pd.Series([[] for _ in range(len(ours))], index=ours.index, dtype=object)
    for key in aliases:
        alias = ours[PAPER_KEY_PREFIX + key]
        given = alias.notna() & (alias.astype(str) != "") & (alias.astype(str) != ours[key].astype(str))
        for index in ours.index[given]:
            notes[index].append(f"{ours.at[index, key]} for {alias[index]}")
        ours.loc[given, key] = alias[given]
    ours["stand_in"] = notes.map("; ".join)
    return ours


def beside_paper(ours: pd.DataFrame, table: TableName | str, *, how: Join = "outer") -> pd.DataFrame:
    """Long table of ``keys..., quantity, ours, paper, paper_printed, difference, within_rounding``.

    ``ours`` uses the paper table's key and value column names (see ``TABLES.get(table)``), e.g.
    Table 2 needs ``dataset, emotion, method, mean_probability_distance``; value columns it lacks are
    skipped. ``difference = ours - paper``; for a printed bound ("<0.001") it is NaN and
    ``within_rounding`` tells whether ours is below the bound. ``how`` picks the rows: all
    (``"outer"``), the paper's, ours, or only shared ones. Rows follow the paper's order.
    """
    spec = TABLES.get(table)
    if spec.name == "headline":
        raise ValueError("beside_paper compares Tables 1-6; look headline numbers up with headline_number()")
    ours = _as_paper_keys(ours, spec.keys)
    missing = set(spec.keys) - set(ours.columns)
    if "kernel" in missing:
        ours = ours.assign(kernel="")
        missing.discard("kernel")
    if missing:
        raise KeyError(f"our table lacks key columns {sorted(missing)} of {spec.name}")
    quantities = [v for v in spec.values if v in ours.columns]
    if not quantities:
        raise KeyError(f"our table has none of {spec.name}'s value columns {list(spec.values)}")

    paper = _normalise_keys(paper_table(spec.name), spec.keys)
    printed = _normalise_keys(paper_table(spec.name, printed=True), spec.keys)
    mine = _normalise_keys(ours, spec.keys)
    if mine.duplicated(list(spec.keys)).any():
        raise ValueError(f"our table has duplicate rows for the keys {list(spec.keys)}")
    paper = paper.assign(_order=np.arange(len(paper)))

    frames = []
    for quantity in quantities:
        left = paper[[*spec.keys, "_order", quantity]].rename(columns={quantity: "paper"})
        left["paper_printed"] = printed[quantity].to_numpy()
        right = mine[[*spec.keys, quantity]].rename(columns={quantity: "ours"})
        right["ours"] = pd.to_numeric(right["ours"], errors="coerce").astype(float)
        joined = left.merge(right, on=list(spec.keys), how=_HOW[how])
        joined.insert(len(spec.keys), "quantity", quantity)
        frames.append(joined)
    result = pd.concat(frames, ignore_index=True)
    printed_cells = result["paper_printed"]
    result["paper_printed"] = printed_cells.astype(object).where(printed_cells.notna(), "")
    bound = result["paper_printed"].astype(str).str.startswith("<")
    result["difference"] = np.where(bound, np.nan, result["ours"] - result["paper"].astype(float))
    result["within_rounding"] = [
        within_rounding(o, p) for o, p in zip(result["ours"], result["paper_printed"].astype(str))
    ]
    result["_q"] = result["quantity"].map({q: i for i, q in enumerate(quantities)})
    result = result.sort_values(["_order", "_q"], na_position="last", kind="stable")
    columns = [*spec.keys, "quantity", "ours", "paper", "paper_printed", "difference", "within_rounding"]
    if "stand_in" in ours.columns:  # which row of ours stands in for the paper's row
        stand_ins = _normalise_keys(ours, spec.keys).set_index(list(spec.keys))["stand_in"]
        keys = [tuple(k) if len(spec.keys) > 1 else k[0] for k in result[list(spec.keys)].itertuples(index=False)]
        result["stand_in"] = [stand_ins.get(k, "") for k in keys]  # a single key indexes by its value
        result["stand_in"] = result["stand_in"].fillna("")
        columns.append("stand_in")
    return result[columns].reset_index(drop=True)


def _rank_sum_check(z: pd.Series, n: pd.Series | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Implied rank sum T, its distance to the nearest multiple of 0.5, and the distance explained by
    Z's printed rounding (6 decimals -> |dZ| <= 5e-7, so |dT| <= 5e-7 * sd)."""
    ns = np.broadcast_to(np.asarray(n, dtype=float), np.shape(z))
    t = rank_sum_from_z(z, ns)
    off = np.abs(2 * t - np.round(2 * t)) / 2
    tolerance = 5e-7 * np.sqrt(ns * (ns + 1) * (2 * ns + 1) / 24) * 1.05 + 1e-9
    return t, off, tolerance


def audit_table3(table3: pd.DataFrame | None = None, *, alternative_n: int = 2825) -> pd.DataFrame:
    """Check Table 3's own arithmetic, row by row (default: the paper's printed Table 3).

    Adds ``r_from_Z`` = Z / sqrt(N), ``r_ok`` (equal to 1e-5) and ``N_implied`` = (Z / r)^2;
    ``p_from_Z`` (two-sided normal p), ``p_ok`` (prints as the paper's p), ``stars_from_Z``,
    ``p_bonferroni_from_Z`` (Bonferroni over each dataset's tests) and ``stars_bonferroni``;
    ``T_implied`` (signed-rank statistic implied by Z with N tie-free, zero-free pairs),
    ``T_off_half`` (its distance to a multiple of 0.5, which a real T is) and ``T_ok`` (within what
    Z's 6-decimal rounding allows). ``*_alternative_n`` repeat the r and T checks with N replaced by
    ``alternative_n`` (default 2825, Table 4's AffectNet validation support).
    """
    t = paper_table("table3") if table3 is None else table3.copy()
    t["r_from_Z"] = t["Z"] / np.sqrt(t["N"])
    t["r_ok"] = (t["r"] - t["r_from_Z"]).abs() <= 1e-5
    t["N_implied"] = (t["Z"] / t["r"]) ** 2
    t["r_ok_alternative_n"] = (t["r"] - t["Z"] / math.sqrt(alternative_n)).abs() <= 1e-5
    t["p_from_Z"] = p_from_z(t["Z"])
    t["p_ok"] = [within_rounding(p, printed) for p, printed in zip(t["p_from_Z"], t["p_printed"])]
    t["stars_from_Z"] = t["p_from_Z"].map(stars)
    t["p_bonferroni_from_Z"] = t.groupby("dataset", sort=False)["p_from_Z"].transform(bonferroni)
    t["stars_bonferroni"] = t["p_bonferroni_from_Z"].map(stars)
    t["T_implied"], t["T_off_half"], tolerance = _rank_sum_check(t["Z"], t["N"])
    t["T_ok"] = t["T_off_half"] <= tolerance
    _, off_alt, tolerance_alt = _rank_sum_check(t["Z"], float(alternative_n))
    t["T_ok_alternative_n"] = off_alt <= tolerance_alt
    return t


def format_p(p: float, *, floor: float = 0.001, digits: int = 3) -> str:
    """A p-value as the paper prints it: ``"<0.001"`` below ``floor``, else ``digits`` decimals."""
    if p is None or not math.isfinite(p):
        return ""
    return f"<{floor:g}" if p < floor else f"{p:.{digits}f}"


def format_table(
    frame: pd.DataFrame,
    *,
    digits: int | Mapping[str, int] = 4,
    p_columns: Sequence[str] = ("p", "p_bonferroni", "p_from_Z", "p_bonferroni_from_Z"),
    na: str = "",
) -> pd.DataFrame:
    """All cells as display strings: floats to ``digits`` decimals (per column if a mapping), p-value
    columns via :func:`format_p`, integers unchanged, NaN as ``na``."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if column in p_columns and pd.api.types.is_float_dtype(values):
            out[column] = [format_p(v) for v in values]
        elif pd.api.types.is_float_dtype(values):
            d = digits.get(column, 4) if isinstance(digits, Mapping) else digits
            out[column] = [na if pd.isna(v) else f"{v:.{d}f}" for v in values]
        else:
            out[column] = [na if (not isinstance(v, str) and pd.isna(v)) else str(v) for v in values]
    return out


def to_markdown(frame: pd.DataFrame, **format_options: object) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned); options go to :func:`format_table`."""
    cells = format_table(frame, **format_options)  # type: ignore[arg-type]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]  # fmt: skip
    escape = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    header = "| " + " | ".join(escape(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---:" if n else ":---" for n in numeric) + " |"
    body = ["| " + " | ".join(escape(v) for v in row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def to_html(frame: pd.DataFrame, *, caption: str | None = None, **format_options: object) -> str:
    """A plain HTML ``<table>`` (escaped text, numbers right-aligned); options go to :func:`format_table`."""
    cells = format_table(frame, **format_options)  # type: ignore[arg-type]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]  # fmt: skip
    align = ['style="text-align:right"' if n else 'style="text-align:left"' for n in numeric]
    parts = ['<table class="ganon-table">']
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th {a}>{html.escape(str(c))}</th>" for a, c in
                                         zip(align, frame.columns)) + "</tr></thead><tbody>")  # fmt: skip
    for row in cells.itertuples(index=False):
        parts.append("<tr>" + "".join(f"<td {a}>{html.escape(v)}</td>" for a, v in zip(align, row)) + "</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)
