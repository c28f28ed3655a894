"""What the notebooks call to show a result: tables in full, a table beside the paper's, figures, cards.

Whatever these functions show passes through :func:`shown_text`, which turns absolute paths into
paths relative to the book (or just a file name), so no page names a folder of the machine that built it.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganon.book.paths import shown_text
from ganon.book.report import Comparison, figure_file, missing_reason
from ganon.evaluation.reference import paper_result, result_names
from ganon.reproduce.store import ResultStore

__all__ = [
    "comparison_summary",
    "comparison_view",
    "model_card_summary",
    "show_comparison",
    "show_figure",
    "show_figures",
    "show_table",
    "shown_text",
]

def _shown_frame(frame: Any) -> Any:
    """``frame`` with :func:`shown_text` applied to its text cells and index; numbers keep their dtype."""
    from pandas.api.types import is_numeric_dtype

    shown = frame.copy()
    for column in shown.columns:
        if not is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(shown_text)
    shown.index = [shown_text(v) for v in shown.index]
    return shown


def _details(summary: str, html: str) -> str:
    return f"<details><summary>{summary}</summary>\n{html}\n</details>"


def show_table(frame: Any, *, index: bool = False, caption: str | None = None) -> None:
    """Display a DataFrame in full (no truncated cells), blanks for missing values, 4 significant digits."""
    from IPython.display import HTML, Markdown, display

    if caption:
        display(Markdown(shown_text(caption)))
    shown = _shown_frame(frame)
    shown = shown.astype(object).where(shown.notna(), "")
    display(HTML(shown.to_html(index=index, float_format=lambda v: f"{v:.4g}",
                               classes="dataframe ganon-table", border=0)))


def comparison_view(cmp: Comparison) -> Any:
    """The comparison as shown: keys, quantity (if several), the paper as printed, ours, difference."""
    frame = cmp.beside.drop(columns=["paper"]).rename(
        columns={"paper_printed": "paper", "within_rounding": "within rounding"})
    shown = {"quantity", "paper", "ours", "difference", "within rounding"}
    keys = [c for c in frame.columns if c not in shown]
    columns = [*keys, "quantity", "paper", "ours", "difference", "within rounding"]
    if frame["quantity"].nunique() == 1:
        columns.remove("quantity")
    return frame[columns]


def comparison_summary(cmp: Comparison) -> Any:
    """Per quantity: rows with both values, mean and largest |difference|, rows equal up to rounding."""
    import pandas as pd

    rows = []
    for quantity, group in cmp.beside.groupby("quantity", sort=False):
        both = group[group["ours"].notna() & group["paper"].notna()]
        rows.append({"quantity": quantity, "rows compared": len(both),
                     "mean |difference|": both["difference"].abs().mean(),
                     "largest |difference|": both["difference"].abs().max(),
                     "within rounding": int(both["within_rounding"].sum())})
    return pd.DataFrame(rows)


def show_comparison(cmp: Comparison, *, max_rows: int = 40) -> None:
    """Display one table comparison in a notebook, or the reason it is absent plus the paper's values.

    Comparisons longer than ``max_rows`` show a per-quantity summary and fold the full table away.
    """
    from IPython.display import HTML, Markdown, display

    from ganon.evaluation.tables import to_html

    title = f"Paper {cmp.spec.title}"
    if cmp.regenerated:
        display(Markdown(f"**{title}.** The paper's value as printed beside ours; `difference` is "
                         "ours minus the paper, `within rounding` whether ours prints as the paper's value."))
        view = comparison_view(cmp)
        if len(view) > max_rows:
            display(HTML(to_html(comparison_summary(cmp))))
            display(HTML(_details(f"All {len(view)} rows", to_html(_shown_frame(view)))))
        else:
            display(HTML(to_html(_shown_frame(view))))
    else:
        why = (f"Ours cannot be compared: {cmp.problem}" if cmp.problem is not None
               else f"Not regenerated in this profile: {cmp.absent_reason}")
        display(Markdown(f"**{title}.** {shown_text(why)}."))
        display(HTML(_details(f"The paper's values ({len(cmp.paper)} rows)",
                              cmp.paper.to_html(index=False, na_rep="", border=0))))


def show_figure(fig: Any) -> None:
    """Display a Matplotlib figure as a PNG output (no pyplot state involved)."""
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    display(Image(data=buffer.getvalue(), format="png"))


def show_figures(results_dir: Path | str, record: Mapping[str, Any]) -> None:
    """Display our example and confusion-matrix figures (3-6, 8, 10, 11) or why each is absent."""
    from IPython.display import SVG, Image, Markdown, display

    store = ResultStore(results_dir)
    for name in result_names(("figure",)):
        spec = paper_result(name)
        if spec.notebook is None or spec.drawn_from is not None:
            continue
        reason = missing_reason(spec, store, record)
        if reason is not None:
            why = shown_text(reason)
            display(Markdown(f"**Paper {spec.title}.** Not regenerated in this profile: {why}."))
            continue
        path = figure_file(results_dir, spec.name)
        display(Markdown(f"**Paper {spec.title}** (ours, `{path.name}`)."))
        display(SVG(filename=str(path)) if path.suffix == ".svg" else Image(filename=str(path)))


def _get(card: Mapping[str, Any], dotted: str) -> Any:
    value: Any = card
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _card_rows(card: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The summary's rows in reading order; a row whose fields the card lacks is left out."""
    g = functools.partial(_get, card)
    rows: list[tuple[str, Any]] = [("name", g("name")), ("origin", g("origin"))]
    rows.append(("architecture", ", ".join(str(v) for v in (g("generator_preset"), g("resolution")) if v)
                 + (" px" if g("resolution") else "")))
    rows.append(("landmark style", g("render_style")))
    parameters = g("parameters")
    rows.append(("parameters", f"{parameters:,}" if isinstance(parameters, int) else parameters))
    pairs = g("data.train_pairs")
    rows.append(("training data", g("training_data") or (pairs and f"{pairs} training pairs")))
    training = []
    if g("steps") is not None:
        training.append(f"{g('steps'):,} steps")
    if g("initialized_from.steps") is not None:
        training.append(f"after {g('initialized_from.steps'):,} steps of a base model")
    if g("training_config.lambda_l1") is not None:
        training.append(f"L1 weight {g('training_config.lambda_l1'):g}")
    if g("training_config.batch_size") is not None:
        training.append(f"batch {g('training_config.batch_size')}")
    rows.append(("training", ", ".join(training)))
    if g("wall_time_s") is not None:
        hardware = g("hardware.cuda") or g("hardware.cpu")
        on = f" on {hardware}" if hardware else ""
        rows.append(("wall time", f"{g('wall_time_s') / 3600:.1f} h{on}"))
    identity = g("quality.identity") or {}
    if identity.get("fraction_above_threshold") is not None:
        rows.append(("identity changed", f"{100 * identity['fraction_above_threshold']:.1f} % of "
                     f"{identity.get('n')} faces beyond {identity.get('backend')}'s threshold "
                     f"{identity.get('threshold')}"))
    if g("quality.realism.fraction_both") is not None:
        realism = 100 * g("quality.realism.fraction_both")
        rows.append(("realism", f"{realism:.1f} % of outputs found as faces again"))
    expression = g("quality.expression.all_frames") or {}
    if expression.get("mouth_r") is not None:
        rows.append(("expression kept", f"mouth opening r = {expression['mouth_r']:.2f}, "
                     f"eye opening r = {expression.get('eye_r', float('nan')):.2f}"))
    if g("trained") is False:
        rows.append(("trained", "no: random weights"))
    if g("sha256"):
        rows.append(("sha256", f"{str(g('sha256'))[:16]}…"))
    return rows


def model_card_summary(card: Mapping[str, Any], *, source: Path | str | None = None) -> Any:
    """About ten key rows of a generator's model card (``field | value``) for a chapter, instead of every
    field; ``source`` (the card's JSON) adds a last row naming it, relative to the book."""
    import pandas as pd

    rows = [(name, value) for name, value in _card_rows(card) if value not in (None, "")]
    if source is not None:
        rows.append(("full card", str(Path(source))))
    return pd.DataFrame([{"field": n, "value": shown_text(str(v))} for n, v in rows],
                        columns=["field", "value"])
