"""Pictures for the book: panels of pipeline stages, grids of faces, and overlays drawn on photos.

Overlay helpers take an RGB uint8 image and return a new one (the input is never modified); the
figure helpers return a ``matplotlib.figure.Figure`` built without pyplot, so they change no global
state. Display a figure with ``ganon.book.show_figure`` or save it with ``fig.savefig(path)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ganon.pipeline.landmarks import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS
from ganon.types import Detection, Landmarks

if TYPE_CHECKING:
    import pandas as pd

    from ganon.evaluation.paired import PairedCrops
    from ganon.pipeline.anonymize import FaceStages

__all__ = [
    "STAGE_TITLES",
    "beside_paper",
    "card_table",
    "draw_detections",
    "draw_landmarks",
    "enlarge",
    "eye_box",
    "face_grid",
    "face_label",
    "model_card",
    "overlay_mask",
    "paired_examples",
    "series_plot",
    "show_images",
    "stage_strip",
    "training_grids",
    "zoom_eye",
]

Colour = tuple[int, int, int]


def _line_width(image: np.ndarray) -> int:
    """A line thickness that stays visible when the figure shrinks a large photo."""
    return max(1, round(max(image.shape[:2]) / 300))


def draw_detections(
    image: np.ndarray,
    detections: Sequence[Detection],
    *,
    colour: Colour = (0, 255, 0),
    thickness: int | None = None,
    points: bool = True,
    scores: bool = True,
) -> np.ndarray:
    """Boxes (and the five RetinaFace points, and scores) of ``detections`` drawn on a copy of ``image``."""
    out = np.ascontiguousarray(image.copy())
    width = thickness or _line_width(image)
    for det in detections:
        x1, y1, x2, y2 = (int(round(float(v))) for v in det.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, width)
        if points:
            for x, y in np.asarray(det.points):
                cv2.circle(out, (int(round(float(x))), int(round(float(y)))), 2 * width, (255, 0, 0), -1)
        if scores:
            scale = 0.4 * width
            cv2.putText(out, f"{det.score:.2f}", (x1, max(0, y1 - 3 * width)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        colour, width, cv2.LINE_AA)
    return out


def draw_landmarks(
    image: np.ndarray,
    landmarks: Landmarks,
    *,
    colour: Colour = (0, 255, 0),
    radius: int = 1,
) -> np.ndarray:
    """The face-mesh points drawn as small discs on a copy of ``image`` (scaled if sizes differ)."""
    out = np.ascontiguousarray(image.copy())
    scale = out.shape[0] / landmarks.canvas_size
    for x, y in np.asarray(landmarks.xy, dtype=np.float64) * scale:
        cv2.circle(out, (int(round(x)), int(round(y))), radius, colour, -1)
    return out


def overlay_mask(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    colour: Colour = (255, 0, 0),
    alpha: float = 0.45,
) -> np.ndarray:
    """``image`` tinted with ``colour`` in proportion to ``mask`` (float in [0, 1], same height/width)."""
    if mask.shape[:2] != image.shape[:2]:
        raise ValueError(f"mask of shape {mask.shape} does not fit an image of shape {image.shape}")
    weight = alpha * np.clip(mask.astype(np.float32), 0.0, 1.0)[..., None]
    tinted = (1 - weight) * image.astype(np.float32) + weight * np.asarray(colour, dtype=np.float32)
    return np.clip(np.round(tinted), 0, 255).astype(np.uint8)


def enlarge(image: np.ndarray, box: tuple[int, int, int, int], *, scale: int = 8) -> np.ndarray:
    """The ``(x1, y1, x2, y2)`` region of ``image`` magnified by pixel repetition, so single pixels show."""
    if scale < 1:
        raise ValueError(f"scale must be positive, got {scale}")
    x1, y1, x2, y2 = box
    region = image[max(0, y1):y2, max(0, x1):x2]
    if region.size == 0:
        raise ValueError(f"box {box} lies outside an image of shape {image.shape}")
    return np.repeat(np.repeat(region, scale, axis=0), scale, axis=1)


def _show(ax: Axes, image: np.ndarray | None, title: str | None, missing: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():  # a thin frame, so white masks stand out from the page
        spine.set_edgecolor("#bbbbbb")
        spine.set_linewidth(0.6)
    if title:
        ax.set_title(title, fontsize=9)
    if image is None:
        ax.set_facecolor("#eeeeee")
        ax.text(0.5, 0.5, missing, ha="center", va="center", fontsize=8, color="#555555", wrap=True,
                transform=ax.transAxes)
        return
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0, vmax=1 if image.dtype.kind == "f" else 255,
                  interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest" if max(image.shape[:2]) <= 256 else "antialiased")


def show_images(
    images: Sequence[np.ndarray | None],
    *,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 2.4,
    missing: str = "nothing",
) -> Figure:
    """Images side by side (wrapped after ``ncols``); 2-D float arrays are shown as grey masks."""
    if not images:
        raise ValueError("no images to show")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    ncols = min(ncols or len(images), len(images))
    nrows = math.ceil(len(images) / ncols)
    fig = Figure(figsize=(size * ncols, size * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i < len(images):
            _show(ax, images[i], titles[i] if titles else None, missing)
        else:
            ax.set_axis_off()
    return fig


def face_grid(
    rows: Sequence[Sequence[np.ndarray | None]],
    *,
    col_titles: Sequence[str],
    row_titles: Sequence[str] | None = None,
    size: float = 1.7,
    missing: str = "not available",
) -> Figure:
    """A table of faces: one row per face, one column per method; ``None`` cells say ``missing``."""
    if not rows:
        raise ValueError("no rows to show")
    ncols = len(col_titles)
    if any(len(row) != ncols for row in rows):
        raise ValueError(f"every row needs {ncols} cells, one per column title")
    if row_titles is not None and len(row_titles) != len(rows):
        raise ValueError(f"{len(row_titles)} row titles for {len(rows)} rows")
    fig = Figure(figsize=(size * ncols, size * len(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(rows), ncols, squeeze=False)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            ax = axes[r, c]
            _show(ax, image, col_titles[c] if r == 0 else None, missing)
            if c == 0 and row_titles is not None:
                ax.set_ylabel(row_titles[r], fontsize=8)
    return fig


def series_plot(
    series: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    size: tuple[float, float] = (6.5, 2.8),
) -> Figure:
    """Line plot of one or more named series over their index (NaN leaves a gap)."""
    if not series:
        raise ValueError("no series to plot")
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    for name, values in series.items():
        ax.plot(np.arange(len(values)), np.asarray(values, dtype=float), marker=".", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize="small")
    return fig


# --------------------------------------------------------------------------------------------------
# Landmark close-ups

#: Mesh indices of the two corners of each eye, by the side of the picture it appears on.
_EYE_CORNERS: dict[str, tuple[int, int]] = {"left": LEFT_EYE_CORNERS, "right": RIGHT_EYE_CORNERS}


def eye_box(
    landmarks: Landmarks,
    *,
    side: Literal["left", "right"] = "left",
    size: int | None = None,
) -> tuple[int, int, int, int]:
    """A 3:2 ``(x1, y1, x2, y2)`` box around one eye (``side`` of the picture) on an image of ``size`` pixels.

    The box is twice the eye's corner-to-corner width, so lids and brow edge are in it; ``size``
    defaults to the landmarks' canvas, and the box is scaled to it.
    """
    if side not in _EYE_CORNERS:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    scale = (size or landmarks.canvas_size) / landmarks.canvas_size
    corners = np.asarray(landmarks.xy, dtype=np.float64)[list(_EYE_CORNERS[side])] * scale
    cx, cy = corners.mean(axis=0)
    half_w = max(4.0, float(np.linalg.norm(corners[0] - corners[1])))
    half_h = half_w * 2 / 3
    return (int(round(cx - half_w)), int(round(cy - half_h)), int(round(cx + half_w)), int(round(cy + half_h)))


def zoom_eye(
    image: np.ndarray,
    landmarks: Landmarks,
    *,
    side: Literal["left", "right"] = "left",
    scale: int = 8,
) -> np.ndarray:
    """The region of ``eye_box`` in ``image`` (a photo or a landmark rendering) magnified ``scale`` times."""
    box = eye_box(landmarks, side=side, size=image.shape[0])
    x1, y1, x2, y2 = box
    h, w = image.shape[:2]
    return enlarge(image, (max(0, x1), max(0, y1), min(w, x2), min(h, y2)), scale=scale)


# --------------------------------------------------------------------------------------------------
# Pipeline stages

#: Column titles matching ``stage_strip``.
STAGE_TITLES: tuple[str, ...] = ("aligned face", "landmarks", "synthesized", "replaced region")


def stage_strip(stage: FaceStages) -> list[np.ndarray | None]:
    """One face's pictures in pipeline order (aligned, landmark canvas, synthesized, outline) for ``face_grid``.

    A face without landmarks has ``None`` for the last three, which the grid shows as missing.
    """
    return [stage.aligned.image, stage.canvas, stage.synthesized, stage.outline]


def face_label(name: str, index: int | None = None, *, width: int = 20) -> str:
    """A short panel title for face ``index`` of photo ``name``: long names keep their start and end."""
    if len(name) > width:
        keep = width - 1
        name = f"{name[: keep - keep // 2]}…{name[len(name) - keep // 2:]}"
    return name if index is None else f"{name} #{index}"


def training_grids(run_dir: str | Path) -> list[Path]:
    """The sample grids a training run wrote (``samples/step_*.png``: landmarks | generated | target), oldest first."""
    return sorted((Path(run_dir) / "samples").glob("step_*.png"))


# --------------------------------------------------------------------------------------------------
# Tables beside the paper


def beside_paper(ours: Mapping[str, Any]) -> pd.DataFrame:
    """A table of the paper's numbers (``headline_number`` keys) beside ours, with the sentence they come from.

    ``same`` says whether the two agree (numbers within 1e-9, anything else by its text).
    """
    import pandas as pd

    from ganon.evaluation.reference import headline_number, paper_table

    sources = paper_table("headline").set_index("key")["source"]
    rows = []
    for key, value in ours.items():
        paper = headline_number(key)
        if isinstance(paper, float) and isinstance(value, (int, float, np.integer, np.floating)):
            same = bool(abs(float(value) - paper) < 1e-9)
            paper = int(paper) if paper.is_integer() else paper
        else:
            same = str(paper).strip().lower() == str(value).strip().lower()
        rows.append({"quantity": key.replace("_", " "), "paper": paper, "ours": value, "same": same,
                     "paper says": str(sources.get(key, ""))})
    return pd.DataFrame(rows, columns=["quantity", "paper", "ours", "same", "paper says"])


def model_card(weights: str | Path, embedded: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A generator's card: the one stored in the weights file, completed by a ``<stem>.json`` beside it."""
    card = dict(embedded or {})
    sidecar = Path(weights).with_suffix(".json")
    if sidecar.is_file():
        card.update(json.loads(sidecar.read_text(encoding="utf-8")))
    return card


#: Card fields too long for a table (shown elsewhere or not useful to a reader).
_CARD_SKIP = ("packages", "command", "hardware.hostname", "data.dir", "data.preprocess")


def card_table(card: Mapping[str, Any], *, skip: Sequence[str] = _CARD_SKIP) -> pd.DataFrame:
    """A model card flattened to ``field | value`` rows (nested keys joined by dots), long fields left out."""
    import pandas as pd

    rows: list[dict[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if any(prefix == s or prefix.startswith(s + ".") for s in skip):
            return
        if isinstance(value, Mapping) and value:
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
            return
        if isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, (list, tuple)):
            text = ", ".join(str(v) for v in value)
        else:
            text = "" if value is None else str(value)
        rows.append({"field": prefix, "value": text})

    walk("", card)
    return pd.DataFrame(rows, columns=["field", "value"])


def paired_examples(
    paired: PairedCrops, methods: Sequence[str], *, n: int = 5
) -> list[list[np.ndarray | None]]:
    """Rows for Figures 4-6: ``n`` faces spread over a paired-crop set, the original, then each method's.

    Faces are chosen among those the first method anonymized; a method without that face leaves a gap.
    """
    from ganon.imageio import read_image

    pairs = paired.all_pairs()
    first = list(pairs[methods[0]])
    chosen = first[:: max(1, len(first) // n)][:n]
    by_rel = {method: {pair.rel: pair for pair in pairs.get(method, [])} for method in methods}
    rows: list[list[np.ndarray | None]] = []
    for pair in chosen:
        row: list[np.ndarray | None] = [read_image(pair.original).rgb]
        for method in methods:
            match = by_rel[method].get(pair.rel)
            row.append(read_image(match.anonymized).rgb if match is not None else None)
        rows.append(row)
    return rows
