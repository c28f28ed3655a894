"""Training the paper's classifiers (Sec. 4.2.2, 4.3.2) on miniature datasets in the official layouts.

The miniatures hold real faces: the four labelled sample portraits (anger, happy, surprise,
disgust), each varied per "subject" by a seeded crop, rotation and brightness change, written as
CK+'s greyscale PNG sequences and label files, or as CelebA's aligned JPEGs and annotation files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ganon.backends.attributes import CelebAConvNeXt
from ganon.backends.emotion import ConvNeXtEmotion, LoadedClassifier, read_classifier_metadata
from ganon.data.datasets import read_dataset
from ganon.data.manifests import load_dataset
from ganon.evaluation.training_scenario import confusion_figure, evaluate_classifier
from ganon.imageio import read_image
from ganon.training.classifier import (
    CLASSIFIER_PRESETS,
    PretrainedWeightsError,
    build_backbone,
    profile_classifier_config,
    resolve_backbone,
    train_classifier,
    with_overrides,
)
from ganon.training.classifier_data import ClassifierDataModule, class_weights, preprocess_image, reroot_paths

#: portrait -> CK+ emotion code (1 anger, 3 disgust, 5 happy, 7 surprise).
PORTRAITS = {"portrait_f13_anger": 1, "portrait_m7_disgust": 3, "portrait_f15_happy": 5, "portrait_f1_surprise": 7}
SUBJECTS = [f"S{100 + i:03d}" for i in range(8)]
CPU_TEST = CLASSIFIER_PRESETS.get("cpu-test")


def _variant(image: np.ndarray, rng: np.random.Generator, *, size: int) -> np.ndarray:
    """A seeded crop (85-100 %), rotation (+-8 degrees) and brightness change of a real face photo."""
    h, w = image.shape[:2]
    side = int(min(h, w) * rng.uniform(0.85, 1.0))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = cv2.resize(image[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)
    turn = cv2.getRotationMatrix2D((size / 2, size / 2), float(rng.uniform(-8, 8)), 1.0)
    crop = cv2.warpAffine(crop, turn, (size, size), borderMode=cv2.BORDER_REFLECT)
    return np.clip(crop.astype(np.float32) * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8)


def _portraits(samples_dir: Path) -> dict[str, np.ndarray]:
    return {name: read_image(samples_dir / "photos" / f"{name}.jpg").rgb for name in PORTRAITS}


def _write(path: Path, rgb: np.ndarray, *, grey: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if grey else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), pixels)


def make_ckplus(root: Path, samples_dir: Path) -> Path:
    """CK+ layout: cohn-kanade-images/<S>/<seq>/<S>_<seq>_<frame>.png and Emotion/.../*_emotion.txt."""
    photos, rng = _portraits(samples_dir), np.random.default_rng(0)
    for subject in SUBJECTS:
        for number, (name, code) in enumerate(PORTRAITS.items(), start=1):
            sequence, peak = f"{number:03d}", _variant(photos[name], rng, size=64)
            frames = root / "cohn-kanade-images" / subject / sequence
            _write(frames / f"{subject}_{sequence}_00000001.png", (peak * 0.9).astype(np.uint8), grey=True)
            _write(frames / f"{subject}_{sequence}_00000002.png", peak, grey=True)
            labels = root / "Emotion" / subject / sequence
            labels.mkdir(parents=True, exist_ok=True)
            (labels / f"{subject}_{sequence}_00000002_emotion.txt").write_text(f"   {code:.7e}\n")
    return root


def make_celeba(root: Path, samples_dir: Path, *, per_portrait: int = 4) -> tuple[Path, np.ndarray]:
    """CelebA layout: img_align_celeba/*.jpg, list_attr_celeba.txt (+1/-1), list_eval_partition.txt."""
    names = load_dataset("celeba").class_names
    photos, rng = _portraits(samples_dir), np.random.default_rng(1)
    lines, partition, values = [], [], []
    for index in range(per_portrait * len(PORTRAITS)):
        portrait = list(PORTRAITS)[index % len(PORTRAITS)]
        image_id = f"{index + 1:06d}.jpg"
        face = _variant(photos[portrait], rng, size=64)
        _write(root / "img_align_celeba" / image_id, cv2.resize(face, (54, 66)))
        row = [1 if (k + index) % 4 == 0 else -1 for k in range(40)]
        row[names.index("Male")] = 1 if "_m" in portrait else -1
        row[names.index("Smiling")] = 1 if portrait.endswith("happy") else -1
        values.append(row)
        lines.append(image_id + " " + " ".join(f"{v:2d}" for v in row))
        partition.append(f"{image_id} {1 if index >= per_portrait * len(PORTRAITS) - 4 else 0}")
    (root / "list_attr_celeba.txt").write_text("\n".join([str(len(lines)), " ".join(names) + " ", *lines]) + "\n")
    (root / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return root, (np.asarray(values) + 1) // 2


def make_anonymized_copy(table: pd.DataFrame, out: Path) -> Path:
    """A stand-in anonymized dataset: every image strongly blurred, saved as .jpg under the same tree."""
    root = Path(table.attrs["root"])
    for path in table["path"]:
        relative = Path(path).relative_to(root)
        _write((out / relative).with_suffix(".jpg"), cv2.GaussianBlur(read_image(path).rgb, (17, 17), 0))
    return out


@pytest.fixture(scope="module")
def ckplus(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> pd.DataFrame:
    return read_dataset("ckplus", make_ckplus(tmp_path_factory.mktemp("ckplus"), samples_dir))


@pytest.fixture(scope="module")
def ckplus_run(ckplus: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    # three epochs: the fewest that show the loss falling and the plateau/early-stopping bookkeeping
    return train_classifier(ckplus, config=with_overrides(CPU_TEST, max_epochs=3),
                            out_dir=tmp_path_factory.mktemp("run") / "ckplus")


# ------------------------------------------------------------------------------------------ pieces


def test_class_weights_are_balanced_for_an_unbalanced_label_vector() -> None:
    labels = [0] * 6 + [1] * 3 + [3] * 1  # class 2 absent
    weights = class_weights(labels, 4)
    assert weights == pytest.approx([10 / (3 * 6), 10 / (3 * 3), 0.0, 10 / (3 * 1)])
    counts = np.bincount(labels, minlength=4)
    assert (weights * counts).sum() == pytest.approx(len(labels))  # each present class weighs the same in total
    assert len({round(w * c, 9) for w, c in zip(weights, counts) if c}) == 1
    with pytest.raises(ValueError, match="0..3"):
        class_weights([0, 4], 4)


def test_training_transform_matches_the_checkpoint_preprocessing(samples_dir: Path) -> None:
    image = read_image(samples_dir / "photos" / "grace_hopper.jpg").rgb
    pre = CPU_TEST.preprocessing
    loaded = LoadedClassifier(model=None, metadata=_metadata(pre))
    np.testing.assert_array_equal(preprocess_image(image, pre).numpy(), loaded.preprocess([image])[0].numpy())
    assert preprocess_image(image, pre).shape == (3, pre.crop, pre.crop)


def _metadata(pre):  # noqa: ANN001, ANN202 - the checkpoint metadata of a transform check
    from ganon.backends.emotion import ClassifierMetadata

    return ClassifierMetadata(architecture="convnext_atto", classes=("a",), task="multiclass", preprocessing=pre)


def test_pretrained_weights_fail_clearly_or_fall_back(tmp_path: Path) -> None:
    asked = with_overrides(CLASSIFIER_PRESETS.get("paper"), architecture="convnext_atto", pretrained_tag="d2_in1k",
                           pretrained_file=str(tmp_path / "absent.safetensors"))
    with pytest.raises(PretrainedWeightsError, match="absent.safetensors"):
        build_backbone(asked, 7)
    model = build_backbone(with_overrides(asked, allow_random_init=True), 7)
    assert model.num_classes == 7


def test_pretrained_weights_load_from_a_local_file(tmp_path: Path) -> None:
    import timm
    import torch
    from safetensors.torch import save_file

    source = timm.create_model("convnext_atto", pretrained=False)  # an "ImageNet" model with 1000 outputs
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(tmp_path / "w.safetensors"))
    config = with_overrides(CPU_TEST, pretrained=True, pretrained_tag="d2_in1k",
                            pretrained_file=str(tmp_path / "w.safetensors"))
    model = build_backbone(config, 7)
    assert model.num_classes == 7
    assert torch.equal(model.stem[0].weight, source.stem[0].weight)  # the backbone came from the file


# ------------------------------------------------------------------------------ single-label (CK+)


def test_ckplus_training_lowers_the_loss_and_saves_a_loadable_emotion_model(ckplus, ckplus_run) -> None:
    metrics = ckplus_run.metrics()
    epochs = metrics.dropna(subset=["train_loss_epoch"]).sort_values("epoch")
    assert len(epochs) >= 3
    assert epochs["train_loss_epoch"].iloc[-1] < epochs["train_loss_epoch"].iloc[0]
    assert metrics["val_loss"].notna().sum() == len(epochs)  # validated every epoch, for early stopping
    assert list(metrics.dropna(subset=["lr-AdamW"])["lr-AdamW"].unique())[:1] == [pytest.approx(3e-4)]

    classes = tuple(load_dataset("ckplus").class_names)
    assert ckplus_run.classes == classes
    model = ConvNeXtEmotion(checkpoint=ckplus_run.checkpoint)
    assert model.classes == classes  # the dataset's order: anger, contempt, ..., surprise
    val = ckplus[ckplus["split"] == "val"]
    probabilities = model.predict_proba([read_image(p).rgb for p in val["path"]])
    assert probabilities.shape == (len(val), 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)

    meta = read_classifier_metadata(ckplus_run.checkpoint)
    assert meta.architecture == "convnext_atto" and meta.task == "multiclass"
    assert meta.preprocessing == CPU_TEST.preprocessing
    train = ckplus[ckplus["split"] == "train"]
    assert meta.info["class_weights"] == pytest.approx(class_weights(train["label"], 7).tolist())
    assert meta.info["n_train"] == len(train) and meta.info["train_data"] == "Original"
    assert math.isfinite(meta.info["best_val_loss"])
    assert meta.info["best_val_loss"] == pytest.approx(metrics["val_loss"].min(), rel=1e-5)


def test_an_earlier_run_is_not_overwritten(ckplus, ckplus_run) -> None:
    with pytest.raises(FileExistsError, match="not empty"):
        train_classifier(ckplus, config=CPU_TEST, out_dir=ckplus_run.out_dir)


def test_overwrite_replaces_an_earlier_run(ckplus, ckplus_run, tmp_path: Path) -> None:
    import shutil

    again = tmp_path / "again"
    shutil.copytree(ckplus_run.out_dir, again)  # a book rerun finds the last run's files in place
    run = train_classifier(ckplus, config=with_overrides(CPU_TEST, max_epochs=1), out_dir=again, overwrite=True)
    assert run.info["best_epoch"] == 0 and run.epochs == 1
    assert [p.name for p in (again / "checkpoints").iterdir()] == ["best-epoch=000.ckpt"]
    assert len(pd.read_csv(run.metrics_csv).dropna(subset=["val_loss"])) == 1  # not the earlier run's rows


def test_report_on_original_validation_images(ckplus, ckplus_run, tmp_path: Path) -> None:
    result = evaluate_classifier(ckplus_run.checkpoint, ckplus)
    val = ckplus[ckplus["split"] == "val"]
    classes = list(load_dataset("ckplus").class_names)
    report = result.report
    assert list(report.columns[:3]) == ["dataset", "train_data", "class"]
    assert list(report["class"]) == [*classes, "accuracy", "macro avg", "weighted avg"]
    support = report.set_index("class")["support"]
    assert support["weighted avg"] == len(val)
    for index, name in enumerate(classes):
        assert support[name] == int((val["label"] == index).sum())
    accuracy = (result.predictions["label"] == result.predictions["predicted"]).mean()
    assert report.set_index("class").loc["accuracy", "f1"] == pytest.approx(accuracy)
    matrix = result.confusion.pivot_table(index="true", columns="predicted", values="value", aggfunc="sum")
    present = [c for i, c in enumerate(classes) if (val["label"] == i).any()]
    np.testing.assert_allclose(matrix.loc[present].sum(axis=1), 1.0)  # rows normalised by true class
    assert confusion_figure([result]).axes
    written = result.save(tmp_path / "report")
    assert all(p.is_file() for p in written)


def test_image_root_override_reads_the_anonymized_copies(ckplus, tmp_path: Path) -> None:
    anonymized = make_anonymized_copy(ckplus, tmp_path / "anon")
    data = ClassifierDataModule(ckplus, preprocessing=CPU_TEST.preprocessing, image_root_override=anonymized,
                                override_splits=("train",))
    train, val = data.tables["train"], data.tables["val"]
    assert all(p.startswith(str(anonymized)) and p.endswith(".jpg") for p in train["path"])
    assert all(p.startswith(ckplus.attrs["root"]) for p in val["path"])  # original validation images
    sample, _ = data.dataset("train")[0]
    original = preprocess_image(read_image(train["original_path"][0]).rgb, CPU_TEST.preprocessing)
    assert not np.allclose(sample.numpy(), original.numpy(), atol=0.05)  # pixels are the blurred copy's
    # An anonymizer that found no face leaves a gap: an error by default, dropped on request.
    Path(train["path"][0]).unlink()
    with pytest.raises(FileNotFoundError, match="1 of"):
        reroot_paths(ckplus["path"].tolist(), original_root=ckplus.attrs["root"], new_root=anonymized)
    dropped = ClassifierDataModule(ckplus, image_root_override=anonymized, missing="drop")
    assert len(dropped.tables["train"]) == len(train) - 1


# ------------------------------------------------------------------------------- multi-label (CelebA)


def test_celeba_multilabel_training_saves_a_model_celeba_convnext_reads(samples_dir: Path, tmp_path: Path) -> None:
    root, values = make_celeba(tmp_path / "celeba", samples_dir)
    table = read_dataset("celeba", root)
    run = train_classifier(table, config=with_overrides(CPU_TEST, max_epochs=1), out_dir=tmp_path / "run")
    assert run.task == "multilabel"
    model = CelebAConvNeXt(checkpoint=run.checkpoint)
    assert model.attributes == tuple(load_dataset("celeba").class_names)
    probabilities = model.predict_proba([read_image(p).rgb for p in table["path"][:3]])
    assert probabilities.shape == (3, 40)
    assert ((probabilities > 0) & (probabilities < 1)).all()
    assert not np.allclose(probabilities.sum(axis=1), 1.0)  # independent sigmoids, not a softmax
    assert read_classifier_metadata(run.checkpoint).info["class_weights"] is None  # BCE, unweighted

    result = evaluate_classifier(run.checkpoint, table)
    report = result.report.set_index("class")
    assert list(report.index[:40]) == list(model.attributes)
    assert list(report.index[40:]) == ["micro avg", "macro avg", "weighted avg", "samples avg"]
    val_values = values[table["split"].to_numpy() == "val"]
    assert report.loc["Male", "support"] == int(val_values[:, model.attributes.index("Male")].sum())

    # Figure 11's table: per attribute a 2x2 of the thresholded predictions, rows normalised by truth
    matrices = result.confusion
    assert list(matrices.columns) == ["dataset", "train_data", "attribute", "true", "predicted", "value"]
    assert len(matrices) == 40 * 4 and list(dict.fromkeys(matrices["attribute"])) == list(model.attributes)
    male_true = val_values[:, model.attributes.index("Male")]
    male_pred = (result.predictions["p_Male"].to_numpy() > 0.5).astype(int)
    male = matrices[matrices["attribute"] == "Male"].set_index(["true", "predicted"])["value"]
    for t, true_name in enumerate(("absent", "present")):
        for q, pred_name in enumerate(("absent", "present")):
            support = (male_true == t).sum()
            expected = ((male_true == t) & (male_pred == q)).sum() / support if support else 0.0
            assert male[true_name, pred_name] == pytest.approx(expected)
    figure = confusion_figure([result])
    assert {ax.get_title() for ax in figure.axes} == {"Original"} and len(figure.axes) == 5
    written = result.save(tmp_path / "report")
    assert [p.name for p in written] == ["predictions.csv", "report.csv", "confusion.csv", "confusion.png"]
    assert len(pd.read_csv(tmp_path / "report" / "confusion.csv")) == 160
    assert (tmp_path / "report" / "confusion.png").stat().st_size > 0


# ------------------------------------------------------------------------------------------- CLI


def test_cli_trains_on_anonymized_copies_and_reports(ckplus, tmp_path: Path) -> None:
    from ganon.cli import app

    anonymized = make_anonymized_copy(ckplus, tmp_path / "anon")
    runner = CliRunner()
    out = tmp_path / "run"
    args = ["classifier", "train", "--dataset", "ckplus", "--data-dir", ckplus.attrs["root"],
            "--anonymized-dir", str(anonymized), "--train-data", "Blur", "--preset", "cpu-test",
            "--max-epochs", "1", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = read_classifier_metadata(out / "classifier.safetensors")
    assert meta.info["image_root_override"] == str(anonymized.resolve())
    assert meta.info["train_data"] == "Blur" and meta.info["epochs"] == 1
    assert json.loads((out / "run.json").read_text())["classes"][0] == "anger"

    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "not empty" in again.output

    report_dir = tmp_path / "report"
    result = runner.invoke(app, ["classifier", "report", "--model", str(out / "classifier.safetensors"),
                                 "--dataset", "ckplus", "--data-dir", ckplus.attrs["root"], "--out", str(report_dir)])
    assert result.exit_code == 0, result.output
    report = pd.read_csv(report_dir / "report.csv")
    assert set(report["train_data"]) == {"Blur"}
    predictions = pd.read_csv(report_dir / "predictions.csv")
    assert all(p.startswith(ckplus.attrs["root"]) for p in predictions["path"])  # original val images
    assert (report_dir / "confusion.png").stat().st_size > 0

    missing = runner.invoke(app, ["classifier", "report", "--model", str(tmp_path / "nope.safetensors"),
                                  "--dataset", "ckplus", "--data-dir", ckplus.attrs["root"], "--out", str(tmp_path / "r2")])
    assert missing.exit_code != 0 and "nope.safetensors" in missing.output


# ---------------------------------------------------------------- the book's classifier recipe


def test_profile_recipe_takes_the_backbone_from_a_path_or_the_cache(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import timm
    from safetensors.torch import save_file

    from ganon.data.assets import install_asset

    sizes = {"classifier_max_epochs": 2, "num_workers": 0, "batch_size": 3}
    config = profile_classifier_config(sizes, seed=4, device="cuda:1", preset="small")
    assert (config.architecture, config.max_epochs, config.batch_size, config.seed, config.accelerator) == (
        "convnext_atto", 2, 3, 4, "gpu")
    assert config.pretrained and config.pretrained_file is None  # timm fetches it itself

    file = tmp_path / "atto.safetensors"
    save_file(timm.create_model("convnext_atto", pretrained=False).state_dict(), str(file))
    assert profile_classifier_config(sizes, seed=0, device="cpu", backbone=file).pretrained_file == str(file)

    monkeypatch.setenv("GANON_CACHE", str(tmp_path / "cache"))
    with pytest.raises(PretrainedWeightsError, match="timm-convnext-base-in1k.*(not in the cache|fetch)"):
        resolve_backbone("timm-convnext-base-in1k")
    installed = install_asset("timm-convnext-base-in1k", file)  # a manual download, trusted on first use
    assert resolve_backbone("timm-convnext-base-in1k") == str(installed)
    with pytest.raises(PretrainedWeightsError, match="no-such-backbone"):
        resolve_backbone("no-such-backbone")
