"""The paper's tables load with the expected shape, types and known values."""

from __future__ import annotations

import math

import pytest

from ganon.evaluation.reference import TABLES, headline_number, paper_table, parse_p
from ganon.registry import UnknownNameError

SHAPES = {
    "table1": (8, 4),  # method, kernel, cosine_distance + label
    "table2": (63, 4),
    "table3": (42, 10),
    "table4": (120, 7),
    "table5": (176, 6),
    "table6": (40, 3),  # attribute, removed_fraction + label_inferred
    "headline": (101, 4),
}


@pytest.mark.parametrize(("name", "shape"), SHAPES.items())
def test_every_table_loads_with_its_shape(name: str, shape: tuple[int, int]) -> None:
    table = paper_table(name)
    assert table.shape == shape
    spec = TABLES.get(name)
    assert set(spec.keys) <= set(table.columns)
    assert not table.duplicated(list(spec.keys)).any()


def test_registry_lists_all_tables_and_rejects_unknown_names() -> None:
    assert TABLES.names() == sorted(SHAPES)
    with pytest.raises(UnknownNameError, match="table7"):
        paper_table("table7")


def test_table1_known_values() -> None:
    t1 = paper_table("table1").set_index("label")["cosine_distance"]
    assert t1["GANonymization"] == 0.7145
    assert t1["Pixelation 16x16"] == 0.6651 and t1["Blur 9x9"] == 0.0102
    assert t1["Original"] == 0.0
    assert sorted(t1[t1 > 0.3].index) == sorted(
        ["GANonymization", "DeepPrivacy2", "CIAGAN", "Pixelation 8x8", "Pixelation 16x16"]
    )


def test_printed_strings_keep_trailing_zeros() -> None:
    printed = paper_table("table1", printed=True)
    assert list(printed["cosine_distance"])[:4] == ["0.0000", "0.7145", "0.8119", "0.9280"]
    assert printed.loc[0, "kernel"] == ""
    t3 = paper_table("table3", printed=True)
    assert t3.loc[3, "p"] == "1.000"


def test_table2_counts_and_values() -> None:
    t2 = paper_table("table2")
    assert t2.groupby("dataset", sort=False).size().to_dict() == {"AffectNet": 24, "CK+": 21, "FACES": 18}
    assert set(t2["method"]) == {"GANonymization", "DeepPrivacy2", "CIAGAN"}
    value = t2.set_index(["dataset", "emotion", "method"])["mean_probability_distance"]
    assert value[("FACES", "Neutral", "DeepPrivacy2")] == 0.31
    assert value[("CK+", "Contempt", "CIAGAN")] == 0.04


def test_table3_p_values_are_parsed_with_bounds() -> None:
    t3 = paper_table("table3")
    first = t3.iloc[0]
    assert (first.p_printed, first.p, first.p_is_upper_bound, first.p_stars) == ("<0.001", 0.001, True, "***")
    neutral_cia = t3.iloc[1]
    assert (neutral_cia.p, neutral_cia.p_is_upper_bound, neutral_cia.p_stars) == (0.119, False, "")
    assert t3["N"].tolist().count(2744) == 16 and set(t3["N"]) == {2744, 68, 214}
    assert t3["Z"].max() < 0  # every printed Z is negative (two-sided -|z|)
    assert parse_p(" < 0.001") == (0.001, True)
    assert math.isnan(parse_p("")[0])


def test_table4_and_table5_supports() -> None:
    t4 = paper_table("table4")
    classes = t4[~t4["class"].isin(["accuracy", "macro avg", "weighted avg"]) & (t4.train_data == "Original")]
    assert classes.groupby("dataset", sort=False)["support"].sum().to_dict() == {
        "AffectNet": 2825, "CK+": 68, "FACES": 214}  # fmt: skip
    accuracy = t4[t4["class"] == "accuracy"]
    assert accuracy[["precision", "recall"]].isna().all().all()
    assert accuracy.set_index(["dataset", "train_data"]).loc[("AffectNet", "GANonymization"), "f1"] == 0.37
    t5 = paper_table("table5")
    attributes = t5[~t5["attribute"].str.endswith(" avg") & (t5.train_data == "Original")]
    assert len(attributes) == 40 and attributes["support"].sum() == 176143
    missing = t5[t5["f1"].isna()]
    assert list(zip(missing.attribute, missing.train_data)) == [("micro avg", "DeepPrivacy2")]


def test_table6_is_descending_with_inferred_last_label() -> None:
    t6 = paper_table("table6")
    assert t6["removed_fraction"].is_monotonic_decreasing
    assert t6.iloc[0].removed_fraction == 1.0 and t6.iloc[-1].attribute == "Young"
    assert t6["label_inferred"].tolist() == [False] * 39 + [True]
    assert set(t6["attribute"]) == set(paper_table("table5")["attribute"][:160])
    assert t6.set_index("attribute").loc["Male", "removed_fraction"] == 0.276199


def test_headline_numbers() -> None:
    assert headline_number("affectnet_val_images") == 2874
    assert headline_number("reidentification_cosine_threshold") == 0.3
    assert headline_number("stats_posthoc_test") == "Wilcoxon"
    table1 = paper_table("table1")["cosine_distance"]
    assert headline_number("text_cosine_distance_ganonymization") == table1[1]
    with pytest.raises(KeyError, match="nope"):
        headline_number("nope")
