"""Which facial attributes anonymization removes (Section 4.3): Table 6 and Figure 9, and Table 5.

An attribute classifier (the paper: a 40-attribute CelebA ConvNeXt; offline: dlib's age and gender
networks as ``Male`` and ``Young``) predicts every attribute on the original crop and on each
method's anonymized version. Among the originals where an attribute is detected (p > 0.5), Table 6
gives the fraction whose anonymized version no longer shows it. When ground-truth labels exist, the
classifier's own report against them (Table 5's layout) says how far its detections can be trusted.

``AttributeRemovalEvaluation`` is configured once and holds no state between runs; ``run`` returns an
``AttributeResult`` from which every table is derived.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ganon.backends.attributes import AttributeModel
from ganon.evaluation.figures import attribute_removal_bars
from ganon.evaluation.identity import ImagePair, Pairing
from ganon.evaluation.metrics import PRESENCE_THRESHOLD, attribute_removal, classification_report_table
from ganon.evaluation.paired import ORIGINAL, FaceCheck, build_face_check, pairs_of, predict_pairs

__all__ = [
    "PREDICTION_COLUMNS",
    "AttributeRemovalEvaluation",
    "AttributeResult",
    "paper_attribute_name",
]

logger = logging.getLogger(__name__)

#: Columns of the tidy per-image, per-attribute prediction table.
PREDICTION_COLUMNS = ("method", "image_id", "attribute", "p_original", "p_anonymized", "present_original",
                      "present_anonymized")  # fmt: skip


def paper_attribute_name(name: str) -> str:
    """Tables 5 and 6 print CelebA's names with spaces: ``"5_o_Clock_Shadow"`` -> ``"5 o Clock Shadow"``."""
    return name.replace("_", " ")


@dataclass(frozen=True)
class AttributeResult:
    """Predictions of one run; ``predictions`` has ``PREDICTION_COLUMNS``, ``images`` one row per pair."""

    model: str
    attributes: tuple[str, ...]
    threshold: float
    predictions: pd.DataFrame
    images: pd.DataFrame

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(self.images["method"]))

    def _matrix(self, method: str | None, column: str) -> tuple[list[str], np.ndarray]:
        """(image ids, images x attributes) of one method; ``None``: every original once."""
        if method is None:
            part = self.predictions.drop_duplicates(["image_id", "attribute"])
        else:
            part = self.predictions[self.predictions["method"] == method]
        wide = part.pivot(index="image_id", columns="attribute", values=column)
        wide = wide.reindex(columns=list(self.attributes)).loc[list(dict.fromkeys(part["image_id"]))]
        return list(wide.index), wide.to_numpy(dtype=float)

    def counts(self) -> pd.DataFrame:
        """Per method: pairs given, measured, unreadable, and face-check misses on either side."""
        rows = []
        for method, group in self.images.groupby("method", sort=False):
            rows.append({
                "method": method, "pairs": len(group),
                "measured": int((group["status"] == "measured").sum()),
                "unreadable": int((group["status"] == "unreadable").sum()),
                "dropped_no_face": int((group["status"] == "no_face").sum()),
                "no_face_original": int((group["face_original"] == False).sum()),  # noqa: E712
                "no_face_anonymized": int((group["face_anonymized"] == False).sum()),  # noqa: E712
            })  # fmt: skip
        return pd.DataFrame(rows)

    def removal(self, method: str | None = None) -> pd.DataFrame:
        """Table 6 (``attribute, n_present, n_removed, removed_fraction``, descending) for one method,
        or for every method with a leading ``method`` column when ``method`` is None."""
        methods = self.methods if method is None else [method]
        frames = []
        for name in methods:
            if name not in self.methods:
                raise KeyError(f"unknown method {name!r}; have {self.methods}")
            _, original = self._matrix(name, "p_original")
            _, anonymized = self._matrix(name, "p_anonymized")
            table = attribute_removal(original, anonymized, self.attributes, threshold=self.threshold)
            frames.append(table if method is not None else table.assign(method=name))
        if method is not None:
            return frames[0]
        table = pd.concat(frames, ignore_index=True)
        return table[["method", *[c for c in table.columns if c != "method"]]]

    def table6(self, method: str = "GANonymization") -> pd.DataFrame:
        """Table 6 as the paper prints it (one method, ``attribute, removed_fraction`` plus counts)."""
        return self.removal(method)

    def figure9(self, method: str = "GANonymization") -> Figure:
        """Figure 9: how often each detected attribute is removed by ``method``, largest on top."""
        return attribute_removal_bars(self.removal(method).dropna(subset=["removed_fraction"]))

    def report(self, labels: pd.DataFrame, *, on: str | None = None) -> pd.DataFrame:
        """The classifier against ground truth in Table 5's layout, per evaluated image set.

        ``labels`` is indexed by ``image_id`` with a 0/1 (or CelebA -1/1) column per labelled attribute
        (paper or CelebA spelling); attributes without a column are left out. Returns ``evaluated_on, attribute, precision, recall, f1, support``
        for the originals (``"Original"``) and each method's anonymized images (``on`` picks one).
        Only images with a label row count.
        """
        truth = labels.rename(columns=paper_attribute_name)
        attributes = [a for a in self.attributes if a in truth.columns]
        if not attributes:
            raise KeyError(f"labels have none of the attributes {list(self.attributes)}; "
                           f"their columns: {list(labels.columns)}")  # fmt: skip
        truth = truth[attributes].replace(-1, 0)
        truth.index = truth.index.astype(str)
        frames = []
        sets = [(ORIGINAL, None, "p_original")] + [(m, m, "p_anonymized") for m in self.methods]
        for name, method, column in sets:
            if on is not None and name != on:
                continue
            ids, probabilities = self._matrix(method, column)
            keep = [i for i, image_id in enumerate(ids) if image_id in truth.index]
            if not keep:
                continue
            columns = [self.attributes.index(a) for a in attributes]
            y_true = truth.loc[[ids[i] for i in keep]].to_numpy(dtype=int)
            y_pred = (probabilities[np.ix_(keep, columns)] > self.threshold).astype(int)
            if len(attributes) == 1:
                # scikit-learn reads a one-column indicator matrix as binary labels and would report
                # the absent class under the attribute's name; as 1-D labels, 1 is the positive class.
                table = classification_report_table(y_true[:, 0], y_pred[:, 0], [1], target_names=attributes)
            else:
                table = classification_report_table(y_true, y_pred, attributes)
            frames.append(table.rename(columns={"class": "attribute"}).assign(evaluated_on=name))
        if not frames:
            raise ValueError("no evaluated image has a label row (labels are matched on image_id)")
        table = pd.concat(frames, ignore_index=True)
        return table[["evaluated_on", *[c for c in table.columns if c != "evaluated_on"]]]


class AttributeRemovalEvaluation:
    """Predicts attributes on original/anonymized pairs with an ``AttributeModel`` (Section 4.3.3).

    ``threshold`` is the paper's "> 0.5" for an attribute to be present. ``attribute_names`` ``"paper"``
    prints CelebA's names with spaces as Tables 5 and 6 do. ``face_check`` and ``drop_no_face`` work
    as in :class:`ganon.evaluation.expression.ExpressionEvaluation`.
    """

    def __init__(
        self,
        model: AttributeModel,
        *,
        threshold: float = PRESENCE_THRESHOLD,
        attribute_names: str = "paper",
        face_check: str | FaceCheck | None = None,
        drop_no_face: bool = False,
        batch_size: int = 32,
        progress: bool = False,
    ) -> None:
        if attribute_names not in ("paper", "model"):
            raise ValueError(f"attribute_names must be 'paper' or 'model', got {attribute_names!r}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
        if drop_no_face and face_check is None:
            raise ValueError("drop_no_face needs a face_check")
        self.model = model
        self.threshold = threshold
        self.attribute_names = attribute_names
        self.face_check = face_check
        self.drop_no_face = drop_no_face
        self.batch_size = batch_size
        self.progress = progress

    def run(self, pairs: Mapping[str, Pairing | Iterable[ImagePair]]) -> AttributeResult:
        """Predict every original once and every anonymized file, and tabulate both sides."""
        by_method = {method: pairs_of(p) for method, p in pairs.items()}
        if not by_method or not any(by_method.values()):
            raise ValueError("no pairs to evaluate: give at least one method with (original, anonymized) pairs")
        names = [paper_attribute_name(a) if self.attribute_names == "paper" else a for a in self.model.attributes]
        check = build_face_check(self.face_check) if isinstance(self.face_check, str) else self.face_check
        options: dict[str, Any] = dict(batch_size=self.batch_size, face_check=check, progress=self.progress)
        frames, image_rows = [], []
        for method, rows in predict_pairs(by_method, self.model.predict_proba, drop_no_face=self.drop_no_face,
                                          **options).items():
            for row in rows:
                image_rows.append(row.record())
                if row.status == "measured":
                    p_o, p_a = np.clip(row.p_original, 0.0, 1.0), np.clip(row.p_anonymized, 0.0, 1.0)
                    frames.append(pd.DataFrame({
                        "method": method, "image_id": row.pair.rel, "attribute": names,
                        "p_original": p_o, "p_anonymized": p_a,
                        "present_original": p_o > self.threshold, "present_anonymized": p_a > self.threshold,
                    }))  # fmt: skip
        images = pd.DataFrame(image_rows)
        if not frames:
            raise ValueError(f"none of the {len(images)} pairs could be measured: "
                             f"{images['status'].value_counts().to_dict()}")  # fmt: skip
        predictions = pd.concat(frames, ignore_index=True)[list(PREDICTION_COLUMNS)]
        return AttributeResult(getattr(self.model, "name", type(self.model).__name__), tuple(names),
                               self.threshold, predictions, images)  # fmt: skip
