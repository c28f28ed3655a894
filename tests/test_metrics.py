"""The paper's metrics on small hand-made cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ganon.evaluation.metrics import (
    attribute_removal,
    classification_report_table,
    confusion,
    mean_distance_table,
    multilabel_confusion,
    probability_distances,
)
from ganon.evaluation.reference import paper_table
from ganon.evaluation.stats import compare_methods

EMOTIONS = ["Happy", "Sad", "Fear"]


def test_probability_distances_per_image_and_class() -> None:
    p_orig = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    p_anon = [[0.5, 0.4, 0.1], [0.1, 0.6, 0.3]]
    frame = probability_distances(p_orig, p_anon, EMOTIONS, image_ids=["a.jpg", "b.jpg"],
                                  labels={"dataset": "CK+", "method": "CIAGAN"})  # fmt: skip
    assert list(frame.columns) == ["dataset", "method", "image_id", "emotion", "p_original", "p_anonymized",
                                   "distance"]  # fmt: skip
    assert list(frame["image_id"]) == ["a.jpg"] * 3 + ["b.jpg"] * 3
    assert list(frame["emotion"]) == EMOTIONS * 2
    np.testing.assert_allclose(frame["distance"], [0.2, 0.2, 0.0, 0.0, 0.5, 0.5])
    assert set(frame["dataset"]) == {"CK+"} and set(frame["method"]) == {"CIAGAN"}


def test_probability_distances_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        probability_distances([[0.5, 0.5]], [[0.5, 0.5]], EMOTIONS)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        probability_distances([[1.2, 0.0, 0.0]], [[1.0, 0.0, 0.0]], EMOTIONS)
    with pytest.raises(ValueError, match="differ"):
        probability_distances([[1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]] * 2, EMOTIONS)
    with pytest.raises(ValueError, match="NaN"):
        probability_distances([[np.nan, 0.0, 0.0]], [[1.0, 0.0, 0.0]], EMOTIONS)


def test_mean_distance_table_has_table2_layout() -> None:
    original = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    frames = [
        probability_distances(original, [[0.5, 0.4, 0.1], [0.1, 0.6, 0.3]], EMOTIONS,
                              labels={"dataset": "X", "method": "GANonymization"}),
        probability_distances(original, [[0.0, 0.0, 1.0], [0.1, 0.1, 0.8]], EMOTIONS,
                              labels={"dataset": "X", "method": "DeepPrivacy2"}),
    ]  # fmt: skip
    table = mean_distance_table(pd.concat(frames, ignore_index=True))
    assert list(table.columns) == ["dataset", "emotion", "method", "mean_probability_distance", "n"]
    first_two = list(zip(table.emotion, table.method))[:2]
    assert first_two == [("Happy", "GANonymization"), ("Happy", "DeepPrivacy2")]
    lookup = table.set_index(["emotion", "method"])["mean_probability_distance"]
    assert lookup[("Happy", "GANonymization")] == pytest.approx(0.1)
    assert lookup[("Sad", "GANonymization")] == pytest.approx(0.35)
    assert lookup[("Fear", "DeepPrivacy2")] == pytest.approx(0.45)
    assert set(table["n"]) == {2}


def test_distances_feed_the_wilcoxon_comparison() -> None:
    """End to end on a hand-made case: a method that changes nothing is never worse than one that does."""
    rng = np.random.default_rng(0)
    p_orig = rng.dirichlet(np.ones(3), size=40)
    noisy = rng.dirichlet(np.ones(3), size=40)
    frames = [
        probability_distances(p_orig, p_orig, EMOTIONS, labels={"dataset": "D", "method": "GANonymization"}),
        probability_distances(p_orig, noisy, EMOTIONS, labels={"dataset": "D", "method": "DeepPrivacy2"}),
    ]
    table = compare_methods(pd.concat(frames, ignore_index=True))
    assert len(table) == 3 and (table["N"] == 40).all()
    assert (table["mean_difference"] < 0).all() and (table["p"] < 1e-6).all()
    assert (table["stars"] == "***").all()


def test_attribute_removal_counts_and_fractions() -> None:
    attributes = ["Bald", "Smiling", "Eyeglasses", "Young"]
    original = np.array([
        [0.9, 0.8, 0.2, 0.50],   # Young exactly 0.5 is NOT present (strict > 0.5)
        [0.7, 0.6, 0.1, 0.51],
        [0.6, 0.4, 0.3, 0.90],
        [0.2, 0.9, 0.4, 0.70],
    ])  # fmt: skip
    anonymized = np.array([
        [0.1, 0.9, 0.9, 0.9],
        [0.5, 0.7, 0.1, 0.2],    # Bald at exactly 0.5 counts as removed
        [0.3, 0.9, 0.1, 0.8],
        [0.9, 0.4, 0.1, 0.6],
    ])  # fmt: skip
    table = attribute_removal(original, anonymized, attributes)
    assert list(table.columns) == ["attribute", "n_present", "n_removed", "removed_fraction"]
    rows = table.set_index("attribute")
    assert tuple(rows.loc["Bald"]) == (3, 3, 1.0)
    assert tuple(rows.loc["Smiling"][["n_present", "n_removed"]]) == (3, 1)
    assert rows.loc["Smiling", "removed_fraction"] == pytest.approx(1 / 3)
    assert tuple(rows.loc["Young"][["n_present", "n_removed"]]) == (3, 1)
    assert rows.loc["Eyeglasses", "n_present"] == 0 and math.isnan(rows.loc["Eyeglasses", "removed_fraction"])
    # sorted like Table 6: descending, stable for ties, undefined last
    assert list(table["attribute"]) == ["Bald", "Smiling", "Young", "Eyeglasses"]
    unsorted = attribute_removal(original, anonymized, attributes, sort=False)
    assert list(unsorted["attribute"]) == attributes
    higher = attribute_removal(original, anonymized, attributes, threshold=0.65).set_index("attribute")
    assert tuple(higher.loc["Bald"][["n_present", "n_removed"]]) == (2, 2)


def test_classification_report_multiclass_known_values() -> None:
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0, 0]  # class 2 never predicted
    table = classification_report_table(y_true, y_pred, [0, 1, 2], target_names=["Anger", "Happy", "Fear"])
    assert list(table.columns) == ["class", "precision", "recall", "f1", "support"]
    assert list(table["class"]) == ["Anger", "Happy", "Fear", "accuracy", "macro avg", "weighted avg"]
    rows = table.set_index("class")
    # Anger: tp 1, predicted 3, true 2 -> P 1/3, R 1/2, F1 0.4
    assert tuple(rows.loc["Anger", ["precision", "recall", "f1"]]) == pytest.approx((1 / 3, 0.5, 0.4))
    # Happy: tp 2, predicted 3, true 3 -> P = R = F1 = 2/3
    assert tuple(rows.loc["Happy", ["precision", "recall", "f1"]]) == pytest.approx((2 / 3,) * 3)
    assert tuple(rows.loc["Fear", ["precision", "recall", "f1"]]) == (0.0, 0.0, 0.0)  # zero_division
    assert math.isnan(rows.loc["accuracy", "precision"]) and rows.loc["accuracy", "f1"] == pytest.approx(0.5)
    assert rows.loc["accuracy", "support"] == 6
    assert rows.loc["macro avg", "f1"] == pytest.approx((0.4 + 2 / 3 + 0) / 3)
    assert rows.loc["weighted avg", "f1"] == pytest.approx((2 * 0.4 + 3 * 2 / 3) / 6)
    assert list(table["support"]) == [2, 3, 1, 6, 6, 6]


def test_classification_report_layout_matches_table4() -> None:
    paper = paper_table("table4")
    ck = paper[(paper.dataset == "CK+") & (paper.train_data == "Original")]
    names = list(ck["class"][:7])
    rng = np.random.default_rng(2)
    y = rng.integers(0, 7, 68)
    ours = classification_report_table(y, y, list(range(7)), target_names=names)
    assert list(ours["class"]) == list(ck["class"])
    assert list(ours.columns) == ["class", *paper.columns[3:]]


def test_classification_report_multilabel_matches_table5_rows() -> None:
    y_true = np.array([[1, 0], [1, 1], [0, 1]])
    y_pred = np.array([[1, 0], [0, 1], [0, 0]])
    table = classification_report_table(y_true, y_pred, ["Bald", "Smiling"])
    summary = ["micro avg", "macro avg", "weighted avg", "samples avg"]
    assert list(table["class"]) == ["Bald", "Smiling", *summary]
    rows = table.set_index("class")
    assert tuple(rows.loc["Bald"]) == pytest.approx((1.0, 0.5, 2 / 3, 2))
    assert rows.loc["micro avg", "support"] == 4
    # samples avg precision: per image 1, 1, and 0 for the image without predictions
    assert rows.loc["samples avg", "precision"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="labels"):
        classification_report_table(y_true, y_pred, ["Bald"])


def test_confusion_counts_normalised_and_tidy() -> None:
    y_true = ["Happy", "Happy", "Sad", "Sad", "Sad"]
    y_pred = ["Happy", "Sad", "Sad", "Sad", "Happy"]
    counts = confusion(y_true, y_pred, ["Happy", "Sad", "Fear"])
    assert counts.index.name == "true" and counts.columns.name == "predicted"
    assert counts.loc["Happy"].tolist() == [1, 1, 0]
    assert counts.loc["Sad"].tolist() == [1, 2, 0]
    assert counts.loc["Fear"].tolist() == [0, 0, 0]
    rates = confusion(y_true, y_pred, ["Happy", "Sad", "Fear"], normalize="true")
    np.testing.assert_allclose(rates.loc["Sad"], [1 / 3, 2 / 3, 0])
    assert rates.loc["Fear"].sum() == 0  # no samples of Fear: a row of zeros, as scikit-learn does
    long = confusion([0, 1], [1, 1], [0, 1], target_names=["a", "b"], tidy=True)
    assert list(long.columns) == ["true", "predicted", "value"]
    assert long.set_index(["true", "predicted"])["value"].to_dict() == {
        ("a", "a"): 0, ("a", "b"): 1, ("b", "a"): 0, ("b", "b"): 1}  # fmt: skip


def test_report_of_a_single_attribute_column_describes_the_attribute_not_its_absence() -> None:
    truth = np.array([[1], [1], [0], [0], [1]])
    pred = np.array([[1], [0], [0], [0], [1]])
    row = classification_report_table(truth, pred, ["Smiling"]).set_index("class").loc["Smiling"]
    assert row["support"] == 3 and row["precision"] == 1.0 and row["recall"] == pytest.approx(2 / 3)


# Four images, three attributes; per attribute (tn, fp, fn, tp) by hand:
# Bald (1, 1, 1, 1), Smiling (2, 0, 1, 1), Eyeglasses (3, 1, 0, 0: never truly present).
ML_TRUE = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]])
ML_PRED = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])
ML_ATTRIBUTES = ["Bald", "Smiling", "Eyeglasses"]


def test_multilabel_confusion_counts_per_attribute() -> None:
    long = multilabel_confusion(ML_TRUE, ML_PRED, ML_ATTRIBUTES)
    assert list(long.columns) == ["attribute", "true", "predicted", "value"]
    assert len(long) == 12 and list(long["attribute"][:4]) == ["Bald"] * 4
    cells = [("absent", "absent"), ("absent", "present"), ("present", "absent"), ("present", "present")]
    assert list(zip(long["true"], long["predicted"])) == cells * 3
    # (tn, fp, fn, tp) per attribute, in attribute order
    assert long["value"].tolist() == [1, 1, 1, 1, 2, 0, 1, 1, 3, 1, 0, 0]
    assert long.groupby("attribute", sort=False)["value"].sum().tolist() == [4, 4, 4]  # every image once


def test_multilabel_confusion_normalised_by_true_row() -> None:
    wide = multilabel_confusion(ML_TRUE, ML_PRED, ML_ATTRIBUTES, normalize="true", tidy=False)
    assert wide.index.names == ["attribute", "true"] and wide.columns.name == "predicted"
    assert list(wide.columns) == ["absent", "present"]
    np.testing.assert_allclose(wide.loc[("Smiling", "absent")], [1.0, 0.0])
    np.testing.assert_allclose(wide.loc[("Smiling", "present")], [0.5, 0.5])
    np.testing.assert_allclose(wide.loc[("Eyeglasses", "absent")], [0.75, 0.25])
    np.testing.assert_allclose(wide.loc[("Eyeglasses", "present")], [0.0, 0.0])  # no such image: zeros
    everything = multilabel_confusion(ML_TRUE, ML_PRED, ML_ATTRIBUTES, normalize="all", tidy=False)
    np.testing.assert_allclose(everything.loc["Smiling"].to_numpy(), [[0.5, 0.0], [0.25, 0.25]])
    by_prediction = multilabel_confusion(ML_TRUE, ML_PRED, ML_ATTRIBUTES, normalize="pred", tidy=False)
    np.testing.assert_allclose(by_prediction.loc["Smiling"].to_numpy(), [[2 / 3, 0.0], [1 / 3, 1.0]])
    tidy = multilabel_confusion(ML_TRUE, ML_PRED, ML_ATTRIBUTES, normalize="true")
    assert tidy.set_index(["attribute", "true", "predicted"])["value"]["Bald", "present", "absent"] == 0.5


def test_multilabel_confusion_single_attribute_and_bad_input() -> None:
    one = multilabel_confusion([[1], [1], [0]], [[1], [0], [0]], ["Smiling"], tidy=False)
    assert one.to_numpy().tolist() == [[1, 0], [1, 1]]  # a lone column is still one attribute
    boolean = multilabel_confusion(ML_TRUE.astype(bool), ML_PRED.astype(bool), ML_ATTRIBUTES)
    assert boolean["value"].tolist() == [1, 1, 1, 1, 2, 0, 1, 1, 3, 1, 0, 0]
    with pytest.raises(ValueError, match="differ"):
        multilabel_confusion(ML_TRUE, ML_PRED[:2], ML_ATTRIBUTES)
    with pytest.raises(ValueError, match="shape"):
        multilabel_confusion(ML_TRUE, ML_PRED, ML_ATTRIBUTES[:2])
    with pytest.raises(ValueError, match="0/1"):
        multilabel_confusion(ML_TRUE * 2, ML_PRED, ML_ATTRIBUTES)
    with pytest.raises(ValueError, match="normalize"):
        multilabel_confusion(ML_TRUE, ML_PRED, ML_ATTRIBUTES, normalize="rows")  # type: ignore[arg-type]
