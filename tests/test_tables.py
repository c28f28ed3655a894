"""Our numbers beside the paper's, rounding judgement, and table rendering."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ganon.evaluation.metrics import classification_report_table
from ganon.evaluation.reference import TABLES, paper_table
from ganon.evaluation.tables import (
    beside_paper,
    format_p,
    format_table,
    printed_tolerance,
    to_html,
    to_markdown,
    within_rounding,
)


def test_printed_tolerance_and_within_rounding() -> None:
    assert printed_tolerance("0.09") == pytest.approx(0.005)
    assert printed_tolerance("0.7145") == pytest.approx(0.00005)
    assert printed_tolerance("2744") == 0.5
    assert math.isnan(printed_tolerance(""))
    assert within_rounding(0.0949, "0.09") and not within_rounding(0.0951, "0.09")
    assert within_rounding(0.0004, "<0.001") and not within_rounding(0.001, "<0.001")
    assert not within_rounding(math.nan, "0.1") and not within_rounding(0.1, "")


@pytest.mark.parametrize("name", ["table1", "table2", "table3", "table4", "table5", "table6"])
def test_paper_beside_itself_agrees_everywhere(name: str) -> None:
    """Feeding the paper's own table in gives zero difference and full agreement on every value."""
    spec = TABLES.get(name)
    ours = paper_table(name)
    side = beside_paper(ours, name)
    values = [v for v in spec.values if v in ours.columns]
    assert len(side) == len(ours) * len(values)
    assert list(side.columns) == [*spec.keys, "quantity", "ours", "paper", "paper_printed", "difference",
                                  "within_rounding"]  # fmt: skip
    printed = side["paper_printed"] != ""
    bound = side["paper_printed"].str.startswith("<")
    assert side.loc[printed & ~bound, "difference"].abs().max() == 0
    # a bound "<0.001" is not met by its own bound value; every other printed value agrees
    assert side.loc[printed & ~bound, "within_rounding"].all()


def test_beside_paper_table1_flags_differences_and_missing_rows() -> None:
    ours = pd.DataFrame({"method": ["GANonymization", "DeepPrivacy2", "Masking"],
                         "kernel": [None, None, None], "cosine_distance": [0.71453, 0.80, 0.99]})  # fmt: skip
    side = beside_paper(ours, "table1").set_index("method")
    assert side.loc["GANonymization", "within_rounding"]
    assert side.loc["GANonymization", "difference"] == pytest.approx(0.00003)
    assert not side.loc["DeepPrivacy2", "within_rounding"]
    assert side.loc["DeepPrivacy2", "difference"] == pytest.approx(-0.0119)
    assert math.isnan(side.loc["Masking", "paper"]) and side.loc["Masking", "paper_printed"] == ""
    assert math.isnan(side.loc["CIAGAN", "ours"])  # outer join keeps paper rows we lack
    assert list(side.index[:2]) == ["Original", "GANonymization"]  # paper order first
    only_shared = beside_paper(ours, "table1", how="inner")
    assert len(only_shared) == 2


def test_beside_paper_table3_p_bound_and_table4_report() -> None:
    t3 = paper_table("table3")
    ours = t3[["dataset", "emotion", "comparison"]].assign(p=1e-6, Z=t3["Z"], N=t3["N"])
    side = beside_paper(ours, "table3", how="paper")
    p_rows = side[side.quantity == "p"]
    assert p_rows[p_rows.paper_printed == "<0.001"]["within_rounding"].all()
    assert p_rows[p_rows.paper_printed == "<0.001"]["difference"].isna().all()
    assert not p_rows[p_rows.paper_printed == "0.119"]["within_rounding"].any()
    assert set(side.quantity) == {"p", "Z", "N"}  # r absent from ours is skipped

    y = np.random.default_rng(0).integers(0, 7, 68)
    names = ["Anger", "Contempt", "Disgust", "Fear", "Happy", "Sadness", "Surprise"]
    report = classification_report_table(y, y, list(range(7)), target_names=names)
    report = report.assign(dataset="CK+", train_data="Original")
    side4 = beside_paper(report, "table4", how="ours")
    assert len(side4) == 10 * 4
    anger_f1 = side4[(side4["class"] == "Anger") & (side4.quantity == "f1")].iloc[0]
    assert (anger_f1.ours, anger_f1.paper, anger_f1.within_rounding) == (1.0, 1.0, True)


def test_beside_paper_rejects_bad_input() -> None:
    with pytest.raises(KeyError, match="key columns"):
        beside_paper(pd.DataFrame({"cosine_distance": [0.5]}), "table2")
    with pytest.raises(KeyError, match="value columns"):
        beside_paper(pd.DataFrame({"attribute": ["Bald"]}), "table6")
    with pytest.raises(ValueError, match="duplicate"):
        beside_paper(pd.DataFrame({"attribute": ["Bald", "Bald"], "removed_fraction": [1, 1]}), "table6")
    with pytest.raises(ValueError, match="headline"):
        beside_paper(pd.DataFrame({"key": ["x"], "number": [1]}), "headline")


def test_formatting_helpers() -> None:
    assert format_p(0.0004) == "<0.001" and format_p(0.1191) == "0.119" and format_p(math.nan) == ""
    frame = pd.DataFrame({"name": ["a|b", None], "p": [0.00001, 0.5], "r": [0.123456, math.nan], "N": [3, 4]})
    cells = format_table(frame, digits={"r": 2})
    assert cells.to_dict("list") == {"name": ["a|b", ""], "p": ["<0.001", "0.500"], "r": ["0.12", ""],
                                     "N": ["3", "4"]}  # fmt: skip
    markdown = to_markdown(frame)
    lines = markdown.splitlines()
    assert lines[0] == "| name | p | r | N |" and lines[1] == "| :--- | ---: | ---: | ---: |"
    assert lines[2] == "| a\\|b | <0.001 | 0.1235 | 3 |"
    page = to_html(frame, caption="T<3>")
    assert "<caption>T&lt;3&gt;</caption>" in page and "&lt;0.001" in page and page.count("<tr>") == 3


def test_stand_in_is_carried_for_a_table_with_one_key() -> None:
    ours = pd.DataFrame({"attribute": ["Male", "Young"], "removed_fraction": [0.3, 0.5],
                         "stand_in": ["age-gender for the CelebA ConvNeXt", "age-gender for the CelebA ConvNeXt"]})
    beside = beside_paper(ours, "table6")
    measured = beside[beside["ours"].notna()]
    assert list(measured["attribute"]) == ["Male", "Young"]
    assert set(measured["stand_in"]) == {"age-gender for the CelebA ConvNeXt"}
    assert set(beside.loc[beside["ours"].isna(), "stand_in"]) == {""}
