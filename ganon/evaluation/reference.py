"""The one registry of the paper's results (Tables 1-6, Figures 1-11, prose numbers) and their printed values.

``PAPER_RESULTS`` names every table and figure once: its title, the section notebook that regenerates
it, and, where the paper prints numbers, the CSV in ``paper_reference/`` with its key and value
columns. ``paper_result(name)`` looks one up. The CSVs keep every cell as printed. ``paper_table(name)``
parses them into floats/ints for computation; ``paper_table(name, printed=True)`` returns the untouched
strings, which carry the printed precision that :mod:`ganon.evaluation.tables` uses to judge "equal up
to rounding". Figures 7 and 9 plot Tables 2 and 6, so their numbers are those tables'.
"""

from __future__ import annotations

import dataclasses
import functools
import io
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import pandas as pd

from ganon.registry import Registry

__all__ = [
    "PAPER_RESULTS",
    "TABLES",
    "PaperResult",
    "TableName",
    "TableSpec",
    "headline_number",
    "paper_result",
    "paper_table",
    "parse_p",
    "result_names",
]

TableName = Literal["table1", "table2", "table3", "table4", "table5", "table6", "headline"]
ResultKind = Literal["table", "figure", "numbers"]


@dataclass(frozen=True)
class PaperResult:
    """One result of the paper: what it shows, which notebook regenerates it, and where its printed
    numbers live (``filename`` in ``paper_reference/``; None for figures of images or diagrams)."""

    name: str
    kind: ResultKind
    title: str
    notebook: str | None = None
    filename: str | None = None
    caption: str = ""
    keys: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()
    #: The column a one-number summary of ours against the paper's uses (the report's mean |difference|).
    main_value: str | None = None
    #: For a figure that plots a table (Figures 7 and 9): that table's name.
    drawn_from: str | None = None
    #: Key values of rows that equal the paper by construction when both are 0 (the original image
    #: compared with itself); such a match says nothing and is not counted as one.
    trivial: tuple[tuple[str, str], ...] = ()
    #: Why a result without a notebook is not regenerated.
    note: str = ""

    @property
    def label(self) -> str:
        """``"Table 1"``, ``"Figure 7"``: the title's part before the colon."""
        return self.title.split(":")[0]


#: Kept for older callers: a paper table's registration is its :class:`PaperResult`.
TableSpec = PaperResult

PAPER_RESULTS: Registry[PaperResult] = Registry("paper result")

_TABLE2 = PaperResult(
    "table2", "table", "Table 2: emotion probability distance per class", "4_2_expression",
    "table2_emotion_probability_distance.csv",
    "Mean |p_anonymized - p_original| of the emotion classifier per class (Sec. 4.2.4).",
    keys=("dataset", "emotion", "method"), values=("mean_probability_distance",),
    main_value="mean_probability_distance",
)
_TABLE6 = PaperResult(
    "table6", "table", "Table 6: attributes removed by anonymization", "4_3_attributes",
    "table6_attribute_removal.csv",
    "Fraction of images whose detected CelebA attribute is gone after GANonymization.",
    keys=("attribute",), values=("removed_fraction",), main_value="removed_fraction",
)


def _figure(name: str, title: str, notebook: str | None, *, note: str = "") -> PaperResult:
    return PaperResult(name, "figure", title, notebook, note=note)


def _plot_of(table: PaperResult, name: str, title: str) -> PaperResult:
    return dataclasses.replace(table, name=name, kind="figure", title=title, drawn_from=table.name)


_REGISTERED: tuple[PaperResult, ...] = (
    PaperResult(
        "table1", "table", "Table 1: identity distance, original vs anonymized (WIDER)", "4_1_anonymization",
        "table1_identity_cosine_distance.csv",
        "Mean Facenet512 cosine distance between original and anonymized WIDER faces (Sec. 4.1).",
        keys=("method", "kernel"), values=("cosine_distance",), main_value="cosine_distance",
        trivial=(("method", "Original"),),
    ),
    _TABLE2,
    PaperResult(
        "table3", "table", "Table 3: Wilcoxon tests against DeepPrivacy2 and CIAGAN", "4_2_expression",
        "table3_wilcoxon.csv",
        "Wilcoxon signed-rank tests of GANonymization's distances against DP2's and CIAGAN's.",
        keys=("dataset", "emotion", "comparison"), values=("p", "Z", "r", "N"), integers=("N",),
        main_value="Z",
    ),
    PaperResult(
        "table4", "table", "Table 4: emotion classifiers trained on anonymized data", "4_2_expression",
        "table4_training_f1.csv",
        "Classification reports of emotion classifiers trained on original or anonymized data.",
        keys=("dataset", "class", "train_data"), values=("precision", "recall", "f1", "support"),
        integers=("support",), main_value="f1",
    ),
    PaperResult(
        "table5", "table", "Table 5: CelebA attribute classifier", "4_3_attributes",
        "table5_celeba_attribute_classifier.csv",
        "Classification reports of the CelebA attribute classifier per training data.",
        keys=("attribute", "train_data"), values=("precision", "recall", "f1", "support"),
        integers=("support",), main_value="f1",
    ),
    _TABLE6,
    _figure("figure1", "Figure 1: privacy-preservation concepts", None,
            note="a diagram of related work, not a result"),
    _figure("figure2", "Figure 2: the GANonymization pipeline", None,
            note="a diagram; Section 3's notebooks show every stage on real photos instead"),
    _figure("figure3", "Figure 3: anonymized WIDER faces", "4_1_anonymization"),
    _figure("figure4", "Figure 4: anonymized AffectNet faces", "4_2_expression"),
    _figure("figure5", "Figure 5: anonymized CK+ faces", "4_2_expression"),
    _figure("figure6", "Figure 6: anonymized FACES faces", "4_2_expression"),
    _plot_of(_TABLE2, "figure7", "Figure 7: emotion probability distance per class"),
    _figure("figure8", "Figure 8: anonymized CelebA faces", "4_3_attributes"),
    _plot_of(_TABLE6, "figure9", "Figure 9: attributes removed by anonymization"),
    _figure("figure10", "Figure 10: confusion matrices of the emotion classifiers", "4_2_expression"),
    _figure("figure11", "Figure 11: confusion matrices of the attribute classifier", "4_3_attributes"),
    PaperResult(
        "headline", "numbers", "Numbers quoted in the prose of Sections 3 and 4", None,
        "headline_numbers.csv",
        "Numbers quoted in the prose of Sections 3 and 4, with the quoted sentence.",
        keys=("key",), values=("number",),
    ),
)
for _result in _REGISTERED:
    PAPER_RESULTS.register(_result.name)(_result)


def paper_result(name: str) -> PaperResult:
    """The registration of one paper result (``table1`` ... ``table6``, ``figure1`` ... ``figure11``,
    ``headline``); an unknown name lists the known ones."""
    return PAPER_RESULTS.get(name)


def result_names(kinds: tuple[ResultKind, ...] = ("table", "figure")) -> list[str]:
    """Names of the paper's results of ``kinds`` in the paper's order (tables first, then figures)."""
    return [result.name for result in _REGISTERED if result.kind in kinds]

#: The paper's numeric tables by name (each result with a CSV of its own), a view of ``PAPER_RESULTS``.
TABLES: Registry[PaperResult] = Registry("paper table")
for _result in _REGISTERED:
    if _result.kind != "figure":
        TABLES.register(_result.name)(_result)

#: Table 6's last row has no label in the paper's text; the label was inferred (see the README).
INFERRED_ATTRIBUTES: frozenset[str] = frozenset({"Young"})


@functools.lru_cache(maxsize=None)
def _read_text(filename: str) -> str:
    return (resources.files("ganon.evaluation.paper_reference") / filename).read_text(encoding="utf-8")


def _read_printed(spec: PaperResult) -> pd.DataFrame:
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
    ``number`` (the value as float, NaN for text values). A figure that plots a table (``figure7``,
    ``figure9``) gives that table.
    """
    spec = PAPER_RESULTS.get(name)
    if spec.filename is None:
        raise ValueError(f"{spec.label} of the paper shows images or a diagram; it prints no numbers")
    table = spec.drawn_from or spec.name
    frame = _read_printed(spec)
    if printed:
        return frame
    if table == "headline":
        frame["number"] = pd.to_numeric(frame["value"], errors="coerce")
        return frame[["key", "value", "number", "source"]]
    if table == "table3":
        parsed = [parse_p(p) for p in frame["p"]]
        frame.insert(3, "p_printed", frame.pop("p"))
        frame.insert(4, "p", [value for value, _ in parsed])
        frame.insert(5, "p_is_upper_bound", [bound for _, bound in parsed])
    numeric = [column for column in spec.values if column in frame and column != "p"]
    for column in numeric:
        values = pd.to_numeric(frame[column].replace("", None), errors="raise")
        frame[column] = values.astype("int64") if column in spec.integers else values.astype(float)
    if table == "table1":
        frame["label"] = [f"{m} {k}".strip() for m, k in zip(frame["method"], frame["kernel"])]
    if table == "table6":
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
