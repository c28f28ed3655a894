"""Section 4.3 with a pretrained attribute model and labelled faces: Figure 11's matrices per evaluated set.

The paper's Figure 11 draws, per attribute, the confusion matrix of classifiers trained on different
data and tested on original faces. A pretrained stand-in is not trained, so the matrices here
compare the image sets it reads instead: the originals and each method's versions of them, all
against the labels of the original faces.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ganon.evaluation.attribute_removal import AttributeResult
from ganon.evaluation.metrics import multilabel_confusion
from ganon.evaluation.paired import ORIGINAL

__all__ = ["confusions_per_set"]


def confusions_per_set(result: AttributeResult, labels: pd.DataFrame, attributes: Sequence[str], *,
                       normalize: str | None = "true") -> pd.DataFrame:
    """Long form ``attribute, true, predicted, value, evaluated_on``: one 2 x 2 matrix per attribute for
    the originals (``"Original"``) and for each method's images, against ``labels`` (indexed by
    ``image_id``, 0/1 per attribute). Images without a label row are left out."""
    missing = sorted(set(attributes) - set(labels.columns))
    if missing:
        raise KeyError(f"labels lack the attributes {missing}")
    labels = labels.set_axis(labels.index.astype(str))
    sides = [(ORIGINAL, result.predictions.drop_duplicates(["image_id", "attribute"]), "p_original")]
    sides += [(m, result.predictions[result.predictions["method"] == m], "p_anonymized") for m in result.methods]
    frames = []
    for name, part, column in sides:
        wide = part.pivot(index="image_id", columns="attribute", values=column)
        wide = wide.loc[wide.index.astype(str).isin(labels.index), list(attributes)]
        if wide.empty:
            continue
        truth = labels.loc[wide.index.astype(str), list(attributes)].to_numpy(dtype=int)
        predicted = (wide.to_numpy(dtype=float) > result.threshold).astype(np.int64)
        frames.append(multilabel_confusion(truth, predicted, list(attributes), normalize=normalize)
                      .assign(evaluated_on=name))
    if not frames:
        raise ValueError("no evaluated image has a label row (labels are matched on image_id)")
    return pd.concat(frames, ignore_index=True)
