"""The evaluation figures build from the paper's own tables, with the right bars and panels."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from ganon.evaluation.figures import (
    attribute_removal_bars,
    confusion_grid,
    identity_distance_bars,
    mean_distance_bars,
)
from ganon.evaluation.metrics import confusion
from ganon.evaluation.reference import paper_table


def _bars(ax: object) -> int:
    return sum(len(container) for container in ax.containers)  # type: ignore[attr-defined]


def _saved_png(fig: Figure, path: Path) -> Image.Image:
    fig.savefig(path, dpi=60)
    image = Image.open(path)
    assert image.format == "PNG" and image.width > 100 and image.height > 100
    pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 5  # something was drawn
    return image


@pytest.fixture()
def rc_unchanged():
    before = dict(matplotlib.rcParams)
    yield
    after = dict(matplotlib.rcParams)
    assert {k for k in before if before[k] != after[k]} == set()


def test_figure7_bars_per_dataset_panel(tmp_path: Path, rc_unchanged: None) -> None:
    fig = mean_distance_bars(paper_table("table2"))
    assert [ax.get_title() for ax in fig.axes] == ["AffectNet", "CK+", "FACES"]
    assert [_bars(ax) for ax in fig.axes] == [24, 21, 18]
    heights = sorted(round(p.get_height(), 6) for ax in fig.axes for p in ax.patches if p.get_height() > 0)
    assert heights == sorted(paper_table("table2")["mean_probability_distance"].round(6))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["GANonymization", "DeepPrivacy2", "CIAGAN"]
    _saved_png(fig, tmp_path / "figure7.png")


def test_figure7_from_per_image_distances() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "dataset": "D", "emotion": np.repeat(["Happy", "Sad"], 20), "method": np.tile(["A", "B"], 20),
        "distance": rng.random(40),
    })  # fmt: skip
    fig = mean_distance_bars(frame, value="distance", errorbar=("se", 1))
    assert len(fig.axes) == 1 and _bars(fig.axes[0]) == 4
    assert len(fig.axes[0].lines) == 4  # one error bar per bar


def test_figure9_sorted_attribute_bars(tmp_path: Path, rc_unchanged: None) -> None:
    table = paper_table("table6").sample(frac=1.0, random_state=1)  # shuffled: the figure sorts
    fig = attribute_removal_bars(table)
    ax = fig.axes[0]
    assert len(ax.patches) == 40
    widths = [p.get_width() for p in sorted(ax.patches, key=lambda p: p.get_y())]
    assert widths == sorted(widths, reverse=True) and widths[0] == 100.0
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] in {"Bald", "Gray Hair"} and labels[-1] == "Young"
    _saved_png(fig, tmp_path / "figure9.png")


def test_table1_identity_bars_with_threshold(tmp_path: Path, rc_unchanged: None) -> None:
    fig = identity_distance_bars(paper_table("table1"))
    ax = fig.axes[0]
    assert len(ax.patches) == 8
    assert [line.get_ydata()[0] for line in ax.lines] == [0.3]
    solid = [p.get_alpha() == 1.0 for p in ax.patches]
    assert solid == list(paper_table("table1")["cosine_distance"] > 0.3)
    assert [t.get_text() for t in ax.get_xticklabels()][4] == "Pixelation 8x8"
    # also from a table with method/kernel only (the label is built)
    bare = identity_distance_bars(paper_table("table1")[["method", "kernel", "cosine_distance"]])
    assert [t.get_text() for t in bare.axes[0].get_xticklabels()][6] == "Blur 9x9"
    _saved_png(fig, tmp_path / "table1.png")


def test_figure10_confusion_grid_datasets_by_training_data(tmp_path: Path, rc_unchanged: None) -> None:
    rng = np.random.default_rng(4)
    frames = []
    for dataset, k in (("AffectNet", 8), ("CK+", 7), ("FACES", 6)):
        for train_data in ("Original", "GANonymization", "DeepPrivacy2", "CIAGAN"):
            y = rng.integers(0, k, 40)
            pred = np.where(rng.random(40) < 0.7, y, rng.integers(0, k, 40))
            long = confusion(y, pred, list(range(k)), normalize="true", tidy=True)
            frames.append(long.assign(dataset=dataset, train_data=train_data))
    grid = pd.concat(frames, ignore_index=True)
    grid = grid[~((grid.dataset == "FACES") & (grid.train_data == "CIAGAN"))]  # one missing panel
    fig = confusion_grid(grid)
    assert len(fig.axes) == 12
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(visible) == 11
    assert visible[0].get_title() == "AffectNet / Original"
    cells = [ax.collections[0].get_array().size for ax in visible]
    assert cells == [64] * 4 + [49] * 4 + [36] * 3
    _saved_png(fig, tmp_path / "figure10.png")


def test_figures_report_missing_columns() -> None:
    with pytest.raises(KeyError, match="emotion"):
        mean_distance_bars(paper_table("table2").drop(columns="emotion"))
    with pytest.raises(KeyError, match="removed_fraction"):
        attribute_removal_bars(paper_table("table1"))
