"""``ganon classifier``: train the paper's ConvNeXt classifiers and report them on original validation images."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from ganon.registry import UnknownNameError

logger = logging.getLogger(__name__)

classifier_app = typer.Typer(name="classifier", no_args_is_help=True,
                             help="Train the emotion / CelebA attribute classifier (Sec. 4.2.2, 4.3.2) and report it.")


def _fail(error: BaseException) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=1)


def _read_table(dataset: str, data_dir: Path):  # noqa: ANN202 - a pandas DataFrame
    from ganon.data.datasets import read_dataset

    return read_dataset(dataset, data_dir)


@classifier_app.command("train")
def train_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset reader: ckplus, faces, affectnet, celeba."),
    data_dir: Path = typer.Option(..., "--data-dir", help="The dataset root in its official layout."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder (must be new or empty)."),
    preset: str = typer.Option("paper", "--preset", "-p", help="paper or cpu-test."),
    anonymized_dir: Optional[Path] = typer.Option(
        None, "--anonymized-dir", help="Anonymized copy of the dataset root (same relative paths): train on it."),
    override_splits: str = typer.Option(
        "train,val", "--override-splits", help="Splits read from --anonymized-dir (val drives early stopping)."),
    train_data: Optional[str] = typer.Option(
        None, "--train-data", help="Name of the training images in reports [default: Original, or the folder name]."),
    drop_missing: bool = typer.Option(False, "--drop-missing", help="Skip images without an anonymized copy."),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs", help="Override the preset's epoch limit."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Override the preset's batch size."),
    num_workers: Optional[int] = typer.Option(None, "--num-workers", help="Override the data loader workers."),
    accelerator: Optional[str] = typer.Option(None, "--accelerator", help="cpu, gpu or auto (preset's default)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the preset's seed."),
    pretrained: Optional[bool] = typer.Option(None, "--pretrained/--no-pretrained", help="Start from ImageNet weights."),
    pretrained_file: Optional[Path] = typer.Option(None, "--pretrained-file", help="Local timm ImageNet weights."),
    allow_random_init: bool = typer.Option(False, "--allow-random-init",
                                           help="If ImageNet weights cannot be loaded, warn and start from scratch."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Reuse a non-empty run folder."),
) -> None:
    """Train on the dataset's train split (or its anonymized copy); write RUN/classifier.safetensors."""
    from ganon.data.datasets import DatasetLayoutError
    from ganon.training.classifier import (
        CLASSIFIER_PRESETS,
        PretrainedWeightsError,
        train_classifier,
        with_overrides,
    )

    try:
        config = with_overrides(
            CLASSIFIER_PRESETS.get(preset), max_epochs=max_epochs, batch_size=batch_size, num_workers=num_workers,
            accelerator=accelerator, seed=seed, pretrained=pretrained,
            pretrained_file=None if pretrained_file is None else str(pretrained_file),
            allow_random_init=allow_random_init or None)  # fmt: skip
        table = _read_table(dataset, data_dir)
        name = train_data or ("Original" if anonymized_dir is None else anonymized_dir.resolve().name)
        run = train_classifier(
            table, config=config, out_dir=out, image_root_override=anonymized_dir,
            override_splits=tuple(s.strip() for s in override_splits.split(",") if s.strip()),
            missing="drop" if drop_missing else "error", train_data=name, overwrite=overwrite,
            progress=logging.getLogger().isEnabledFor(logging.INFO))  # fmt: skip
    except (UnknownNameError, DatasetLayoutError, PretrainedWeightsError, FileNotFoundError, FileExistsError,
            ValueError) as error:
        raise _fail(error) from None
    typer.echo(f"{run.checkpoint}: {run.task}, {len(run.classes)} classes, {run.epochs} epochs, "
               f"best val loss {run.best_val_loss:.4f}")


@classifier_app.command("report")
def report_command(
    model: Path = typer.Option(..., "--model", "-m", help="A ganon classifier checkpoint (.safetensors)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset reader of the ORIGINAL images."),
    data_dir: Path = typer.Option(..., "--data-dir", help="The original dataset root."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for report.csv, predictions.csv, confusion.*"),
    split: str = typer.Option("val", "--split", help="Split to evaluate on."),
    train_data: Optional[str] = typer.Option(None, "--train-data", help="Label for the model's training images "
                                             "[default: from the checkpoint]."),
    device: str = typer.Option("cpu", "--device", help="torch device for inference."),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per forward pass."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing report files."),
) -> None:
    """Table 4/5 classification report and Figure 10/11 confusion matrices on original validation images."""
    from ganon.models.classifier_checkpoint import load_classifier
    from ganon.data.datasets import DatasetLayoutError
    from ganon.evaluation.training_scenario import evaluate_classifier

    try:
        classifier = load_classifier(model, device=device, batch_size=batch_size)
        table = _read_table(dataset, data_dir)
        result = evaluate_classifier(classifier, table, split=split, train_data=train_data, batch_size=batch_size,
                                     progress=logging.getLogger().isEnabledFor(logging.INFO))
        written = result.save(out, overwrite=overwrite)
    except (UnknownNameError, DatasetLayoutError, FileNotFoundError, FileExistsError, ValueError) as error:
        raise _fail(error) from None
    summary = result.report.set_index("class")
    key = "accuracy" if "accuracy" in summary.index else "micro avg"
    typer.echo(f"{key} f1 {summary.loc[key, 'f1']:.3f} on {len(result.predictions)} {split} images; "
               f"wrote {', '.join(str(p) for p in written)}")


def register(app: typer.Typer) -> None:
    app.add_typer(classifier_app, name="classifier")
