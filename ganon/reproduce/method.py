"""Section 3 on the sample photos: the tables and picture rows that chapters 3.1-3.3 show of each stage.

The paper's Section 3 has no numbered result besides its pipeline diagram (Figure 2), so nothing
here is registered in ``REPRODUCERS``; these functions keep the chapters' computing out of the
notebooks, which call one function per table or figure and display it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "aligned_faces",
    "alignment_panels",
    "background_value",
    "detection_counts",
    "eye_angles",
    "face_gallery",
    "landmark_shift",
    "mesh_misses",
    "opening_series",
    "posed_openings",
    "segmentation_rows",
    "style_summary",
]


def aligned_faces(path: Path | str, detector: Any, align: Any) -> list[np.ndarray]:
    """The aligned face canvases of one photo (Section 3.1), in detection order."""
    from ganon.imageio import read_image
    from ganon.pipeline.extract import extract_faces

    return [face.image for face in extract_faces(read_image(path).rgb, detector, align)]


# --- 3.1 face extraction ---------------------------------------------------------------------------


def detection_counts(detector: Any, photos: Mapping[str, Path], thresholds: Sequence[float] = (0.5, 0.9, 0.99)
                     ) -> pd.DataFrame:
    """Per photo: how many detections reach each score threshold, and the lowest score kept at the first."""
    from ganon.imageio import read_image

    rows = []
    for name, path in photos.items():
        scores = [d.score for d in detector.detect(read_image(path).rgb) if d.score >= thresholds[0]]
        rows.append({"photo": name, **{f"faces ≥ {t}": sum(s >= t for s in scores) for t in thresholds},
                     f"lowest score ≥ {thresholds[0]}": round(min(scores), 3) if scores else None})
    return pd.DataFrame(rows)


def eye_angles(detector: Any, photos: Mapping[str, Path]) -> pd.DataFrame:
    """One row per detected face: photo, face index, the angle of its eye line and the detection itself."""
    from ganon.imageio import read_image
    from ganon.pipeline.extract import eye_angle

    return pd.DataFrame([{"photo": name, "face": i, "eye angle [°]": round(eye_angle(det), 1), "detection": det}
                         for name, path in photos.items()
                         for i, det in enumerate(detector.detect(read_image(path).rgb))])


def alignment_panels(examples: Sequence[Mapping[str, Any]], photos: Mapping[str, Path], detector: Any,
                     image_size: int) -> tuple[list[list[np.ndarray]], list[str], np.ndarray]:
    """For each example face (rows of :func:`eye_angles`): detected region, unrotated, rotated (the paper's),
    its padding and a margin of 0.2; with one row title each and the last rotated canvas."""
    from ganon import visualize
    from ganon.imageio import read_image
    from ganon.pipeline.extract import AlignConfig, extract_faces

    align = AlignConfig(resolution=image_size)
    panels, labels, upright = [], [], None
    for row in examples:
        photo, det, i = read_image(photos[row["photo"]]).rgb, row["detection"], row["face"]
        x1, y1, x2, y2 = (int(v) for v in det.box)
        pad = (x2 - x1) // 3
        upright = extract_faces(photo, detector, align)[i]
        panels.append([
            visualize.draw_detections(photo, [det], scores=False, thickness=max(1, (x2 - x1) // 80))[
                max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad],
            extract_faces(photo, detector, AlignConfig(resolution=image_size, rotate=False))[i].image,
            upright.image,
            visualize.overlay_mask(upright.image, (~upright.valid).astype(np.float32), alpha=0.6),
            extract_faces(photo, detector, AlignConfig(resolution=image_size, margin=0.2))[i].image,
        ])  # fmt: skip
        labels.append(f"{visualize.face_label(row['photo'])} ({row['eye angle [°]']:+.0f}°)")
    return panels, labels, upright.image


def face_gallery(photos: Mapping[str, Path], detector: Any, align: Any) -> tuple[list[np.ndarray], list[str]]:
    """Every aligned face of every photo, with a short title each."""
    from ganon import visualize

    images, titles = [], []
    for name, path in photos.items():
        for i, face in enumerate(aligned_faces(path, detector, align)):
            images.append(face)
            titles.append(visualize.face_label(name, i, width=14))
    return images, titles


# --- 3.2 segmentation ------------------------------------------------------------------------------


def segmentation_rows(photos: Mapping[str, Path], chosen: Sequence[tuple[str, int]], detector: Any, align: Any,
                      segmenter: Any, mesh: Any) -> list[list[np.ndarray | None]]:
    """Per chosen (photo, face index): aligned face, person mask, face outline, head mask and segmented face."""
    from ganon.pipeline.segment import apply_mask, face_outline_mask

    rows = []
    for name, index in chosen:
        canvas = aligned_faces(photos[name], detector, align)[index]
        marks = mesh(canvas)
        person = segmenter.person_mask(canvas) if hasattr(segmenter, "person_mask") else None
        outline = face_outline_mask(marks) if marks is not None else None
        head = segmenter(canvas, marks)
        rows.append([canvas, person, outline, head, apply_mask(canvas, head)])
    return rows


def background_value(rows: Sequence[Sequence[Any]]) -> int:
    """The largest pixel value left outside the head mask in any segmented face of :func:`segmentation_rows`."""
    return max(int(segmented[head < 0.5].max(initial=0)) for *_, head, segmented in rows)


def landmark_shift(chosen: Sequence[tuple[str, int]], rows: Sequence[Sequence[Any]], mesh: Any) -> pd.DataFrame:
    """How far the face mesh moves when it runs on the segmented face instead of the aligned one."""
    from ganon.pipeline.landmarks import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS

    shifts = []
    for (name, index), (canvas, _, _, _, segmented) in zip(chosen, rows):
        before, after = mesh(canvas), mesh(segmented)
        if before is None or after is None:
            shifts.append({"face": f"{name} #{index}", "mean shift [px]": None, "relative to eye distance": None})
            continue
        moved = np.linalg.norm(before.xy - after.xy, axis=1).mean()
        eyes = np.linalg.norm(before.xy[list(LEFT_EYE_CORNERS)].mean(0) - before.xy[list(RIGHT_EYE_CORNERS)].mean(0))
        shifts.append({"face": f"{name} #{index}", "mean shift [px]": round(float(moved), 2),
                       "relative to eye distance": round(float(moved / eyes), 4)})
    return pd.DataFrame(shifts)


# --- 3.3 landmarks ---------------------------------------------------------------------------------


def style_summary(marks: Any) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """The landmarks drawn in every registered style, and per style its lit pixels and grey values."""
    from ganon.pipeline.landmarks import RENDER_STYLES, render_landmarks

    drawings = {name: render_landmarks(marks, style=name) for name in RENDER_STYLES.names()}
    summary = pd.DataFrame([{"style": name, "lit pixels": int(np.count_nonzero(img.any(axis=2))),
                             "grey values": sorted(set(np.unique(img)) - {0}),
                             "share of the canvas [%]": round(100 * np.count_nonzero(img.any(axis=2))
                                                              / img[..., 0].size, 2)}
                            for name, img in drawings.items()])  # fmt: skip
    return drawings, summary


def posed_openings(photos: Mapping[str, Path], names: Sequence[str], detector: Any, align: Any, mesh: Any,
                   style: str) -> tuple[pd.DataFrame, list[list[np.ndarray | None]]]:
    """Mouth and eye opening of the first face of each posed portrait, and its rows of faces and drawings."""
    from ganon.pipeline.landmarks import eye_opening, mouth_opening, render_landmarks

    posed = [aligned_faces(photos[name], detector, align)[0] for name in names]
    marks = [mesh(img) for img in posed]
    openings = pd.DataFrame([{"portrait": name, "mouth opening": round(mouth_opening(m), 3),
                              "eye opening": round(eye_opening(m), 3)}
                             for name, m in zip(names, marks) if m is not None])  # fmt: skip
    drawings = [render_landmarks(m, style=style) if m is not None else None for m in marks]
    return openings, [posed, drawings]


def opening_series(frames: Sequence[Path], detector: Any, align: Any, mesh: Any) -> dict[str, list[float]]:
    """Mouth and eye opening of the first face in each frame (NaN where no face or no mesh was found)."""
    from ganon.pipeline.landmarks import eye_opening, mouth_opening

    series: dict[str, list[float]] = {"mouth opening": [], "eye opening": []}
    for path in frames:
        found = aligned_faces(path, detector, align)
        m = mesh(found[0]) if found else None
        series["mouth opening"].append(mouth_opening(m) if m is not None else float("nan"))
        series["eye opening"].append(eye_opening(m) if m is not None else float("nan"))
    return series


def mesh_misses(photos: Mapping[str, Path], detector: Any, align: Any, mesh: Any
                ) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """The aligned faces on which the face mesh finds no landmarks: one row each, and the faces."""
    rows, images = [], []
    for name, path in photos.items():
        for i, img in enumerate(aligned_faces(path, detector, align)):
            if mesh(img) is None:
                rows.append({"photo": name, "face": i})
                images.append(img)
    return pd.DataFrame(rows, columns=["photo", "face"]), images


# --- 3.4 re-synthesis ------------------------------------------------------------------------------


def network_presets() -> pd.DataFrame:
    """Every pix2pix network preset: resolution, depth, channels, bottleneck, parameter counts, patch grid."""
    import torch

    from ganon.models.pix2pix import (
        DISCRIMINATOR_PRESETS,
        GENERATOR_PRESETS,
        build_discriminator,
        build_generator,
        count_parameters,
    )

    rows = []
    for name in GENERATOR_PRESETS.names():
        config = GENERATOR_PRESETS.get(name)
        generator = build_generator(name, init=False)
        discriminator = build_discriminator(name, init=False) if name in DISCRIMINATOR_PRESETS else None
        side = config.resolution
        patches = None
        if discriminator is not None:
            with torch.no_grad():
                patches = discriminator(torch.zeros(1, 3, side, side), torch.zeros(1, 3, side, side)).shape[-1]
        rows.append({"preset": name, "resolution": side, "encoder blocks": config.depth,
                     "channels": f"{config.widths[0]}–{config.widths[-1]}",
                     "bottleneck": f"{side // 2 ** config.depth} × {side // 2 ** config.depth}",
                     "generator parameters": count_parameters(generator),
                     "discriminator parameters": count_parameters(discriminator) if discriminator is not None else None,
                     "patch grid": f"{patches} × {patches}" if patches else None})
    return pd.DataFrame(rows)


def training_presets() -> pd.DataFrame:
    """Every training preset's recipe: networks, resolution, batch, epochs, optimiser, L1 weight, loss, style."""
    from ganon.training.config import TRAIN_PRESETS, get_preset

    rows = []
    for name in TRAIN_PRESETS.names():
        cfg = get_preset(name)
        rows.append({"preset": name, "networks": cfg.generator, "resolution": cfg.resolution, "batch": cfg.batch_size,
                     "epochs": cfg.epochs, "lr": cfg.lr, "betas": f"{cfg.betas[0]}, {cfg.betas[1]}",
                     "λ (L1)": cfg.lambda_l1, "loss": cfg.gan_loss, "authors' double forward": cfg.double_forward,
                     "landmarks": cfg.render_style})
    return pd.DataFrame(rows)


def stage_rows(anonymizer: Any, photos: Mapping[str, Path], names: Sequence[str]
               ) -> tuple[list[list[np.ndarray | None]], list[str]]:
    """Every face of the named photos through 3.1-3.4 (``visualize.stage_strip``), with a row title each."""
    from ganon import visualize
    from ganon.imageio import read_image

    grid, labels = [], []
    for name in names:
        for index, stage in enumerate(anonymizer.stages(read_image(photos[name]).rgb)):
            grid.append(visualize.stage_strip(stage))
            labels.append(visualize.face_label(name, index))
    return grid, labels
