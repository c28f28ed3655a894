"""The paper's evaluation figures, each drawn from a tidy DataFrame into a new matplotlib Figure.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state) inside a seaborn style
context, so calling them changes no global settings; save with ``fig.savefig(path)``. There is one
function per paper figure; it draws ours, the paper's own numbers (``paper_table``), or, with
``paper=``, the paper's values beside ours on the same axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = [
    "attribute_confusion_grid",
    "attribute_removal_bars",
    "confusion_grid",
    "identity_distance_bars",
    "mean_distance_bars",
]

STYLE = "whitegrid"
#: One colour per method, shared by all figures so a method keeps its colour across the book.
METHOD_COLOURS: dict[str, str] = {
    "GANonymization": "#1b9e77",
    "DeepPrivacy2": "#d95f02",
    "CIAGAN": "#7570b3",
    "Original": "#666666",
    "Pixelation": "#e6ab02",
    "Blur": "#66a61e",
}


#: Colours for levels without one of their own, far from every colour of METHOD_COLOURS.
SPARE_COLOURS: tuple[str, ...] = ("#e7298a", "#a6761d", "#1f78b4", "#17becf", "#bcbd22", "#6a3d9a", "#b15928")


def _first_seen(values: pd.Series) -> list[str]:
    return list(dict.fromkeys(values.astype(str)))


def _palette(levels: Sequence[str]) -> dict[str, str]:
    """A distinct colour per level: the method's own (``"Blur 9x9"`` takes Blur's) unless another level
    has it already, else the next unused colour-blind-safe one."""
    spare = iter([*SPARE_COLOURS, *sns.color_palette("tab20", len(levels)).as_hex()])
    palette: dict[str, str] = {}
    for level in levels:
        own = METHOD_COLOURS.get(level) or METHOD_COLOURS.get(str(level).split(" ")[0])
        palette[level] = own if own is not None and own not in palette.values() else next(spare)
    return palette


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"the table lacks columns {missing}; it has {list(frame.columns)}")


def _paper_values(paper: pd.DataFrame | bool | None, table: str) -> pd.DataFrame | None:
    if paper is True:
        from ganon.evaluation.reference import paper_table

        return paper_table(table)
    return None if paper is None or paper is False else paper


def _one_source(table: pd.DataFrame | None, paper: pd.DataFrame | None, figure: str) -> pd.DataFrame | None:
    if table is None and paper is None:
        raise ValueError(f"{figure}: give our table, the paper's (paper=True) or both")
    return paper if table is None else table if paper is None else None


def mean_distance_bars(
    table: pd.DataFrame | None,
    *,
    paper: pd.DataFrame | bool | None = None,
    value: str = "mean_probability_distance",
    x: str = "emotion",
    hue: str = "method",
    panel: str = "dataset",
    errorbar: object = None,
    panel_width: float = 4.2,
) -> Figure:
    """Figure 7: grouped bars of the mean probability distance per emotion and method, one panel per
    dataset (lower is better). ``table`` may hold means (Table 2) or per-image distances, which are
    averaged; ``errorbar`` (e.g. ``("se", 1)``) adds error bars to the latter. ``paper`` (a frame, or
    True for the paper's Table 2) draws the paper's bar solid beside ours hatched, on the same axes."""
    paper = _paper_values(paper, "table2")
    single = _one_source(table, paper, "Figure 7")
    if single is not None:
        return _distance_bars(single, value=value, x=x, hue=hue, panel=panel, errorbar=errorbar,
                              panel_width=panel_width)
    _require(table, [value, x, hue, panel])
    _require(paper, [value, x, hue, panel])
    keys = [panel, x, hue]
    both = pd.concat([
        frame.assign(**{k: frame[k].astype(str) for k in keys}).groupby(keys, sort=False)[value].mean()
        .reset_index().assign(source=source)
        for source, frame in (("paper", paper), ("ours", table))
    ], ignore_index=True)  # fmt: skip
    panels, methods = _first_seen(both[panel]), _first_seen(both[hue])
    palette = _palette(methods)
    series = [(m, src) for m in methods for src in ("paper", "ours")
              if ((both[hue] == m) & (both["source"] == src)).any()]  # only bars that have values
    width = 0.8 / len(series)
    with sns.axes_style(STYLE):
        fig = Figure(figsize=(panel_width * 1.3 * len(panels), 3.8), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, name in zip(axes, panels):
            data = both[both[panel] == name]
            levels = _first_seen(data[x])
            positions = np.arange(len(levels))
            for k, (method, source) in enumerate(series):
                sub = data[(data[hue] == method) & (data["source"] == source)].set_index(x)[value]
                heights = sub.reindex(levels).to_numpy(dtype=float)
                drawn = ~np.isnan(heights)  # no empty bar where one side has no value
                ax.bar((positions + (k - (len(series) - 1) / 2) * width)[drawn], heights[drawn], width,
                       color=palette[method], hatch="//" if source == "ours" else None,
                       edgecolor="white" if source == "ours" else palette[method])  # fmt: skip
            ax.set_xticks(positions, levels, rotation=45, ha="right")
            ax.set_title(name)
        axes[0].set_ylabel("mean probability distance")
        handles = [_patch(palette[m]) for m in methods] + [_patch("#999999"), _patch("#999999", hatch="//")]
        fig.legend(handles, [*methods, "paper", "ours"], loc="outside upper center", ncols=len(methods) + 2,
                   frameon=False)  # fmt: skip
    return fig


def _distance_bars(
    table: pd.DataFrame, *, value: str, x: str, hue: str, panel: str, errorbar: object, panel_width: float
) -> Figure:
    _require(table, [value, x, hue, panel])
    panels, methods = _first_seen(table[panel]), _first_seen(table[hue])
    palette = _palette(methods)
    with sns.axes_style(STYLE):
        fig = Figure(figsize=(panel_width * len(panels), 3.8), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, name in zip(axes, panels):
            data = table[table[panel].astype(str) == name]
            sns.barplot(data=data, x=x, y=value, hue=hue, order=_first_seen(data[x]), hue_order=methods,
                        palette=palette, errorbar=errorbar, ax=ax)  # fmt: skip
            ax.set_title(name)
            ax.set_xlabel("")
            ax.tick_params(axis="x", labelrotation=45)
            if ax.get_legend() is not None:
                ax.get_legend().remove()
        axes[0].set_ylabel("mean probability distance")
        handles = [_patch(palette[m]) for m in methods]
        fig.legend(handles, methods, loc="outside upper center", ncols=len(methods), frameon=False)
    return fig


def _patch(colour: str, *, hatch: str | None = None) -> object:
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, hatch=hatch, edgecolor="white" if hatch else colour)


#: Colour of the paper's bars where they stand beside ours in a one-method figure (Figure 9).
PAPER_COLOUR = "#9e9e9e"


def attribute_removal_bars(
    table: pd.DataFrame | None,
    *,
    paper: pd.DataFrame | bool | None = None,
    value: str = "removed_fraction",
    label: str = "attribute",
    percent: bool = True,
    sort: bool = True,
) -> Figure:
    """Figure 9: horizontal bars of how often each CelebA attribute is removed, largest on top.

    ``paper`` (a frame, or True for the paper's Table 6) puts the paper's bar beside ours for every
    attribute, sorted by the paper's value; attributes only one side has get one bar.
    """
    paper = _paper_values(paper, "table6")
    single = _one_source(table, paper, "Figure 9")
    scale = 100.0 if percent else 1.0
    if single is not None:
        _require(single, [value, label])
        data = single.sort_values(value, ascending=False, kind="stable") if sort else single
        sides = {"": data.set_index(data[label].astype(str))[value]}
    else:
        _require(table, [value, label])
        _require(paper, [value, label])
        first = paper.sort_values(value, ascending=False, kind="stable") if sort else paper
        sides = {side: frame.set_index(frame[label].astype(str))[value]
                 for side, frame in (("paper", first), ("ours", table))}  # fmt: skip
    names = list(dict.fromkeys(name for series in sides.values() for name in series.index))
    ours_colour = METHOD_COLOURS["GANonymization"]
    colours = {"": ours_colour, "paper": PAPER_COLOUR, "ours": ours_colour}
    height = 0.8 / len(sides)
    with sns.axes_style(STYLE):
        fig = Figure(figsize=(6.5, (0.22 + 0.1 * (len(sides) - 1)) * len(names) + 1.2), layout="constrained")
        ax = fig.subplots()
        positions = np.arange(len(names))
        for k, (side, series) in enumerate(sides.items()):
            values = series.reindex(names).to_numpy(dtype=float) * scale
            drawn = ~np.isnan(values)
            offset = (k - (len(sides) - 1) / 2) * height
            ax.barh((positions + offset)[drawn], values[drawn], height if side else 0.8, color=colours[side],
                    label=side or None)  # fmt: skip
        ax.set_yticks(positions, names)
        ax.invert_yaxis()
        ax.set_xlim(0, scale)
        ax.set_xlabel("removed (%)" if percent else "removed fraction")
        ax.set_ylabel("")
        if len(sides) > 1:
            ax.legend(loc="lower right", frameon=False)
    return fig


def confusion_grid(
    confusions: pd.DataFrame,
    *,
    rows: str = "dataset",
    cols: str = "train_data",
    true: str = "true",
    predicted: str = "predicted",
    value: str = "value",
    fmt: str = ".2f",
    cell_size: float = 2.8,
) -> Figure:
    """Figure 10: a grid of confusion matrices, one per dataset (row) and training data (column).

    ``confusions`` is long form (``metrics.confusion(..., tidy=True)`` plus ``rows``/``cols``
    columns); label order is first-seen per row. Missing combinations leave an empty panel.
    """
    _require(confusions, [rows, cols, true, predicted, value])
    row_names, col_names = _first_seen(confusions[rows]), _first_seen(confusions[cols])
    vmax = float(confusions[value].max()) if len(confusions) else 1.0
    with sns.axes_style("white"):
        fig = Figure(figsize=(cell_size * len(col_names), cell_size * len(row_names)), layout="constrained")
        axes = fig.subplots(len(row_names), len(col_names), squeeze=False)
        for i, row_name in enumerate(row_names):
            in_row = confusions[confusions[rows].astype(str) == row_name]
            labels = list(dict.fromkeys([*in_row[true].astype(str), *in_row[predicted].astype(str)]))
            for j, col_name in enumerate(col_names):
                ax = axes[i, j]
                cell = in_row[in_row[cols].astype(str) == col_name]
                if cell.empty:
                    ax.set_axis_off()
                    continue
                cell = cell.assign(**{true: cell[true].astype(str), predicted: cell[predicted].astype(str)})
                matrix = (cell.pivot_table(index=true, columns=predicted, values=value, aggfunc="sum")
                          .reindex(index=labels, columns=labels).fillna(0.0))  # fmt: skip
                sns.heatmap(matrix, ax=ax, annot=len(labels) <= 8, fmt=fmt, cbar=False, vmin=0.0, vmax=vmax,
                            xticklabels=labels, yticklabels=labels,  # explicit: no slow overlap check
                            cmap="Blues", square=True, annot_kws={"fontsize": 6})  # fmt: skip
                ax.set_title(f"{row_name} / {col_name}", fontsize=9)
                ax.set_xlabel("predicted" if i == len(row_names) - 1 else "")
                ax.set_ylabel("true" if j == 0 else "")
                ax.tick_params(labelsize=6)
    return fig


def attribute_confusion_grid(
    confusions: pd.DataFrame,
    *,
    cols: str = "train_data",
    attribute: str = "attribute",
    true: str = "true",
    predicted: str = "predicted",
    value: str = "value",
    fmt: str | None = None,
    blocks: int | None = None,
    cell_size: float = 0.36,
    label_width: float = 1.1,
    max_width: float = 12.0,
) -> Figure:
    """Figure 11: a small confusion matrix (absent/present) per attribute (row) and training data (column).

    ``confusions`` is long form (``metrics.multilabel_confusion(..., tidy=True)`` plus a ``cols``
    column) for one dataset. Attributes, in first-seen order, wrap into ``blocks`` side by side
    (default: as many as fit in ``max_width`` inches); each block has one heatmap column per training
    data, in which every attribute's matrix is a square of cells, split from the next by a white bar.
    Underscores in attribute names show as spaces; a missing combination leaves its square empty.
    ``fmt`` defaults to ``.0f`` when all values are whole numbers (counts), else ``.2f``.
    """
    _require(confusions, [attribute, cols, true, predicted, value])
    if confusions.empty:
        raise ValueError("no confusion matrices to draw")
    keys = [attribute, cols, true, predicted]
    data = confusions.assign(**{c: confusions[c].astype(str) for c in keys})
    if data.duplicated(keys).any():
        raise ValueError(f"several values per {keys}: pass the confusions of one dataset")
    names, variants = _first_seen(data[attribute]), _first_seen(data[cols])
    labels = list(dict.fromkeys([*data[true], *data[predicted]]))
    k = len(labels)
    values = data[value].to_numpy(dtype=float)
    fmt = fmt or (".0f" if np.array_equal(values, np.round(values)) else ".2f")
    block_width = label_width + (k * cell_size + 0.2) * len(variants)
    n_blocks = blocks or max(1, min(int(max_width // block_width), math.ceil(len(names) / 8)))
    n_rows = math.ceil(len(names) / n_blocks)
    # cube[attribute, variant] is one matrix (NaN: no such combination), padded to whole blocks.
    levels = {attribute: names, cols: variants, true: labels, predicted: labels}
    codes = tuple(pd.Categorical(data[c], categories=levels[c]).codes for c in keys)
    cube = np.full((n_blocks * n_rows, len(variants), k, k), np.nan)
    cube[codes[0], codes[1]] = 0.0
    cube[codes] = values
    vmax = max(1.0, float(np.nanmax(values)))
    with sns.axes_style("white"):
        height = (k * cell_size + 0.08) * n_rows + 0.8
        fig = Figure(figsize=(block_width * n_blocks, height), layout="constrained")
        axes = fig.subplots(1, n_blocks * len(variants), squeeze=False)[0]
        for column, ax in enumerate(axes):
            block, j = divmod(column, len(variants))
            in_block = names[block * n_rows : (block + 1) * n_rows]
            stacked = cube[block * n_rows : (block + 1) * n_rows, j].reshape(-1, k)
            sns.heatmap(stacked, ax=ax, mask=np.isnan(stacked), annot=True, fmt=fmt, cbar=False, vmin=0.0,
                        vmax=vmax, cmap="Blues", square=True, linewidths=0.5, linecolor="white",
                        xticklabels=False, yticklabels=False, annot_kws={"fontsize": 7})  # fmt: skip
            ax.hlines(np.arange(1, n_rows) * k, 0, k, color="white", linewidth=5)
            ax.set_xticks([])
            if j == 0:
                ax.set_yticks(np.arange(len(in_block)) * k + k / 2, [n.replace("_", " ") for n in in_block],
                              rotation=0, fontsize=8)  # fmt: skip
            else:
                ax.set_yticks([])
            ax.set_title(variants[j], fontsize=7)
        fig.supxlabel(f"each square: rows = true ({', '.join(labels)}), "
                      f"columns = predicted ({', '.join(labels)})", fontsize=8)  # fmt: skip
    return fig


def identity_distance_bars(
    table: pd.DataFrame,
    *,
    value: str = "cosine_distance",
    label: str = "label",
    threshold: float = 0.3,
) -> Figure:
    """Table 1 as bars: mean identity (cosine) distance per method with the re-identification
    threshold as a dashed line; bars above it (not re-identified on average) are drawn solid."""
    if label not in table.columns and {"method", "kernel"} <= set(table.columns):
        kernels = table["kernel"].astype(object).where(table["kernel"].notna(), "")
        table = table.assign(**{label: [f"{m} {k}".strip() for m, k in zip(table["method"], kernels)]})
    _require(table, [value, label])
    values = table[value].to_numpy(dtype=float)
    names = table[label].astype(str).tolist()
    methods = table["method"].astype(str).tolist() if "method" in table.columns else names
    palette = _palette(list(dict.fromkeys(methods)))
    with sns.axes_style(STYLE):
        fig = Figure(figsize=(max(4.0, 0.8 * len(names) + 1.5), 3.6), layout="constrained")
        ax = fig.subplots()
        positions = np.arange(len(names))
        colours = [palette[m] for m in methods]
        bars = ax.bar(positions, values, color=colours, edgecolor="black", linewidth=0.6)
        for bar, v in zip(bars, values):
            bar.set_alpha(1.0 if v > threshold else 0.45)
        ax.axhline(threshold, color="black", linestyle="--", linewidth=1.0, label=f"threshold {threshold:g}")
        ax.set_xticks(positions, names, rotation=45, ha="right")
        ax.set_ylabel("mean cosine distance")
        ax.set_ylim(0, max(1.0, float(np.nanmax(values)) * 1.05) if len(values) else 1.0)
        ax.legend(loc="upper left", frameon=False)
    return fig
