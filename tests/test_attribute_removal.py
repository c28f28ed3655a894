"""Section 4.3 attribute removal on real sample photos with dlib's real age and gender networks.

The "anonymized" folders are built so that the answer is known: ``same/`` holds identical copies
(nothing can be removed) and ``swap/`` puts another real person's photo at each original's path, so
which attributes disappear follows from who replaced whom (listed in ``SWAP``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ganon.backends.attributes import CELEBA_ATTRIBUTES, build_attribute_model
from ganon.backends.emotion import ClassifierMetadata, Preprocessing, save_classifier
from ganon.evaluation.attribute_removal import (
    PREDICTION_COLUMNS,
    AttributeRemovalEvaluation,
    paper_attribute_name,
)
from ganon.evaluation.identity import pair_by_relative_path
from ganon.imageio import read_image, write_image

#: stem -> photo. Observed at 256 px (P(Male), P(Young)): tom_hanks (0.98, 0.04), m7 (0.99, 1.00),
#: f13 (0.00, 1.00), f1 (0.00, 0.99), grace_hopper (0.99, 0.00), f15 (0.00, 0.22).
PHOTOS = {"tom_hanks": "tom_hanks.png", "m7": "portrait_m7_disgust.jpg", "f13": "portrait_f13_anger.jpg",
          "f1": "portrait_f1_surprise.jpg", "grace_hopper": "grace_hopper.jpg", "f15": "portrait_f15_happy.jpg"}
#: Whose photo stands at each original's path in swap/.
SWAP = {"tom_hanks": "f15", "m7": "tom_hanks", "f13": "f1", "f1": "grace_hopper", "grace_hopper": "m7",
        "f15": "f13"}
#: Hand count from the observed predictions: Male is present on tom_hanks, m7, grace_hopper and only
#: tom_hanks (-> f15) loses it; Young is present on m7, f13, f1 and m7 (-> tom_hanks), f1 (-> grace_hopper)
#: lose it.
EXPECTED_SWAP = {"Young": (3, 2), "Male": (3, 1)}
#: Ground truth for the report: the two men and, per dlib's network, not Grace Hopper.
MALE = {"tom_hanks": 1, "m7": 1, "f13": 0, "f1": 0, "grace_hopper": 0, "f15": 0}


def _small(image: np.ndarray) -> np.ndarray:
    scale = 256 / max(image.shape[:2])
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image


@pytest.fixture(scope="module")
def model():
    return build_attribute_model("age-gender")


@pytest.fixture(scope="module")
def folders(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("attributes")
    out = {name: root / name for name in ("original", "same", "swap")}
    for folder in out.values():
        folder.mkdir()
    images = {stem: _small(read_image(samples_dir / "photos" / name).rgb) for stem, name in PHOTOS.items()}
    for stem, image in images.items():
        write_image(out["original"] / f"{stem}.png", image)
        shutil.copyfile(out["original"] / f"{stem}.png", out["same"] / f"{stem}.png")
        write_image(out["swap"] / f"{stem}.png", images[SWAP[stem]])
    return out


@pytest.fixture(scope="module")
def result(model, folders):
    pairs = {"Swap": pair_by_relative_path(folders["original"], folders["swap"]),
             "Same": pair_by_relative_path(folders["original"], folders["same"])}  # fmt: skip
    return AttributeRemovalEvaluation(model).run(pairs)


def test_predictions_are_the_models_on_each_side(result, model, folders) -> None:
    assert list(result.predictions.columns) == list(PREDICTION_COLUMNS)
    assert result.attributes == ("Male", "Young") and result.methods == ["Swap", "Same"]
    assert len(result.predictions) == 2 * len(PHOTOS) * 2
    swap = result.predictions[result.predictions["method"] == "Swap"].set_index(["image_id", "attribute"])
    expected = model.predict_proba([read_image(folders["original"] / "f15.png").rgb])[0]
    assert swap.loc[("tom_hanks", "Male"), "p_anonymized"] == pytest.approx(float(expected[0]), abs=1e-6)
    assert swap.loc[("tom_hanks", "Male"), "present_original"]
    assert not swap.loc[("tom_hanks", "Male"), "present_anonymized"]
    same = result.predictions[result.predictions["method"] == "Same"]
    assert (same["p_original"] == same["p_anonymized"]).all()
    # originals are predicted once and shared by the methods
    both = result.predictions.pivot_table(index=["image_id", "attribute"], columns="method", values="p_original")
    assert (both["Swap"] == both["Same"]).all()


def test_removal_rate_matches_the_hand_count(result) -> None:
    table = result.removal("Swap")
    assert list(table.columns) == ["attribute", "n_present", "n_removed", "removed_fraction"]
    assert list(table["attribute"]) == ["Young", "Male"]  # descending removal, as Table 6 and Figure 9
    for row in table.itertuples(index=False):
        n_present, n_removed = EXPECTED_SWAP[row.attribute]
        assert (row.n_present, row.n_removed) == (n_present, n_removed)
        assert row.removed_fraction == pytest.approx(n_removed / n_present)
    assert result.table6("Swap").equals(table)


def test_an_identical_copy_removes_nothing_and_all_methods_stack(result) -> None:
    same = result.removal("Same")
    assert (same["n_removed"] == 0).all() and (same["removed_fraction"] == 0).all()
    assert list(same["n_present"]) == [3, 3]
    every = result.removal()
    assert list(every.columns[:2]) == ["method", "attribute"] and set(every["method"]) == {"Swap", "Same"}
    assert len(every) == 4
    with pytest.raises(KeyError, match="Blur"):
        result.removal("Blur")


def test_a_stricter_threshold_changes_what_counts_as_present(model, folders) -> None:
    pairs = {"Swap": pair_by_relative_path(folders["original"], folders["swap"])}
    strict = AttributeRemovalEvaluation(model, threshold=0.999).run(pairs).removal("Swap").set_index("attribute")
    loose = AttributeRemovalEvaluation(model).run(pairs)  # the same probabilities, judged at 0.5
    p = loose.predictions.pivot(index="image_id", columns="attribute", values="p_original")
    q = loose.predictions.pivot(index="image_id", columns="attribute", values="p_anonymized")
    for attribute in ("Male", "Young"):
        present = p[attribute] > 0.999
        assert strict.loc[attribute, "n_present"] == int(present.sum())
        assert strict.loc[attribute, "n_removed"] == int((present & (q[attribute] <= 0.999)).sum())
    assert strict["n_present"].sum() < 6  # some 0.98-0.99 detections no longer count
    with pytest.raises(ValueError, match="threshold"):
        AttributeRemovalEvaluation(model, threshold=1.0)


def test_figure9_draws_one_bar_per_detected_attribute(result) -> None:
    fig = result.figure9("Swap")
    ax = fig.axes[0]
    assert len(ax.patches) == 2
    widths = sorted(round(p.get_width(), 3) for p in ax.patches)
    assert widths == [pytest.approx(100 / 3, abs=1e-3), pytest.approx(200 / 3, abs=1e-3)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Young", "Male"]


def test_report_against_labels_in_table5_layout(result) -> None:
    labels = pd.DataFrame({"image_id": list(MALE), "Male": [1 if MALE[k] else -1 for k in MALE]}).set_index("image_id")
    report = result.report(labels)  # CelebA's -1/1 coding is accepted
    assert list(report.columns) == ["evaluated_on", "attribute", "precision", "recall", "f1", "support"]
    assert list(dict.fromkeys(report["evaluated_on"])) == ["Original", "Swap", "Same"]
    original = report[report["evaluated_on"] == "Original"].set_index("attribute")
    # predicted male: tom_hanks, m7, grace_hopper; truly male: tom_hanks, m7
    assert original.loc["Male", "precision"] == pytest.approx(2 / 3)
    assert original.loc["Male", "recall"] == pytest.approx(1.0)
    assert original.loc["Male", "support"] == 2
    assert "Young" not in set(report["attribute"])  # no label column, no report row
    swap = report[report["evaluated_on"] == "Swap"].set_index("attribute")
    # on swap/: tom_hanks -> f15 (not male), m7 -> tom_hanks (male), grace_hopper -> m7 (male)
    assert swap.loc["Male", "recall"] == pytest.approx(0.5)
    only = result.report(labels, on="Same")
    assert set(only["evaluated_on"]) == {"Same"}
    with pytest.raises(KeyError, match="none of the attributes"):
        result.report(pd.DataFrame({"Smiling": [1]}, index=["m7"]))


def test_names_print_as_the_paper_does() -> None:
    assert paper_attribute_name("5_o_Clock_Shadow") == "5 o Clock Shadow"
    assert paper_attribute_name("Wearing_Necktie") == "Wearing Necktie"


def test_unreadable_and_faceless_pairs_are_counted(model, folders, samples_dir, tmp_path) -> None:
    original, anonymized = tmp_path / "o", tmp_path / "a"
    shutil.copytree(folders["original"], original)
    shutil.copytree(folders["same"], anonymized)
    (anonymized / "f1.png").write_bytes(b"not an image")
    write_image(original / "mountain.png", _small(read_image(samples_dir / "no_face" / "mountain.jpg").rgb))
    shutil.copyfile(original / "mountain.png", anonymized / "mountain.png")
    pairs = {"Same": pair_by_relative_path(original, anonymized)}
    kept = AttributeRemovalEvaluation(model, face_check="dlib-hog").run(pairs)
    counts = kept.counts().iloc[0]
    assert (counts["pairs"], counts["measured"], counts["unreadable"]) == (7, 6, 1)
    assert counts["no_face_original"] == 1 and counts["dropped_no_face"] == 0
    dropped = AttributeRemovalEvaluation(model, face_check="dlib-hog", drop_no_face=True).run(pairs)
    assert dropped.images.set_index("image_id").loc["mountain", "status"] == "no_face"
    assert "mountain" not in set(dropped.predictions["image_id"])
    with pytest.raises(ValueError, match="face_check"):
        AttributeRemovalEvaluation(model, drop_no_face=True)
    with pytest.raises(ValueError, match="no pairs"):
        AttributeRemovalEvaluation(model).run({"Same": []})


# ---------------------------------------------------------------- CLI


def _cli(args: list[str]):
    from ganon.cli import app

    return CliRunner().invoke(app, ["evaluate", "attributes", *args, "--no-progress"])


def test_cli_writes_tables_figure_and_report(folders, tmp_path) -> None:
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"image_id": list(MALE), "Male": list(MALE.values())}).to_csv(labels, index=False)
    out = tmp_path / "out"
    args = ["--original", str(folders["original"]), "--anonymized", f"GANonymization={folders['swap']}",
            "--anonymized", f"Same={folders['same']}", "--labels", str(labels), "--out", str(out)]  # fmt: skip
    result = _cli(args)
    assert result.exit_code == 0, result.output
    for name in ("predictions.csv", "images.csv", "counts.csv", "table6.csv", "table5.csv", "figure9.png"):
        assert (out / name).is_file(), name
    table6 = pd.read_csv(out / "table6.csv")
    ours = table6[table6["method"] == "GANonymization"].set_index("attribute")
    assert ours.loc["Young", "removed_fraction"] == pytest.approx(2 / 3)
    assert ours.loc["Male", "removed_fraction"] == pytest.approx(1 / 3)
    assert set(pd.read_csv(out / "table5.csv")["evaluated_on"]) == {"Original", "GANonymization", "Same"}
    again = _cli(args)
    assert again.exit_code != 0 and "refusing to overwrite" in again.output
    bad = _cli([*args[:-2], "--out", str(tmp_path / "o2"), "--figure-method", "Nobody"])
    assert bad.exit_code == 1 and "Nobody" in bad.output


def test_cli_reads_a_celeba_convnext_checkpoint(folders, tmp_path) -> None:
    import timm

    model = timm.create_model("convnext_atto", pretrained=False, num_classes=40)
    checkpoint = save_classifier(tmp_path / "celeba.safetensors", model, ClassifierMetadata(
        architecture="convnext_atto", classes=CELEBA_ATTRIBUTES, task="multilabel",
        preprocessing=Preprocessing(resize=36, crop=32)))  # fmt: skip
    out = tmp_path / "out"
    result = _cli(["--original", str(folders["original"]), "--anonymized", f"Same={folders['same']}",
                   "--model", str(checkpoint), "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out / "predictions.csv")
    assert predictions["attribute"].nunique() == 40 and "5 o Clock Shadow" in set(predictions["attribute"])
    assert (pd.read_csv(out / "table6.csv")["n_removed"] == 0).all()  # identical copies

    missing = _cli(["--original", str(folders["original"]), "--anonymized", f"Same={folders['same']}",
                    "--model", str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "o3")])  # fmt: skip
    assert missing.exit_code == 1 and "nope.safetensors" in missing.output
