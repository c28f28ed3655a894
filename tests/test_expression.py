"""Section 4.2 inference scenario on real sample photos with fer's real FER2013 model: distances,
Tables 2 and 3, the face check, paired crops from a real (untrained) generator, and the CLI."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ganon.backends.emotion import build_emotion_model
from ganon.evaluation.baselines import build_baseline
from ganon.evaluation.expression import (
    DISTANCE_COLUMNS,
    PAPER_EMOTION_ORDER,
    ExpressionEvaluation,
    paper_emotion_name,
)
from ganon.evaluation.identity import pair_by_relative_path
from ganon.evaluation.paired import build_face_check, parse_method_dirs, write_paired_crops
from ganon.imageio import read_image, write_image

PHOTOS = ("portrait_f1_surprise.jpg", "portrait_f13_anger.jpg", "portrait_f15_happy.jpg",
          "portrait_m7_disgust.jpg", "astronaut.png", "single_face.jpg")  # fmt: skip


@pytest.fixture(scope="module")
def fer():
    return build_emotion_model("fer")


@pytest.fixture(scope="module")
def folders(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """original/ (six real face photos, 256 px), same/ (identical copies), blur/ (heavy Gaussian blur)."""
    root = tmp_path_factory.mktemp("expression")
    out = {name: root / name for name in ("original", "same", "blur")}
    for folder in out.values():
        folder.mkdir()
    for name in PHOTOS:
        image = read_image(samples_dir / "photos" / name).rgb
        scale = 256 / max(image.shape[:2])  # small copies keep the Haar check fast
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        target = Path(name).stem + ".png"
        write_image(out["original"] / target, image)
        shutil.copyfile(out["original"] / target, out["same"] / target)
        write_image(out["blur"] / target, cv2.GaussianBlur(image, (0, 0), 6))
    return out


@pytest.fixture(scope="module")
def result(fer, folders):
    pairs = {"Same": pair_by_relative_path(folders["original"], folders["same"]),
             "Blur": pair_by_relative_path(folders["original"], folders["blur"])}  # fmt: skip
    return ExpressionEvaluation(fer, dataset="samples", reference="Same").run(pairs)


def test_an_identical_copy_has_distance_exactly_zero(result) -> None:
    same = result.distances[result.distances["method"] == "Same"]
    assert len(same) == len(PHOTOS) * 7
    assert (same["distance"] == 0.0).all()
    assert (same["p_original"] == same["p_anonymized"]).all()
    assert list(result.distances.columns) == list(DISTANCE_COLUMNS)


def test_heavy_blur_changes_the_probabilities(result) -> None:
    blur = result.distances[result.distances["method"] == "Blur"]
    per_image = blur.groupby("image_id")["distance"].sum()
    assert (per_image > 0.05).sum() >= len(PHOTOS) - 1  # blurring a face away moves fer's output
    assert blur["distance"].mean() > 0.02
    # the originals are classified once and shared by both methods
    same = result.distances[result.distances["method"] == "Same"].set_index(["image_id", "emotion"])
    assert np.array_equal(blur.set_index(["image_id", "emotion"])["p_original"].loc[same.index],
                          same["p_original"])  # fmt: skip


def test_probabilities_are_fers_on_the_whole_image(result, fer, folders) -> None:
    image = read_image(folders["original"] / "portrait_f15_happy.png").rgb
    expected = fer.predict_proba([image])[0]
    rows = result.distances[(result.distances["method"] == "Same")
                            & (result.distances["image_id"] == "portrait_f15_happy")]  # fmt: skip
    got = dict(zip(rows["emotion"], rows["p_original"]))
    for name, p in zip(fer.classes, expected):
        assert got[paper_emotion_name(name)] == pytest.approx(float(p), abs=1e-6)
    assert max(got, key=got.get) == "Happy"


def test_table2_uses_the_papers_names_and_order(result) -> None:
    table = result.table2()
    assert list(table.columns) == ["dataset", "emotion", "method", "mean_probability_distance", "n"]
    emotions = list(dict.fromkeys(table["emotion"]))
    assert emotions == [e for e in PAPER_EMOTION_ORDER if e in emotions] and len(emotions) == 7
    assert "Contempt" not in emotions  # FER2013 has no contempt class
    same = table[table["method"] == "Same"]
    assert (same["mean_probability_distance"] == 0).all() and (same["n"] == len(PHOTOS)).all()


def test_table3_tests_the_reference_against_each_other_method(result) -> None:
    table = result.table3()
    assert len(table) == 7 and set(table["comparison"]) == {"Same vs Blur"}
    assert (table["N"] == len(PHOTOS)).all()
    finite = table[np.isfinite(table["Z"]) & (table["test"] != "none")]
    assert len(finite) >= 5
    assert np.allclose(finite["r"], finite["Z"] / math.sqrt(len(PHOTOS)))
    assert (finite["Z"] <= 0).all() and (finite["mean_difference"] < 0).all()
    assert np.allclose(table["p_bonferroni"], np.minimum(table["p"] * len(table), 1.0))
    assert {"p", "p_bonferroni", "stars", "stars_uncorrected"} <= set(table.columns)


def test_normality_per_group_and_degenerate_groups(result) -> None:
    table = result.normality()
    assert len(table) == 14 and {"W", "p", "n", "normal_at_0.05"} <= set(table.columns)
    same = table[table["method"] == "Same"]
    assert same["W"].isna().all() and same["notes"].str.contains("equal").all()


def test_figure7_draws_one_bar_per_emotion_and_method(result) -> None:
    fig = result.figure7()
    ax = fig.axes[0]
    assert len(ax.patches) >= 14 and ax.get_title() == "samples"


def test_unreadable_and_faceless_pairs_are_counted_not_fatal(fer, folders, samples_dir, tmp_path) -> None:
    original, anonymized = tmp_path / "o", tmp_path / "a"
    shutil.copytree(folders["original"], original)
    shutil.copytree(folders["blur"], anonymized)
    (anonymized / "astronaut.png").write_bytes(b"not an image")
    shutil.copyfile(samples_dir / "no_face" / "mountain.jpg", original / "mountain.jpg")
    shutil.copyfile(samples_dir / "no_face" / "mountain.jpg", anonymized / "mountain.jpg")
    pairs = {"Blur": pair_by_relative_path(original, anonymized)}

    kept = ExpressionEvaluation(fer, face_check="haar").run(pairs)
    counts = kept.counts().iloc[0]
    assert (counts["pairs"], counts["measured"], counts["unreadable"]) == (len(PHOTOS) + 1, len(PHOTOS), 1)
    assert counts["no_face_original"] >= 1
    row = kept.images.set_index("image_id").loc["mountain"]
    assert row["status"] == "measured" and row["face_original"] == False  # noqa: E712

    dropped = ExpressionEvaluation(fer, face_check="haar", drop_no_face=True).run(pairs)
    assert dropped.images.set_index("image_id").loc["mountain", "status"] == "no_face"
    assert "mountain" not in set(dropped.distances["image_id"])
    assert dropped.counts().iloc[0]["dropped_no_face"] >= 1


def test_fers_haar_check_finds_faces_only_where_there_are_some(samples_dir) -> None:
    check = build_face_check("haar")
    assert check(read_image(samples_dir / "photos" / "portrait_f15_happy.jpg").rgb)
    assert not check(read_image(samples_dir / "no_face" / "mountain.jpg").rgb)


def test_bad_input_is_refused(fer) -> None:
    with pytest.raises(ValueError, match="no pairs"):
        ExpressionEvaluation(fer).run({"GANonymization": []})
    with pytest.raises(ValueError, match="face_check"):
        ExpressionEvaluation(fer, drop_no_face=True)
    with pytest.raises(ValueError, match="NAME=DIR"):
        parse_method_dirs(["=x"])


def test_paired_crops_from_a_real_generator_and_baselines(samples_dir, tmp_path) -> None:
    from ganon.models.checkpoint import save_generator
    from ganon.models.pix2pix import build_generator
    from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer
    from ganon.pipeline.extract import AlignConfig

    weights = tmp_path / "tiny.safetensors"
    save_generator(weights, build_generator("tiny-64", seed=0), render_style="authors",
                   card={"name": "untrained tiny-64", "render_style": "authors"})  # fmt: skip
    anonymizer = Anonymizer.from_weights(weights, AnonymizeConfig(align=AlignConfig(resolution=128)), device="cpu")
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copyfile(samples_dir / "photos" / "astronaut.png", inputs / "astronaut.png")
    shutil.copyfile(samples_dir / "no_face" / "mountain.jpg", inputs / "mountain.jpg")
    (inputs / "broken.jpg").write_bytes(b"nothing")
    images = [inputs / "astronaut.png", inputs / "mountain.jpg", inputs / "broken.jpg"]
    pixelate = build_baseline("pixelate-8x8")
    crops = write_paired_crops(images, anonymizer, tmp_path / "crops", baselines={"Pixelation 8x8": pixelate})
    status = crops.faces.set_index("source")["status"]
    assert status["astronaut.png"] == "anonymized"
    assert status["mountain.jpg"] == "no face detected"
    assert status["broken.jpg"].startswith("unreadable")
    pairs = crops.all_pairs()
    assert set(pairs) == {"GANonymization", "Pixelation 8x8"}
    assert [p.rel for p in pairs["GANonymization"]] == ["astronaut_face00"]
    original = read_image(pairs["Pixelation 8x8"][0].original).rgb
    assert original.shape == (128, 128, 3)
    assert np.array_equal(read_image(pairs["Pixelation 8x8"][0].anonymized).rgb, pixelate(original))
    assert read_image(pairs["GANonymization"][0].anonymized).rgb.shape == (128, 128, 3)
    with pytest.raises(FileExistsError):
        write_paired_crops(images[:1], anonymizer, tmp_path / "crops")
    again = write_paired_crops(images[:1], anonymizer, tmp_path / "crops", overwrite=True)
    assert len(again.faces) == 1

    # A labelled dataset table follows its photos onto the crops (what classifier training reads).
    source = pd.DataFrame({"path": [str(p) for p in images[:2]], "split": ["val", "train"], "label": [3, 1]})
    source.attrs = {"dataset": "mini", "root": str(inputs)}
    table = write_paired_crops(source, anonymizer, tmp_path / "crops", overwrite=True).dataset_table(source)
    assert list(table["image_id"]) == ["astronaut_face00"]  # the mountain has no face, so no row
    row = table.iloc[0]
    assert (row["split"], row["label"], row["source_path"]) == ("val", 3, str(images[0]))
    assert Path(row["path"]) == tmp_path / "crops" / "original" / "astronaut_face00.png"
    assert table.attrs == {"dataset": "mini", "root": str(tmp_path / "crops" / "original")}


# ---------------------------------------------------------------- CLI


def _cli(args: list[str]):
    from ganon.cli import app

    return CliRunner().invoke(app, ["evaluate", "emotion", *args, "--no-progress"])


def test_cli_writes_the_tables_and_the_figure(folders, tmp_path) -> None:
    out = tmp_path / "out"
    args = ["--original", str(folders["original"]), "--anonymized", f"GANonymization={folders['same']}",
            "--anonymized", f"Blur 9x9={folders['blur']}", "--model", "fer", "--dataset", "samples",
            "--out", str(out)]  # fmt: skip
    result = _cli(args)
    assert result.exit_code == 0, result.output
    for name in ("distances.csv", "images.csv", "counts.csv", "table2.csv", "normality.csv", "table3.csv",
                 "figure7.png"):  # fmt: skip
        assert (out / name).is_file(), name
    table2 = pd.read_csv(out / "table2.csv")
    assert set(table2["method"]) == {"GANonymization", "Blur 9x9"}
    assert (table2.loc[table2["method"] == "GANonymization", "mean_probability_distance"] == 0).all()
    table3 = pd.read_csv(out / "table3.csv")
    assert set(table3["comparison"]) == {"GANonymization vs Blur 9x9"}
    again = _cli(args)
    assert again.exit_code != 0 and "refusing to overwrite" in again.output


def test_cli_fails_clearly_on_bad_input(folders, tmp_path) -> None:
    missing = tmp_path / "nowhere"
    result = _cli(["--original", str(missing), "--anonymized", f"X={folders['blur']}", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and str(missing) in result.output and "not a folder" in result.output
    result = _cli(["--original", str(folders["original"]), "--anonymized", f"X={missing}", "--out", str(tmp_path)])
    assert result.exit_code == 1 and str(missing) in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _cli(["--original", str(folders["original"]), "--anonymized", f"X={empty}", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "no image shares a relative path" in result.output
    result = _cli(["--original", str(folders["original"]), "--anonymized", f"X={folders['blur']}",
                   "--model", "no-such-model", "--out", str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 1 and "no-such-model" in result.output
    assert not (tmp_path / "o").exists()


def test_cli_crops_writes_the_paired_folders(samples_dir, tmp_path) -> None:
    from ganon.cli import app
    from ganon.models.checkpoint import save_generator
    from ganon.models.pix2pix import build_generator

    weights = tmp_path / "tiny.safetensors"
    save_generator(weights, build_generator("tiny-64", seed=0), render_style="authors",
                   card={"name": "untrained tiny-64", "render_style": "authors"})  # fmt: skip
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    shutil.copyfile(samples_dir / "photos" / "astronaut.png", inputs / "sub" / "astronaut.png")
    out = tmp_path / "crops"
    args = ["evaluate", "crops", str(inputs), "--weights", str(weights), "--baseline", "blur-9x9",
            "--size", "128", "--out", str(out), "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 photos, 1 faces" in result.output
    names = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert names == {f"{m}/sub/astronaut_face00.png" for m in ("original", "ganonymization", "blur-9x9")}
    original = read_image(out / "original" / "sub" / "astronaut_face00.png").rgb
    assert original.shape == (128, 128, 3)
    assert np.array_equal(read_image(out / "blur-9x9" / "sub" / "astronaut_face00.png").rgb,
                          build_baseline("blur-9x9")(original))  # fmt: skip
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "refusing to overwrite" in again.output
    bad = CliRunner().invoke(app, [*args[:-2], str(tmp_path / "o2"), "--baseline", "sepia"])
    assert bad.exit_code == 1 and "sepia" in bad.output
    missing = CliRunner().invoke(app, ["evaluate", "crops", str(inputs), "--weights", str(tmp_path / "no.safetensors"),
                                       "--out", str(tmp_path / "o3")])  # fmt: skip
    assert missing.exit_code == 1 and "no.safetensors" in missing.output
