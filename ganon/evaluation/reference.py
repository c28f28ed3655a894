"""The paper's printed evaluation tables (Tables 1-6 and the prose numbers) as typed DataFrames.

The CSVs in ``paper_reference/`` keep every cell as printed. ``paper_table(name)`` parses them into
floats/ints for computation; ``paper_table(name, printed=True)`` returns the untouched strings, which
carry the printed precision that :mod:`ganon.evaluation.tables` uses to judge "equal up to rounding".
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import pandas as pd

from ganon.registry import Registry

__all__ = [
    "TABLES",
    "TableName",
    "TableSpec",
    "headline_number",
    "paper_table",
    "parse_p",
]

TableName = Literal["table1", "table2", "table3", "table4", "table5", "table6", "headline"]


@dataclass(frozen=True)
class TableSpec:
    """Where a paper table lives and which columns identify a row (keys) or hold numbers (values)."""

    name: str
    filename: str
    caption: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    integers: tuple[str, ...] = ()


TABLES: Registry[TableSpec] = Registry("paper table")

for _spec in (
    TableSpec(
        "table1",
        "table1_identity_cosine_distance.csv",
        "Mean Facenet512 cosine distance between original and anonymized WIDER faces (Sec. 4.1).",
        keys=("method", "kernel"),
        values=("cosine_distance",),
    ),
    TableSpec(
        "table2",
        "table2_emotion_probability_distance.csv",
        "Mean |p_anonymized - p_original| of the emotion classifier per class (Sec. 4.2.4).",
        keys=("dataset", "emotion", "method"),
        values=("mean_probability_distance",),
    ),
    TableSpec(
        "table3",
        "table3_wilcoxon.csv",
        "Wilcoxon signed-rank tests of GANonymization's distances against DP2's and CIAGAN's.",
        keys=("dataset", "emotion", "comparison"),
        values=("p", "Z", "r", "N"),
        integers=("N",),
    ),
    TableSpec(
        "table4",
        "table4_training_f1.csv",
        "Classification reports of emotion classifiers trained on original or anonymized data.",
        keys=("dataset", "class", "train_data"),
        values=("precision", "recall", "f1", "support"),
        integers=("support",),
    ),
    TableSpec(
        "table5",
        "table5_celeba_attribute_classifier.csv",
        "Classification reports of the CelebA attribute classifier per training data.",
        keys=("attribute", "train_data"),
        values=("precision", "recall", "f1", "support"),
        integers=("support",),
    ),
    TableSpec(
        "table6",
        "table6_attribute_removal.csv",
        "Fraction of images whose detected CelebA attribute is gone after GANonymization.",
        keys=("attribute",),
        values=("removed_fraction",),
    ),
    TableSpec(
        "headline",
        "headline_numbers.csv",
        "Numbers quoted in the prose of Sections 3 and 4, with the quoted sentence.",
        keys=("key",),
        values=("number",),
    ),
):
    TABLES.register(_spec.name)(_spec)

#: Table 6's last row has no label in the paper's text; the label was inferred (see the README).
INFERRED_ATTRIBUTES: frozenset[str] = frozenset({"Young"})


@functools.lru_cache(maxsize=None)
def _read_text(filename: str) -> str:
    return (resources.files("ganon.evaluation.paper_reference") / filename).read_text(encoding="utf-8")


def _read_printed(spec: TableSpec) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(_read_text(spec.filename)), dtype=str, keep_default_na=False)


def parse_p(printed: str) -> tuple[float, bool]:
    """Parse a printed p-value: ``"<0.001"`` -> ``(0.001, True)``, ``"0.119"`` -> ``(0.119, False)``.

    The boolean says whether the number is an upper bound rather than a value.
    """
    text = printed.strip().replace(" ", "")
    if not text:
        return float("nan"), False
    bound = text.startswith("<")
    return float(text.lstrip("<")), bound


def paper_table(name: TableName | str, *, printed: bool = False) -> pd.DataFrame:
    """Load one of the paper's tables in its printed row order.

    ``printed=True`` returns every cell as the printed string ('' where the paper prints nothing).
    Otherwise numbers become floats (empty -> NaN) and counts become ints; extras per table:
    ``table1`` gets ``label`` ("Pixelation 8x8"); ``table3`` keeps ``p_printed`` and adds
    ``p_is_upper_bound`` (for "<0.001"); ``table6`` adds ``label_inferred``; ``headline`` adds
    ``number`` (the value as float, NaN for text values).
    """
    spec = TABLES.get(name)
    frame = _read_printed(spec)
    if printed:
        return frame
    if spec.name == "headline":
        frame["number"] = pd.to_numeric(frame["value"], errors="coerce")
        return frame[["key", "value", "number", "source"]]
    if spec.name == "table3":
        parsed = [parse_p(p) for p in frame["p"]]
        frame.insert(3, "p_printed", frame.pop("p"))
        frame.insert(4, "p", [value for value, _ in parsed])
        frame.insert(5, "p_is_upper_bound", [bound for _, bound in parsed])
    numeric = [column for column in spec.values if column in frame and column != "p"]
    for column in numeric:
        values = pd.to_numeric(frame[column].replace("", None), errors="raise")
        frame[column] = values.astype("int64") if column in spec.integers else values.astype(float)
    if spec.name == "table1":
        frame["label"] = [f"{m} {k}".strip() for m, k in zip(frame["method"], frame["kernel"])]
    if spec.name == "table6":
        frame["label_inferred"] = frame["attribute"].isin(INFERRED_ATTRIBUTES)
    return frame


def headline_number(key: str) -> float | str:
    """One number (or text value) quoted in the paper's prose, by key, e.g. ``"affectnet_val_images"``."""
    table = paper_table("headline")
    row = table.loc[table["key"] == key]
    if row.empty:
        raise KeyError(f"no headline number {key!r}; see paper_table('headline')['key']")
    number = row["number"].iloc[0]
    return str(row["value"].iloc[0]) if pd.isna(number) else float(number)
