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

from ganon.data.manifests import load_dataset
from ganon.evaluation.figures import (
    attribute_confusion_grid,
    attribute_removal_bars,
    confusion_grid,
    identity_distance_bars,
    mean_distance_bars,
)
from ganon.evaluation.metrics import confusion, multilabel_confusion
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


def _squares(ax: object) -> int:
    """How many 2x2 attribute matrices a Figure 11 column draws (its unmasked cells / 4)."""
    cells = ax.collections[0].get_array()  # type: ignore[attr-defined]
    return int((~np.ma.getmaskarray(cells)).sum()) // 4


def test_figure11_attribute_confusions_by_training_data(tmp_path: Path, rc_unchanged: None) -> None:
    attributes = list(load_dataset("celeba").class_names)
    rng = np.random.default_rng(11)
    frames = []
    for train_data in ("Original", "GANonymization", "DeepPrivacy2"):
        y = (rng.random((60, 40)) < 0.4).astype(int)
        pred = np.where(rng.random((60, 40)) < 0.8, y, 1 - y)
        long = multilabel_confusion(y, pred, attributes, normalize="true")
        frames.append(long.assign(dataset="CelebA", train_data=train_data))
    table = pd.concat(frames, ignore_index=True)
    table = table[~((table.attribute == "Bald") & (table.train_data == "DeepPrivacy2"))]  # one missing
    fig = attribute_confusion_grid(table)
    assert fig.get_size_inches()[0] <= 12.0
    # three blocks of attributes, each with one column per training data
    assert [ax.get_title() for ax in fig.axes] == ["Original", "GANonymization", "DeepPrivacy2"] * 3
    assert [_squares(ax) for ax in fig.axes] == [14, 14, 13, 14, 14, 14, 12, 12, 12]  # 40 + 40 + 39 squares
    shown = [t.get_text() for ax in fig.axes[::3] for t in ax.get_yticklabels()]
    assert shown == [a.replace("_", " ") for a in attributes]
    assert shown[0] == "5 o Clock Shadow" and shown[-1] == "Young"
    assert all(not ax.get_yticklabels() for j, ax in enumerate(fig.axes) if j % 3)
    # the Bald square (5th attribute) of the DeepPrivacy2 column is empty, its neighbours are not
    rows = np.ma.getmaskarray(fig.axes[2].collections[0].get_array()).reshape(-1, 2)
    assert rows[8:10].all() and not rows[6:8].any() and not rows[10:12].any()
    # annotations are the table's rates, row by row: Smiling under GANonymization
    smiling = table[(table.attribute == "Smiling") & (table.train_data == "GANonymization")]["value"]
    block, row = divmod(attributes.index("Smiling"), 14)
    ax = fig.axes[block * 3 + 1]
    texts = sorted((t.get_position()[1], t.get_position()[0], t.get_text()) for t in ax.texts
                   if 2 * row < t.get_position()[1] < 2 * row + 2)  # fmt: skip
    assert [text for _, _, text in texts] == [f"{v:.2f}" for v in smiling]
    assert sum(len(ax.texts) for ax in fig.axes) == 4 * 119
    _saved_png(fig, tmp_path / "figure11.png")


def test_figure11_counts_blocks_and_bad_tables() -> None:
    y = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    counts = multilabel_confusion(y, y[::-1], ["Big_Nose", "Smiling"]).assign(train_data="Original")
    fig = attribute_confusion_grid(counts, blocks=2)
    assert len(fig.axes) == 2 and [_squares(ax) for ax in fig.axes] == [1, 1]
    # Big_Nose: true 1, 1, 0, 0 against predicted 0, 0, 1, 1; counts print as integers
    assert [t.get_text() for t in fig.axes[0].texts] == ["0", "2", "2", "0"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Big Nose"]
    with pytest.raises(ValueError, match="one dataset"):
        attribute_confusion_grid(pd.concat([counts.assign(dataset=d) for d in ("A", "B")]))
    with pytest.raises(KeyError, match="train_data"):
        attribute_confusion_grid(counts.drop(columns="train_data"))


def test_figures_report_missing_columns() -> None:
    with pytest.raises(KeyError, match="emotion"):
        mean_distance_bars(paper_table("table2").drop(columns="emotion"))
    with pytest.raises(KeyError, match="removed_fraction"):
        attribute_removal_bars(paper_table("table1"))


def test_figure7_with_the_paper_beside_ours(tmp_path: Path, rc_unchanged: None) -> None:
    paper = paper_table("table2")
    ours = paper[paper["dataset"] == "CK+"].assign(mean_probability_distance=0.5)
    ours = ours[ours["method"] != "CIAGAN"]  # a method we did not run has no hatched bar
    fig = mean_distance_bars(ours, paper=True)
    assert [ax.get_title() for ax in fig.axes] == ["AffectNet", "CK+", "FACES"]
    ck = fig.axes[1]
    assert not any(p.get_hatch() for ax in fig.axes if ax is not ck for p in ax.patches)
    hatched = [p for p in ck.patches if p.get_hatch()]
    assert len(hatched) == 2 * 7 and {round(p.get_height(), 6) for p in hatched} == {0.5}
    assert len([p for p in ck.patches if not p.get_hatch()]) == 21  # every paper bar
    assert all(ax.get_ylim() == fig.axes[0].get_ylim() for ax in fig.axes)  # one scale for both
    # one colour per method, the same for its paper and its hatched bar
    colours = {p.get_facecolor() for p in hatched}
    assert len(colours) == 2
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["GANonymization", "DeepPrivacy2", "CIAGAN", "paper", "ours"] and all(labels)
    _saved_png(fig, tmp_path / "figure7_beside.png")
    # the smoke profile's stand-in methods get colours of their own, none shared with the paper's methods
    smoke = ours.assign(method=ours["method"].map({"GANonymization": "Blur 9x9", "DeepPrivacy2": "Pixelation 8x8"}))
    legend = mean_distance_bars(smoke, paper=True).legends[0]
    methods = [p.get_facecolor() for p, t in zip(legend.get_patches(), legend.get_texts())
               if t.get_text() not in {"paper", "ours"}]
    assert len(methods) == 5 and len(set(methods)) == 5
    with pytest.raises(ValueError, match="Figure 7"):
        mean_distance_bars(None)
    only_paper = mean_distance_bars(None, paper=True)
    assert [_bars(ax) for ax in only_paper.axes] == [24, 21, 18]


def test_figure9_with_the_paper_beside_ours(tmp_path: Path, rc_unchanged: None) -> None:
    ours = pd.DataFrame({"attribute": ["Young", "Male", "Not_in_paper"], "removed_fraction": [0.6, 0.2, 0.1]})
    fig = attribute_removal_bars(ours, paper=True)
    ax = fig.axes[0]
    assert len(ax.patches) == 40 + 3
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:1] in (["Bald"], ["Gray Hair"]) and labels[-2:] == ["Young", "Not_in_paper"]
    widths = {round(p.get_width(), 6) for p in ax.containers[1]}
    assert widths >= {60.0, 20.0, 10.0}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["paper", "ours"]
    assert ax.get_xlim() == (0.0, 100.0)
    _saved_png(fig, tmp_path / "figure9_beside.png")
