"""The training scenario at CPU size: a linear classifier on frozen features of the crops, no GPU, seconds.

It takes the place of the paper's ConvNeXt-Base (Sec. 4.2.2) where neither a GPU nor ImageNet weights
are at hand: every crop becomes a fixed feature vector (``FEATURES``, HOG by default), and a
class-balanced logistic regression learns the classes from the training crops. Its report and
confusion table have the layout of ``evaluate_classifier``'s, so Table 4 and Figure 10 take either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ganon.evaluation.metrics import classification_report_table, confusion
from ganon.evaluation.training_scenario import TrainingScenarioResult
from ganon.imageio import ImageReadError, read_image
from ganon.registry import Registry

__all__ = ["FEATURES", "EmbeddingClassifierConfig", "crop_features", "train_and_report"]

logger = logging.getLogger(__name__)

Features = Callable[[np.ndarray, int], np.ndarray]
#: Frozen feature extractors: RGB crop and side length -> 1-D vector.
FEATURES: Registry[Features] = Registry("crop feature")


@FEATURES.register("hog")
def hog_features(image: np.ndarray, size: int) -> np.ndarray:
    """Histograms of oriented gradients of the grey crop at ``size`` px (9 orientations, 8 px cells)."""
    import cv2
    from skimage.feature import hog

    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)
    return hog(grey, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), feature_vector=True)


@dataclass(frozen=True)
class EmbeddingClassifierConfig:
    """Which features, at what size, and the logistic regression's strength (``C``) and seed."""

    features: str = "hog"
    size: int = 64
    C: float = 1.0
    max_iter: int = 5000
    seed: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def crop_features(paths: Sequence[str], config: EmbeddingClassifierConfig) -> np.ndarray:
    """One feature row per image file; an unreadable file fails naming the file."""
    extract = FEATURES.get(config.features)
    rows = []
    for path in paths:
        try:
            image = read_image(path).rgb
        except (OSError, ValueError, ImageReadError) as error:
            raise ValueError(f"{path}: cannot be read for the training scenario ({error})") from error
        rows.append(extract(image, config.size))
    return np.stack(rows) if rows else np.zeros((0, 0))


def train_and_report(
    train: pd.DataFrame,
    test: pd.DataFrame,
    classes: Sequence[str],
    *,
    dataset: str,
    train_data: str,
    config: EmbeddingClassifierConfig = EmbeddingClassifierConfig(),
) -> TrainingScenarioResult:
    """Fit on ``train`` (``path``, ``label`` = index in ``classes``), report on ``test`` like Table 4.

    ``train`` holds the crops of the training set (original or one method's), ``test`` the original
    crops of other people; the report's rows are ``dataset, train_data, class, precision, ...``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if train.empty or test.empty:
        raise ValueError(f"{dataset} / {train_data}: {len(train)} training and {len(test)} test crops; need both")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=config.C, max_iter=config.max_iter,
                                                               class_weight="balanced", random_state=config.seed))
    model.fit(crop_features(train["path"].tolist(), config), train["label"].to_numpy(dtype=np.int64))
    fitted = list(model.classes_)
    scores = model.predict_proba(crop_features(test["path"].tolist(), config))
    probabilities = np.zeros((len(test), len(classes)))
    probabilities[:, fitted] = scores  # a class absent from training keeps probability 0
    truth, predicted = test["label"].to_numpy(dtype=np.int64), probabilities.argmax(axis=1)
    indices = list(range(len(classes)))
    labels = {"dataset": dataset, "train_data": train_data}
    report = classification_report_table(truth, predicted, indices, target_names=list(classes))
    matrix = confusion(truth, predicted, indices, target_names=list(classes), normalize="true", tidy=True)
    predictions = pd.DataFrame({"path": test["path"].to_numpy(), "label": [classes[i] for i in truth],
                                "predicted": [classes[i] for i in predicted]})
    predictions = pd.concat([predictions, pd.DataFrame(probabilities, columns=[f"p_{c}" for c in classes])], axis=1)
    logger.info("%s / %s: %d training, %d test crops, accuracy %.2f", dataset, train_data, len(train), len(test),
                float((truth == predicted).mean()))
    return TrainingScenarioResult(predictions=_lead(predictions, labels), report=_lead(report, labels),
                                  confusion=_lead(matrix, labels), classes=tuple(classes), task="multiclass")


def _lead(frame: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({k: [v] * len(frame) for k, v in labels.items()}, index=frame.index), frame],
                     axis=1)
