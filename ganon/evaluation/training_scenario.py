"""The training scenario (Sec. 4.2.2-4.2.4, 4.3.2): a trained classifier judged on original validation images.

Whatever the classifier was trained on (original or anonymized images), it is evaluated on the
dataset's *original* validation split: predictions -> scikit-learn classification report in the
layout of Table 4 (emotions) or Table 5 (CelebA attributes, multi-label, present when p > 0.5) and
the confusion matrices of Figure 10 (one per classifier) or Figure 11 (one 2x2 per attribute).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from ganon.models.classifier_checkpoint import LoadedClassifier, load_classifier
from ganon.evaluation.figures import attribute_confusion_grid, confusion_grid
from ganon.evaluation.metrics import (
    PRESENCE_THRESHOLD,
    classification_report_table,
    confusion,
    multilabel_confusion,
)
from ganon.imageio import read_image
from ganon.registry import Registry

__all__ = [
    "CONFUSION_FIGURES",
    "TrainingScenarioResult",
    "confusion_figure",
    "evaluate_classifier",
    "predict_paths",
]

logger = logging.getLogger(__name__)


def predict_paths(classifier: LoadedClassifier, paths: Sequence[str], *, batch_size: int = 32,
                  progress: bool | None = None) -> np.ndarray:
    """Class probabilities (softmax or sigmoid, by the checkpoint's task) for image files, in order."""
    chunks = [np.zeros((0, len(classifier.metadata.classes)), dtype=np.float32)]
    for start in tqdm(range(0, len(paths), batch_size), desc="predict", unit="batch",
                      disable=(None if progress is None else not progress)):
        images = [read_image(path).rgb for path in paths[start : start + batch_size]]
        chunks.append(classifier.predict_proba(images))
    return np.concatenate(chunks)


@dataclass(frozen=True)
class TrainingScenarioResult:
    """Per-image predictions, the Table 4/5 report and the tidy confusion table (Figure 10 or 11).

    ``confusion`` is long form ``dataset, train_data, true, predicted, value`` for single-label
    classifiers and has an ``attribute`` column before ``true`` for multi-label ones.
    """

    predictions: pd.DataFrame
    report: pd.DataFrame
    confusion: pd.DataFrame
    classes: tuple[str, ...]
    task: str

    def save(self, out_dir: Path | str, *, overwrite: bool = False) -> list[Path]:
        """Write ``predictions.csv``, ``report.csv`` and ``confusion.csv``/``.png`` (Figure 10 or 11)."""
        out_dir = Path(out_dir)
        names = ["predictions.csv", "report.csv", "confusion.csv", "confusion.png"]
        existing = [out_dir / n for n in names if (out_dir / n).exists()]
        if existing and not overwrite:
            raise FileExistsError(f"{existing[0]}: exists; refusing to overwrite")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.predictions.to_csv(out_dir / "predictions.csv", index=False)
        self.report.to_csv(out_dir / "report.csv", index=False)
        self.confusion.to_csv(out_dir / "confusion.csv", index=False)
        confusion_figure([self]).savefig(out_dir / "confusion.png", dpi=150)
        return [out_dir / n for n in names]


def evaluate_classifier(
    classifier: LoadedClassifier | Path | str,
    table: pd.DataFrame,
    *,
    split: str = "val",
    dataset: str | None = None,
    train_data: str | None = None,
    threshold: float = PRESENCE_THRESHOLD,
    normalize: str | None = "true",
    batch_size: int = 32,
    progress: bool | None = None,
) -> TrainingScenarioResult:
    """Predict the table's ``split`` rows (their own paths: the original images) and report.

    Single-label tables need ``label``; multi-label ones ``labels`` in the checkpoint's class order.
    ``dataset`` and ``train_data`` (default: the table's dataset and the checkpoint's provenance)
    become leading columns so the reports of several models concatenate into Table 4/5.
    """
    if not isinstance(classifier, LoadedClassifier):
        classifier = load_classifier(classifier, batch_size=batch_size)
    meta = classifier.metadata
    dataset = dataset or str(table.attrs.get("dataset") or meta.info.get("dataset") or "")
    train_data = train_data or str(meta.info.get("train_data") or "Original")
    rows = table[table["split"].astype(str) == split].reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"the table has no rows in split {split!r}")
    probabilities = predict_paths(classifier, rows["path"].tolist(), batch_size=batch_size, progress=progress)
    labels = {"dataset": dataset, "train_data": train_data}
    predictions = pd.DataFrame({"path": rows["path"]})
    if meta.task == "multiclass":
        if "label" not in rows.columns:
            raise ValueError("a single-label classifier needs a table with a 'label' column")
        truth = rows["label"].to_numpy(dtype=np.int64)
        if truth.max() >= len(meta.classes):
            raise ValueError(f"labels up to {truth.max()} but the classifier knows {len(meta.classes)} classes")
        predicted = probabilities.argmax(axis=1)
        indices = list(range(len(meta.classes)))
        report = classification_report_table(truth, predicted, indices, target_names=meta.classes)
        matrix = confusion(truth, predicted, indices, target_names=meta.classes, normalize=normalize, tidy=True)
        predictions = predictions.assign(label=[meta.classes[i] for i in truth],
                                         predicted=[meta.classes[i] for i in predicted])
        confusion_table = _with_labels(matrix, labels)
    else:
        if "labels" not in rows.columns:
            raise ValueError("a multi-label classifier needs a table with a 'labels' column")
        truth = np.stack([np.asarray(v, dtype=np.int64) for v in rows["labels"]])
        if truth.shape[1] != len(meta.classes):
            raise ValueError(f"the table has {truth.shape[1]} attributes, the classifier {len(meta.classes)}")
        predicted = (probabilities > threshold).astype(np.int64)
        report = classification_report_table(truth, predicted, list(meta.classes))
        matrices = multilabel_confusion(truth, predicted, meta.classes, normalize=normalize, tidy=True)
        confusion_table = _with_labels(matrices, labels)
    probability_columns = pd.DataFrame(probabilities, columns=[f"p_{c}" for c in meta.classes])
    predictions = pd.concat([predictions, probability_columns], axis=1)
    logger.info("%s / %s on %d %s images: %s", dataset, train_data, len(rows), split,
                ", ".join(f"{r['class']} {r['f1']:.2f}" for _, r in report.tail(3).iterrows()))
    return TrainingScenarioResult(predictions=_with_labels(predictions, labels), report=_with_labels(report, labels),
                                  confusion=confusion_table, classes=meta.classes, task=meta.task)


def _with_labels(frame: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    frame = frame.copy()
    for position, (column, value) in enumerate(labels.items()):
        frame.insert(position, column, value)
    return frame


#: Classifier task -> the figure of its confusion tables: Figure 10 (single-label), Figure 11 (multi-label).
CONFUSION_FIGURES: Registry[Callable[[pd.DataFrame], Figure]] = Registry("confusion figure")
CONFUSION_FIGURES.register("multiclass")(confusion_grid)
CONFUSION_FIGURES.register("multilabel")(attribute_confusion_grid)


def confusion_figure(results: Sequence[TrainingScenarioResult]) -> Figure:
    """Figure 10 or 11 from results of one task, e.g. one per training data.

    Single-label: one panel per dataset (row) and training data (column). Multi-label: a 2x2 matrix
    per attribute (row) and training data (column), for one dataset.
    """
    if not results:
        raise ValueError("no results to draw")
    tasks = sorted({r.task for r in results})
    if len(tasks) > 1:
        raise ValueError(f"results of several tasks {tasks}: draw each task on its own")
    return CONFUSION_FIGURES.get(tasks[0])(pd.concat([r.confusion for r in results], ignore_index=True))
