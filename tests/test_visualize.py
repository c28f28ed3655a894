"""ganon.visualize: overlays change exactly the pixels they should, figures hold the panels asked for."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from ganon import visualize
from ganon.imageio import read_image
from ganon.types import Detection, Landmarks


@pytest.fixture(scope="module")
def astronaut(samples_dir):
    return read_image(samples_dir / "photos" / "astronaut.png").rgb


def _detection() -> Detection:
    box = np.array([10, 20, 60, 90], dtype=np.float32)
    points = np.array([[25, 40], [45, 40], [35, 55], [28, 70], [42, 70]], dtype=np.float32)
    return Detection(box=box, points=points, score=0.97)


def test_draw_detections_marks_the_box_edges_and_keeps_the_input(astronaut):
    before = astronaut.copy()
    out = visualize.draw_detections(astronaut, [_detection()], colour=(0, 255, 0), thickness=1,
                                    points=False, scores=False)
    assert np.array_equal(astronaut, before), "the input image was modified"
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert (out[20, 10:61] == (0, 255, 0)).all() and (out[20:91, 60] == (0, 255, 0)).all()
    changed = np.any(out != astronaut, axis=2)
    assert not changed[25:85, 15:55].any(), "pixels inside the box changed"
    assert not changed[100:, 100:].any(), "pixels far from the box changed"


def test_draw_detections_with_points_paints_the_eyes(astronaut):
    out = visualize.draw_detections(astronaut, [_detection()], thickness=1, scores=False)
    assert tuple(out[40, 25]) == (255, 0, 0) and tuple(out[40, 45]) == (255, 0, 0)


def test_draw_landmarks_scales_points_to_the_image():
    points = np.zeros((478, 3), dtype=np.float32)
    points[:, :2] = [10.0, 20.0]
    marks = Landmarks(points=points, canvas_size=64)
    image = np.zeros((128, 128, 3), dtype=np.uint8)
    out = visualize.draw_landmarks(image, marks, colour=(0, 0, 255), radius=0)
    assert tuple(out[40, 20]) == (0, 0, 255)  # (10, 20) on a 64 canvas is (20, 40) on 128
    assert np.count_nonzero(out.any(axis=2)) == 1


def test_overlay_mask_tints_only_inside(astronaut):
    mask = np.zeros(astronaut.shape[:2], dtype=np.float32)
    mask[100:200, 150:250] = 1.0
    out = visualize.overlay_mask(astronaut, mask, colour=(255, 0, 0), alpha=0.5)
    assert np.array_equal(out[mask == 0], astronaut[mask == 0])
    inside = out[100:200, 150:250].astype(int)
    expected = np.round(0.5 * astronaut[100:200, 150:250].astype(float) + 0.5 * np.array([255, 0, 0]))
    assert np.abs(inside - expected).max() <= 1
    with pytest.raises(ValueError, match="does not fit"):
        visualize.overlay_mask(astronaut, mask[:10])


def test_enlarge_repeats_pixels_exactly(astronaut):
    out = visualize.enlarge(astronaut, (5, 7, 15, 12), scale=4)
    assert out.shape == (20, 40, 3)
    assert np.array_equal(out[::4, ::4], astronaut[7:12, 5:15])
    assert np.array_equal(out[3::4, 3::4], astronaut[7:12, 5:15])
    with pytest.raises(ValueError):
        visualize.enlarge(astronaut, (600, 600, 700, 700))


def _images_shown(fig: Figure) -> int:
    return sum(len(ax.images) for ax in fig.axes)


def test_show_images_lays_out_panels_and_masks(astronaut):
    mask = np.zeros((32, 32), dtype=np.float32)
    fig = visualize.show_images([astronaut, mask, None], titles=["photo", "mask", "none"], ncols=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4  # 2 x 2 grid, the last one switched off
    assert _images_shown(fig) == 2
    assert [ax.get_title() for ax in fig.axes[:3]] == ["photo", "mask", "none"]
    with pytest.raises(ValueError, match="titles"):
        visualize.show_images([astronaut], titles=["a", "b"])


def test_face_grid_has_one_panel_per_cell(astronaut):
    face = astronaut[:64, :64]
    fig = visualize.face_grid([[face, None, face], [face, face, None]], col_titles=["a", "b", "c"],
                              row_titles=["r1", "r2"])
    assert len(fig.axes) == 6 and _images_shown(fig) == 4
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    assert fig.axes[3].get_ylabel() == "r2"
    with pytest.raises(ValueError, match="every row"):
        visualize.face_grid([[face]], col_titles=["a", "b"])


def test_series_plot_draws_each_series():
    fig = visualize.series_plot({"mouth": [0.1, 0.2, float("nan")], "eyes": [0.3, 0.3, 0.2]},
                                xlabel="frame", ylabel="opening")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_xlabel() == "frame"
    assert np.allclose(ax.lines[1].get_ydata(), [0.3, 0.3, 0.2])


def _eye_marks(canvas: int = 100) -> Landmarks:
    """A mesh whose only meaningful points are the corners of the two eyes."""
    points = np.full((478, 3), 50.0, dtype=np.float32)
    points[33, :2], points[133, :2] = (20, 40), (30, 40)  # image-left eye, 10 px wide, centre (25, 40)
    points[362, :2], points[263, :2] = (70, 42), (80, 42)
    return Landmarks(points=points, canvas_size=canvas)


def test_eye_box_is_centred_on_the_eye_and_scales_with_the_image():
    marks = _eye_marks()
    x1, y1, x2, y2 = visualize.eye_box(marks, side="left")
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == (25, 40)
    assert x2 - x1 == 20 and abs((y2 - y1) - 20 * 2 / 3) <= 1  # twice the eye's width, 3:2
    assert visualize.eye_box(marks, side="right", size=200)[:2] == (130, 71)  # (75, 42) -> (150, 84), minus half
    with pytest.raises(ValueError, match="side"):
        visualize.eye_box(marks, side="middle")


def test_zoom_eye_magnifies_exactly_the_eye_region(astronaut):
    marks = _eye_marks(canvas=astronaut.shape[0])
    out = visualize.zoom_eye(astronaut, marks, side="left", scale=3)
    x1, y1, x2, y2 = visualize.eye_box(marks, side="left")
    assert out.shape == ((y2 - y1) * 3, (x2 - x1) * 3, 3)
    assert np.array_equal(out[::3, ::3], astronaut[y1:y2, x1:x2])


def test_stage_strip_orders_the_stages_and_keeps_missing_ones(astronaut):
    from ganon.pipeline.anonymize import FaceStages
    from ganon.types import AlignedFace

    size = astronaut.shape[0]
    aligned = AlignedFace(image=astronaut, matrix=np.eye(2, 3), detection=_detection(), source_size=(size, size),
                          valid=np.ones((size, size), dtype=bool))
    canvas, synth, outline = (np.full((8, 8, 3), v, np.uint8) for v in (1, 2, 3))
    strip = visualize.stage_strip(FaceStages(aligned=aligned, landmarks=None, canvas=canvas, synthesized=synth,
                                             outline=outline))
    assert strip[0] is astronaut and strip[1:] == [canvas, synth, outline]
    assert len(visualize.STAGE_TITLES) == len(strip)
    missing = visualize.stage_strip(FaceStages(aligned=aligned, landmarks=None, canvas=None, synthesized=None,
                                               outline=None))
    fig = visualize.face_grid([missing], col_titles=list(visualize.STAGE_TITLES))
    assert _images_shown(fig) == 1


def test_face_label_shortens_long_names_only():
    assert visualize.face_label("astronaut", 0) == "astronaut #0"
    short = visualize.face_label("portrait_f1_surprise_and_more", 2, width=12)
    assert short.endswith(" #2") and len(short.removesuffix(" #2")) == 12 and "…" in short
    assert short.startswith("portra") and short.removesuffix(" #2").endswith("more")


def test_beside_paper_puts_the_printed_value_next_to_ours():
    table = visualize.beside_paper({"landmark_count": 478, "landmark_render_pixels_per_point": 5,
                                    "gan_optimizer": "adam"})
    assert list(table["paper"]) == [478, 1, "Adam"]
    assert list(table["same"]) == [True, False, True]
    assert "478 three-dimensional" in table.loc[0, "paper says"]
    with pytest.raises(KeyError):
        visualize.beside_paper({"no_such_number": 1})


def test_model_card_merges_the_sidecar_and_card_table_flattens(tmp_path):
    weights = tmp_path / "gen.safetensors"
    weights.write_bytes(b"")
    assert visualize.model_card(weights, {"name": "a", "steps": 1}) == {"name": "a", "steps": 1}
    (tmp_path / "gen.json").write_text('{"steps": 500, "metrics": {"train/g_l1": 0.123456}, "packages": {"x": "1"}}')
    card = visualize.model_card(weights, {"name": "a", "steps": 1})
    assert card["steps"] == 500 and card["name"] == "a"
    table = visualize.card_table({**card, "betas": [0.5, 0.999], "data": {"dir": "/secret", "train_pairs": 20}})
    values = dict(zip(table["field"], table["value"]))
    assert values["metrics.train/g_l1"] == "0.1235" and values["betas"] == "0.5, 0.999"
    assert values["data.train_pairs"] == "20"
    assert "packages.x" not in values and "data.dir" not in values


def test_training_grids_lists_the_sample_images_in_step_order(tmp_path):
    (tmp_path / "samples").mkdir()
    for step in (20, 5, 100):
        (tmp_path / "samples" / f"step_{step:07d}.png").write_bytes(b"")
    (tmp_path / "samples" / "other.png").write_bytes(b"")
    assert [p.name for p in visualize.training_grids(tmp_path)] == [
        "step_0000005.png", "step_0000020.png", "step_0000100.png"]
    assert visualize.training_grids(tmp_path / "absent") == []
