"""Preserved emotional expressions, inference scenario (Section 4.2): Tables 2 and 3, Figure 7.

An emotion classifier trained on original faces predicts class probabilities for every original
crop and for each method's anonymized version of it; per image and class the distance
|p_anonymized - p_original| measures how much of the expression the method lost (Table 2 averages
it per class, Figure 7 draws the averages). Table 3 tests, per class, whether GANonymization's
distances differ from another method's (paired Wilcoxon, r = Z / sqrt(N), Bonferroni per dataset).

``ExpressionEvaluation`` is configured once and holds no state between runs; ``run`` returns an
``ExpressionResult`` whose methods derive every table from the one tidy distance table. Pairs that
cannot be measured (unreadable file; with ``drop_no_face``, no face found by the classifier's own
detector) are counted and listed, never silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ganon.backends.emotion import EmotionModel
from ganon.evaluation.figures import mean_distance_bars
from ganon.evaluation.identity import ImagePair, Pairing
from ganon.evaluation.metrics import mean_distance_table, probability_distances
from ganon.evaluation.paired import FaceCheck, build_face_check, pairs_of, predict_pairs
from ganon.evaluation.stats import compare_methods, shapiro_wilk

__all__ = [
    "DISTANCE_COLUMNS",
    "PAPER_EMOTION_NAMES",
    "PAPER_EMOTION_ORDER",
    "ExpressionEvaluation",
    "ExpressionResult",
    "paper_emotion_name",
]

logger = logging.getLogger(__name__)

#: Columns of the tidy per-image, per-class distance table.
DISTANCE_COLUMNS = ("method", "dataset", "emotion", "image_id", "p_original", "p_anonymized", "distance")

#: Table 2's row order of the emotions (AffectNet has all eight; CK+ and FACES a subset).
PAPER_EMOTION_ORDER = ("Neutral", "Anger", "Contempt", "Disgust", "Fear", "Happy", "Sadness", "Surprise")

#: Table 2's spelling for the names that classifiers (fer: FER2013) and dataset manifests use.
PAPER_EMOTION_NAMES: dict[str, str] = {
    "neutral": "Neutral",
    "anger": "Anger",
    "angry": "Anger",
    "contempt": "Contempt",
    "disgust": "Disgust",
    "fear": "Fear",
    "happy": "Happy",
    "happiness": "Happy",
    "sad": "Sadness",
    "sadness": "Sadness",
    "surprise": "Surprise",
}


def paper_emotion_name(name: str) -> str:
    """Table 2's spelling of a class name (``"angry"`` -> ``"Anger"``); unknown names are kept."""
    return PAPER_EMOTION_NAMES.get(name.strip().lower(), name)


@dataclass(frozen=True)
class ExpressionResult:
    """The distances of one run and every table derived from them.

    ``distances`` has ``DISTANCE_COLUMNS``; ``images`` has one row per (method, pair) with the files,
    ``status`` ("measured", "unreadable" or "no_face"), the face-check flags and the top class on
    each side.
    """

    dataset: str
    model: str
    reference: str
    classes: tuple[str, ...]
    distances: pd.DataFrame
    images: pd.DataFrame

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(self.images["method"]))

    def counts(self) -> pd.DataFrame:
        """Per method: pairs given, measured, unreadable, dropped for lack of a face, and face-check misses."""
        rows = []
        for method, group in self.images.groupby("method", sort=False):
            rows.append({
                "method": method,
                "pairs": len(group),
                "measured": int((group["status"] == "measured").sum()),
                "unreadable": int((group["status"] == "unreadable").sum()),
                "dropped_no_face": int((group["status"] == "no_face").sum()),
                "no_face_original": int((group["face_original"] == False).sum()),  # noqa: E712 (None = unchecked)
                "no_face_anonymized": int((group["face_anonymized"] == False).sum()),  # noqa: E712
                "top_class_changed": float((group["predicted_original"] != group["predicted_anonymized"])
                                           [group["status"] == "measured"].mean()),
            })  # fmt: skip
        return pd.DataFrame(rows)

    def table2(self) -> pd.DataFrame:
        """Table 2: ``dataset, emotion, method, mean_probability_distance, n``."""
        return mean_distance_table(self.distances)

    def normality(self, *, by: Sequence[str] = ("dataset", "emotion", "method")) -> pd.DataFrame:
        """Shapiro-Wilk on the distances of each group (the paper's reason for a rank test)."""
        rows = []
        for key, group in self.distances.groupby(list(by), sort=False):
            result = shapiro_wilk(group["distance"].to_numpy())
            rows.append({
                **dict(zip(by, key if isinstance(key, tuple) else (key,))),
                "W": result.statistic, "p": result.pvalue, "n": result.n,
                "normal_at_0.05": result.is_normal(), "notes": "; ".join(result.notes),
            })  # fmt: skip
        return pd.DataFrame(rows)

    def table3(self, *, others: Sequence[str] | None = None) -> pd.DataFrame:
        """Table 3: per dataset and emotion, Wilcoxon of the reference's distances against each other method.

        ``p`` is uncorrected (what the authors' script stored), ``p_bonferroni`` corrected per dataset;
        ``stars`` follow the corrected value, ``stars_uncorrected`` the printed convention.
        """
        if self.reference not in self.methods:
            raise ValueError(f"reference method {self.reference!r} is not among {self.methods}")
        return compare_methods(self.distances, reference=self.reference, others=others)

    def figure7(self, **options: Any) -> Figure:
        """Figure 7: mean distance per emotion and method (one panel per dataset; lower is better)."""
        return mean_distance_bars(self.table2(), **options)


class ExpressionEvaluation:
    """Measures how far each method moves an emotion classifier's probabilities (Section 4.2.3).

    ``model`` is an ``EmotionModel`` (``fer`` offline, or the paper's ConvNeXt from a checkpoint);
    it sees each whole aligned crop, as the paper's ConvNeXt did. ``face_check`` (a name from
    ``FACE_CHECKS`` or a callable) records whether the classifier's own detector would find a face;
    with ``drop_no_face`` pairs where either side has none are left out (and counted). ``class_names``
    ``"paper"`` renames classes to Table 2's spelling and order; ``"model"`` keeps the model's.
    """

    def __init__(
        self,
        model: EmotionModel,
        *,
        dataset: str = "samples",
        reference: str = "GANonymization",
        class_names: str = "paper",
        face_check: str | FaceCheck | None = None,
        drop_no_face: bool = False,
        batch_size: int = 32,
        progress: bool = False,
    ) -> None:
        if class_names not in ("paper", "model"):
            raise ValueError(f"class_names must be 'paper' or 'model', got {class_names!r}")
        if drop_no_face and face_check is None:
            raise ValueError("drop_no_face needs a face_check")
        self.model = model
        self.dataset = dataset
        self.reference = reference
        self.class_names = class_names
        self.face_check = face_check
        self.drop_no_face = drop_no_face
        self.batch_size = batch_size
        self.progress = progress

    def _classes(self) -> tuple[list[str], np.ndarray]:
        """Output class names and the column order that puts them in Table 2's order."""
        names = list(self.model.classes)
        if self.class_names == "model":
            return names, np.arange(len(names))
        renamed = [paper_emotion_name(n) for n in names]
        if len(set(renamed)) != len(renamed):
            raise ValueError(f"the model's classes {names} collide after renaming to {renamed}")
        if set(renamed) <= set(PAPER_EMOTION_ORDER):
            order = np.argsort([PAPER_EMOTION_ORDER.index(n) for n in renamed], kind="stable")
        else:
            order = np.arange(len(names))
        return [renamed[i] for i in order], order

    def run(self, pairs: Mapping[str, Pairing | Iterable[ImagePair]]) -> ExpressionResult:
        """Classify every original once and every anonymized file, and tabulate the distances."""
        by_method = {method: pairs_of(p) for method, p in pairs.items()}
        if not by_method or not any(by_method.values()):
            raise ValueError("no pairs to evaluate: give at least one method with (original, anonymized) pairs")
        check = build_face_check(self.face_check) if isinstance(self.face_check, str) else self.face_check
        classes, order = self._classes()
        options = dict(batch_size=self.batch_size, face_check=check, progress=self.progress)
        frames, image_rows = [], []
        for method, rows in predict_pairs(by_method, self.model.predict_proba, drop_no_face=self.drop_no_face,
                                          **options).items():
            kept, rows_o, rows_a = [], [], []
            for row in rows:
                p_o, p_a = row.p_original, row.p_anonymized
                if row.status == "measured":
                    kept.append(row.pair.rel)
                    rows_o.append(p_o[order])
                    rows_a.append(p_a[order])
                image_rows.append({
                    **row.record(),
                    "predicted_original": None if p_o is None else classes[int(np.argmax(p_o[order]))],
                    "predicted_anonymized": None if p_a is None else classes[int(np.argmax(p_a[order]))],
                })  # fmt: skip
            if kept:
                frames.append(probability_distances(
                    _clip(rows_o), _clip(rows_a), classes, image_ids=kept,
                    labels={"method": method, "dataset": self.dataset},
                ))  # fmt: skip
        images = pd.DataFrame(image_rows)
        if not frames:
            raise ValueError(f"none of the {len(images)} pairs could be measured: "
                             f"{images['status'].value_counts().to_dict()}")  # fmt: skip
        distances = pd.concat(frames, ignore_index=True)[list(DISTANCE_COLUMNS)]
        result = ExpressionResult(self.dataset, getattr(self.model, "name", type(self.model).__name__),
                                  self.reference, tuple(classes), distances, images)  # fmt: skip
        for row in result.counts().itertuples(index=False):
            if row.measured < row.pairs:
                logger.warning("%s: %d of %d pairs measured (%d unreadable, %d without a face)", row.method,
                               row.measured, row.pairs, row.unreadable, row.dropped_no_face)  # fmt: skip
        return result


def _clip(rows: list[np.ndarray]) -> np.ndarray:
    """Probabilities as float64 in [0, 1] (quantized models can overshoot by an ulp)."""
    return np.clip(np.asarray(rows, dtype=np.float64), 0.0, 1.0)
