"""The paper's evaluation metrics as pure functions on arrays, returning tidy DataFrames.

Inference scenario (Sec. 4.2.3): per image and class, |p_anonymized - p_original| of the emotion
classifier, averaged per class (Table 2 / Figure 7). Training scenario: classification reports and
confusion matrices (Tables 4-5, Figures 10-11). Attribute analysis (Sec. 4.3.3): among images whose
attribute is detected on the original (p > 0.5), the fraction whose anonymized version loses it
(Table 6 / Figure 9). No function keeps state; scikit-learn computes the reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "attribute_removal",
    "classification_report_table",
    "confusion",
    "mean_distance_table",
    "multilabel_confusion",
    "probability_distances",
]

#: Sec. 4.3.3: an attribute counts as present when its sigmoid probability is > 0.5.
PRESENCE_THRESHOLD = 0.5
#: Names of the two outcomes in a per-attribute (multi-label) confusion matrix, index 0 then 1.
PRESENCE_NAMES = ("absent", "present")
#: Axes of a (k, 2, 2) stack of confusion matrices (true rows, predicted columns) each normalisation sums.
_NORMALIZE_AXES = {"true": (2,), "pred": (1,), "all": (1, 2)}


def _probabilities(values: ArrayLike, name: str, n_classes: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[1] != n_classes:
        raise ValueError(f"{name} must have shape (n_images, {n_classes}), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if array.size and (array.min() < 0 or array.max() > 1):
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    return array


def probability_distances(
    p_original: ArrayLike,
    p_anonymized: ArrayLike,
    classes: Sequence[str],
    *,
    image_ids: Sequence[object] | None = None,
    class_column: str = "emotion",
    labels: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Per image and class: ``distance = |p_anonymized - p_original|`` (the Table 2 quantity).

    ``p_*`` have shape (n_images, n_classes) with rows aligned by image. Returns one row per image
    and class with columns ``image_id``, ``class_column``, ``p_original``, ``p_anonymized``,
    ``distance``, preceded by constant columns from ``labels`` (e.g. ``{"dataset": "CK+",
    "method": "CIAGAN"}``) so several calls can be concatenated.
    """
    original = _probabilities(p_original, "p_original", len(classes))
    anonymized = _probabilities(p_anonymized, "p_anonymized", len(classes))
    if original.shape != anonymized.shape:
        raise ValueError(f"p_original {original.shape} and p_anonymized {anonymized.shape} differ")
    n_images = original.shape[0]
    ids = np.arange(n_images) if image_ids is None else np.asarray(image_ids, dtype=object)
    if len(ids) != n_images:
        raise ValueError(f"{len(ids)} image_ids for {n_images} images")
    frame = pd.DataFrame({
        "image_id": np.repeat(ids, len(classes)),
        class_column: np.tile(np.asarray(classes, dtype=object), n_images),
        "p_original": original.ravel(),
        "p_anonymized": anonymized.ravel(),
        "distance": np.abs(anonymized - original).ravel(),
    })  # fmt: skip
    for position, (column, value) in enumerate((labels or {}).items()):
        frame.insert(position, column, value)
    return frame


def mean_distance_table(
    distances: pd.DataFrame,
    *,
    by: Sequence[str] = ("dataset", "emotion", "method"),
    value: str = "distance",
) -> pd.DataFrame:
    """Table 2 layout: mean of ``value`` and its count per group.

    Rows are ordered key by key in first-seen order (all methods of an emotion together), as printed.
    """
    grouped = distances.groupby(list(by), sort=False)[value]
    table = grouped.agg(mean_probability_distance="mean", n="count").reset_index()
    rank = {key: {v: i for i, v in enumerate(dict.fromkeys(distances[key]))} for key in by}
    order = table[list(by)].apply(lambda column: column.map(rank[column.name]))
    table = table.loc[order.sort_values(list(by), kind="stable").index]
    return table.astype({"n": "int64"}).reset_index(drop=True)


def attribute_removal(
    pred_original: ArrayLike,
    pred_anonymized: ArrayLike,
    attributes: Sequence[str],
    *,
    threshold: float = PRESENCE_THRESHOLD,
    sort: bool = True,
) -> pd.DataFrame:
    """Table 6: per attribute, how often a detected attribute is gone after anonymization.

    An attribute is present when its probability is strictly above ``threshold`` (the paper's
    "> 0.5"). Among the ``n_present`` images with it present on the original, ``n_removed`` have it
    absent (<= threshold) on the anonymized version; ``removed_fraction = n_removed / n_present``
    (NaN when ``n_present`` is 0). ``sort`` orders by descending fraction as Table 6 and Figure 9 do
    (stable, so ties keep the attribute order).
    """
    original = _probabilities(pred_original, "pred_original", len(attributes))
    anonymized = _probabilities(pred_anonymized, "pred_anonymized", len(attributes))
    if original.shape != anonymized.shape:
        raise ValueError(f"pred_original {original.shape} and pred_anonymized {anonymized.shape} differ")
    present = original > threshold
    removed = present & (anonymized <= threshold)
    n_present = present.sum(axis=0)
    n_removed = removed.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(n_present > 0, n_removed / np.maximum(n_present, 1), np.nan)
    table = pd.DataFrame({
        "attribute": list(attributes),
        "n_present": n_present.astype("int64"),
        "n_removed": n_removed.astype("int64"),
        "removed_fraction": fraction,
    })  # fmt: skip
    if sort:
        table = table.sort_values("removed_fraction", ascending=False, kind="stable", na_position="last")
    return table.reset_index(drop=True)


def classification_report_table(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    labels: Sequence[object],
    *,
    target_names: Sequence[str] | None = None,
    zero_division: float = 0.0,
) -> pd.DataFrame:
    """scikit-learn's classification report as Table 4/5 rows: ``class, precision, recall, f1, support``.

    Multi-class: ``y_*`` are 1-D label arrays and ``labels`` the label values in report order
    (``target_names`` renames them). Multi-label (Table 5): ``y_*`` are (n, k) 0/1 indicator arrays
    and ``labels`` names the k columns. After the class rows come sklearn's summary rows: multi-class
    gets ``accuracy`` (only ``f1`` = accuracy and ``support`` filled, as in the paper), ``macro avg``
    and ``weighted avg``; multi-label gets ``micro avg``, ``macro avg``, ``weighted avg`` and
    ``samples avg``. Undefined precision/recall (no predictions/no support) become ``zero_division``.
    """
    from sklearn.metrics import classification_report

    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    if truth.shape != pred.shape:
        raise ValueError(f"y_true {truth.shape} and y_pred {pred.shape} differ")
    if truth.ndim == 2:
        if truth.shape[1] != len(labels):
            raise ValueError(f"{truth.shape[1]} indicator columns but {len(labels)} labels")
        names = [str(label) for label in labels]
        report_labels: list[object] | None = list(range(len(labels)))
        if truth.shape[1] == 1:  # sklearn reads one indicator column as binary: report its "present" class
            truth, pred, report_labels = truth[:, 0], pred[:, 0], [1]
    else:
        names = [str(n) for n in (target_names if target_names is not None else labels)]
        report_labels = list(labels)
    if len(names) != len(report_labels):
        raise ValueError(f"{len(names)} target_names for {len(report_labels)} labels")
    report = classification_report(
        truth, pred, labels=report_labels, target_names=names, output_dict=True, zero_division=zero_division
    )
    rows: list[dict[str, object]] = []
    for key, entry in report.items():
        if key == "accuracy":
            rows.append({"class": key, "precision": np.nan, "recall": np.nan, "f1": float(entry),
                         "support": int(len(truth))})  # fmt: skip
        else:
            rows.append({"class": key, "precision": entry["precision"], "recall": entry["recall"],
                         "f1": entry["f1-score"], "support": int(entry["support"])})  # fmt: skip
    return pd.DataFrame(rows).astype({"precision": float, "recall": float, "f1": float, "support": "int64"})


def confusion(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    labels: Sequence[object],
    *,
    target_names: Sequence[str] | None = None,
    normalize: Literal["true", "pred", "all"] | None = None,
    tidy: bool = False,
) -> pd.DataFrame:
    """Confusion matrix with true labels as rows (index ``true``) and predictions as columns.

    ``normalize="true"`` divides each row by its count (rows of a class without samples become 0,
    as in scikit-learn). ``tidy=True`` returns long form ``true, predicted, value`` for plotting.
    """
    from sklearn.metrics import confusion_matrix

    names = [str(n) for n in (target_names if target_names is not None else labels)]
    if len(names) != len(labels):
        raise ValueError(f"{len(names)} target_names for {len(labels)} labels")
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    matrix = confusion_matrix(truth, pred, labels=list(labels), normalize=normalize)
    frame = pd.DataFrame(
        matrix, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted")
    )
    if not tidy:
        return frame
    return frame.stack().rename("value").reset_index()


def multilabel_confusion(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    attributes: Sequence[str],
    *,
    normalize: Literal["true", "pred", "all"] | None = None,
    tidy: bool = True,
) -> pd.DataFrame:
    """Figure 11: one 2x2 confusion matrix (absent/present) per attribute of a multi-label classifier.

    ``y_*`` are (n, k) 0/1 indicator arrays whose k columns are ``attributes``. ``normalize="true"``
    divides each true row of a matrix by its count (a row without samples becomes 0, as in
    scikit-learn); ``"pred"`` and ``"all"`` divide by column and matrix totals. ``tidy=True`` returns
    long form ``attribute, true, predicted, value`` (true/predicted are ``"absent"``/``"present"``);
    ``tidy=False`` a wide frame indexed by ``(attribute, true)`` with one column per prediction.
    """
    from sklearn.metrics import multilabel_confusion_matrix

    if normalize is not None and normalize not in _NORMALIZE_AXES:
        raise ValueError(f"normalize must be one of {sorted(_NORMALIZE_AXES)} or None, got {normalize!r}")
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    if truth.shape != pred.shape:
        raise ValueError(f"y_true {truth.shape} and y_pred {pred.shape} differ")
    if truth.ndim != 2 or truth.shape[1] != len(attributes):
        raise ValueError(f"y_true must have shape (n_images, {len(attributes)}), got {truth.shape}")
    for name, array in (("y_true", truth), ("y_pred", pred)):
        if not np.isin(array, (0, 1)).all():
            raise ValueError(f"{name} must hold 0/1 indicators")
    truth, pred = truth.astype(np.int64), pred.astype(np.int64)
    # Column by column with labels=[1]: sklearn reads a lone indicator column as binary, not multi-label.
    per_attribute = [multilabel_confusion_matrix(truth[:, j], pred[:, j], labels=[1])[0]
                     for j in range(truth.shape[1])]
    matrices = np.stack(per_attribute) if per_attribute else np.zeros((0, 2, 2), dtype=np.int64)
    if normalize is not None:
        totals = matrices.sum(axis=_NORMALIZE_AXES[normalize], keepdims=True)
        matrices = np.where(totals > 0, matrices / np.maximum(totals, 1), 0.0)
    names = [str(a) for a in attributes]
    index = pd.MultiIndex.from_product([names, PRESENCE_NAMES], names=["attribute", "true"])
    frame = pd.DataFrame(matrices.reshape(-1, 2), index=index,
                         columns=pd.Index(PRESENCE_NAMES, name="predicted"))  # fmt: skip
    if not tidy:
        return frame
    return frame.stack().rename("value").reset_index()
