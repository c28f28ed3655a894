"""The paper's auxiliary classifiers (Sec. 4.2.2 emotions, Sec. 4.3.2 CelebA attributes), trained with Lightning.

A timm ConvNeXt (Base in the paper, ImageNet weights) whose head is replaced for the dataset's
classes. Single-label: cross-entropy with class-balanced weights from the training labels.
Multi-label: binary cross-entropy on logits (a sigmoid at inference). AdamW (lr 3e-4, weight
decay 1e-3), ReduceLROnPlateau on the validation loss (patience 3), early stopping (patience 5)
and the best-validation-loss weights kept. The result is one ganon classifier checkpoint
(``ganon.models.classifier_checkpoint.save_classifier``) that ``ConvNeXtEmotion`` and ``CelebAConvNeXt`` read.

Example::

    table = read_dataset("ckplus", "/data/CK+")
    run = train_classifier(table, config=CLASSIFIER_PRESETS.get("paper"), out_dir="runs/ckplus-original")
    run.checkpoint  # runs/ckplus-original/classifier.safetensors
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import lightning as L
import pandas as pd
import torch
from torch import nn

from ganon.models.classifier_checkpoint import PAPER_PREPROCESSING, ClassifierMetadata, Preprocessing, save_classifier
from ganon.registry import Registry
from ganon.training.classifier_data import ClassifierDataModule, class_weights

__all__ = [
    "CHECKPOINT_NAME",
    "CLASSIFIER_PRESETS",
    "ClassifierModule",
    "ClassifierRun",
    "ClassifierTrainingConfig",
    "PretrainedWeightsError",
    "build_backbone",
    "profile_classifier_config",
    "resolve_backbone",
    "train_classifier",
    "with_overrides",
]

logger = logging.getLogger(__name__)

Task = Literal["multiclass", "multilabel"]
#: The ganon classifier checkpoint inside a run folder.
CHECKPOINT_NAME = "classifier.safetensors"


class PretrainedWeightsError(RuntimeError):
    """ImageNet weights were asked for but could not be loaded; the message says what to do."""


@dataclass(frozen=True)
class ClassifierTrainingConfig:
    """Everything that decides a classifier run; presets hold the paper's values.

    ``pretrained_tag`` picks timm's weights (``fb_in1k`` = the original ConvNeXt ImageNet-1k
    weights, the ones torchvision ships too); ``pretrained_file`` loads them from a local file
    instead of the Hugging Face hub. ``allow_random_init`` turns a failed load into a warning.
    """

    architecture: str = "convnext_base"
    pretrained: bool = True
    pretrained_tag: str | None = "fb_in1k"
    pretrained_file: str | None = None
    allow_random_init: bool = False
    preprocessing: Preprocessing = PAPER_PREPROCESSING
    hflip_probability: float = 0.5
    learning_rate: float = 3e-4
    weight_decay: float = 1e-3
    plateau_patience: int = 3
    plateau_factor: float = 0.1
    early_stopping_patience: int = 5
    max_epochs: int = 100
    batch_size: int = 32
    num_workers: int = 4
    class_balanced: bool = True
    seed: int = 0
    accelerator: str = "auto"
    devices: int | str = 1
    precision: str = "32-true"
    deterministic: bool = False

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["preprocessing"] = asdict(self.preprocessing)
        return record


#: Named configurations: ``paper`` (Sec. 4.2.2), ``small`` (its recipe with ConvNeXt-Atto) and ``cpu-test``
#: (a tiny ConvNeXt from scratch for tests and smoke runs).
CLASSIFIER_PRESETS: Registry[ClassifierTrainingConfig] = Registry("classifier preset")
CLASSIFIER_PRESETS.register("paper")(ClassifierTrainingConfig())
CLASSIFIER_PRESETS.register("small")(
    # The paper's recipe with ConvNeXt-Atto (3.7 M parameters, timm's ImageNet-1k weights): for small GPUs,
    # quick looks, and the test that runs the paper profile on a CPU.
    ClassifierTrainingConfig(architecture="convnext_atto", pretrained_tag="d2_in1k")
)
CLASSIFIER_PRESETS.register("cpu-test")(
    ClassifierTrainingConfig(
        architecture="convnext_atto",
        pretrained=False,
        pretrained_tag=None,
        preprocessing=Preprocessing(resize=36, crop=32),
        early_stopping_patience=3,
        plateau_patience=2,
        max_epochs=4,
        batch_size=8,
        num_workers=0,
        accelerator="cpu",
        deterministic=True,
    )
)


def build_backbone(config: ClassifierTrainingConfig, n_outputs: int) -> nn.Module:
    """timm model with a fresh ``n_outputs`` head; ImageNet weights when asked (see ``PretrainedWeightsError``)."""
    import timm

    if not config.pretrained:
        return timm.create_model(config.architecture, pretrained=False, num_classes=n_outputs)
    name = f"{config.architecture}.{config.pretrained_tag}" if config.pretrained_tag else config.architecture
    overlay = {"file": str(Path(config.pretrained_file).expanduser())} if config.pretrained_file else None
    if config.pretrained_file and not Path(config.pretrained_file).expanduser().is_file():
        error: Exception = FileNotFoundError(f"{config.pretrained_file}: no such weights file")
    else:
        try:
            return timm.create_model(name, pretrained=True, num_classes=n_outputs, pretrained_cfg_overlay=overlay)
        except Exception as caught:  # hub offline, file damaged, unknown tag: all end the same way
            error = caught
    message = (
        f"could not load ImageNet weights for {name} ({type(error).__name__}: {error}). The paper's classifier "
        "starts from ImageNet weights: put the timm weights file on disk and pass its path (pretrained_file, "
        "--pretrained-file), or train from scratch explicitly (pretrained=False, --no-pretrained; "
        "allow_random_init=True, --allow-random-init, to fall back with a warning)."
    )
    if not config.allow_random_init:
        raise PretrainedWeightsError(message) from None
    logger.warning("%s Falling back to random initialisation.", message)
    return timm.create_model(config.architecture, pretrained=False, num_classes=n_outputs)


class ClassifierModule(L.LightningModule):
    """ConvNeXt + the paper's loss and optimiser; ``model`` is the plain timm network that gets saved."""

    def __init__(self, *, config: ClassifierTrainingConfig, classes: Sequence[str], task: Task,
                 weights: Sequence[float] | None = None, model: nn.Module | None = None) -> None:
        super().__init__()
        if task not in ("multiclass", "multilabel"):
            raise ValueError(f"task must be 'multiclass' or 'multilabel', got {task!r}")
        self.config = config
        self.classes = tuple(classes)
        self.task = task
        self.model = model if model is not None else build_backbone(config, len(self.classes))
        if weights is not None and len(weights) != len(self.classes):
            raise ValueError(f"{len(weights)} class weights for {len(self.classes)} classes")
        # A buffer so the weights follow the module to the accelerator and into checkpoints.
        self.register_buffer("class_weight", None if weights is None else torch.as_tensor(weights, dtype=torch.float32))
        self.save_hyperparameters({"config": config.to_dict(), "classes": list(self.classes), "task": task})

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.task == "multilabel":
            return nn.functional.binary_cross_entropy_with_logits(logits, targets.float())
        return nn.functional.cross_entropy(logits, targets, weight=self.class_weight)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        images, targets = batch
        logits = self(images)
        loss = self.loss(logits, targets)
        on_step = stage == "train"
        self.log(f"{stage}_loss", loss, on_step=on_step, on_epoch=True, prog_bar=True, batch_size=len(images))
        if self.task == "multiclass":
            accuracy = (logits.argmax(dim=1) == targets).float().mean()
        else:
            accuracy = ((logits > 0) == targets.bool()).float().mean()  # per-attribute accuracy
        self.log(f"{stage}_acc", accuracy, on_step=False, on_epoch=True, batch_size=len(images))
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.config.learning_rate,
                                      weight_decay=self.config.weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.config.plateau_factor, patience=self.config.plateau_patience)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch"}}


@dataclass(frozen=True)
class ClassifierRun:
    """What ``train_classifier`` leaves in ``out_dir``: the ganon checkpoint, the CSV log and a summary."""

    out_dir: Path
    checkpoint: Path
    metrics_csv: Path
    classes: tuple[str, ...]
    task: Task
    best_val_loss: float
    epochs: int
    info: Mapping[str, Any] = field(default_factory=dict)

    def metrics(self) -> pd.DataFrame:
        """The CSV logger's table (one row per logged step or epoch)."""
        return pd.read_csv(self.metrics_csv)


def _check_out_dir(out_dir: Path, *, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir}: not empty; refusing to overwrite an earlier run (use overwrite)")


def train_classifier(
    table: pd.DataFrame,
    *,
    config: ClassifierTrainingConfig,
    out_dir: Path | str,
    classes: Sequence[str] | None = None,
    image_root_override: Path | str | None = None,
    override_splits: Sequence[str] = ("train", "val"),
    missing: Literal["error", "drop"] = "error",
    train_data: str = "Original",
    overwrite: bool = False,
    progress: bool = False,
) -> ClassifierRun:
    """Train on the table's ``train`` split, select on ``val``, write ``out_dir/classifier.safetensors``.

    ``image_root_override`` trains (and selects) on anonymized copies of the images; ``train_data``
    names them in the checkpoint's provenance (``Original``, ``GANonymization``, ...).
    """
    from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite=overwrite)
    L.seed_everything(config.seed, workers=True, verbose=False)
    data = ClassifierDataModule(
        table, preprocessing=config.preprocessing, batch_size=config.batch_size, num_workers=config.num_workers,
        hflip_probability=config.hflip_probability, classes=classes, image_root_override=image_root_override,
        override_splits=override_splits, missing=missing)  # fmt: skip
    weights = None
    if data.task == "multiclass" and config.class_balanced:
        weights = class_weights(data.train_targets(), len(data.classes)).tolist()
        logger.info("class weights: %s", ", ".join(f"{c} {w:.3f}" for c, w in zip(data.classes, weights)))
    module = ClassifierModule(config=config, classes=data.classes, task=data.task, weights=weights)
    out_dir.mkdir(parents=True, exist_ok=True)
    for earlier in ("checkpoints", "logs"):  # an earlier run's files would be renamed around (best-...-v1)
        shutil.rmtree(out_dir / earlier, ignore_errors=True)
    checkpointing = ModelCheckpoint(dirpath=out_dir / "checkpoints", filename="best-{epoch:03d}",
                                    monitor="val_loss", mode="min", save_top_k=1, save_last=False)
    callbacks = [checkpointing, EarlyStopping(monitor="val_loss", mode="min", patience=config.early_stopping_patience),
                 LearningRateMonitor(logging_interval="epoch")]
    csv_logger = CSVLogger(save_dir=str(out_dir), name="logs", version="")
    trainer = L.Trainer(
        max_epochs=config.max_epochs, accelerator=config.accelerator, devices=config.devices,
        precision=config.precision, deterministic=config.deterministic, callbacks=callbacks, logger=csv_logger,
        enable_progress_bar=progress, enable_model_summary=False, log_every_n_steps=1, default_root_dir=str(out_dir))
    started = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - started
    best_path = checkpointing.best_model_path
    if best_path:
        state = torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    best = checkpointing.best_model_score
    best_val_loss = float(best) if best is not None else math.nan
    info = {
        "dataset": table.attrs.get("dataset"),
        "dataset_root": table.attrs.get("root"),
        "split_seed": table.attrs.get("split_seed"),
        "train_data": train_data,
        "image_root_override": None if image_root_override is None else str(Path(image_root_override).resolve()),
        "override_splits": list(override_splits) if image_root_override is not None else [],
        "n_train": len(data.tables[data.train_split]),
        "n_val": len(data.tables[data.val_split]),
        "class_weights": weights,
        "epochs": int(trainer.current_epoch),
        "best_epoch": _epoch_of(best_path),
        "best_val_loss": best_val_loss,
        "train_seconds": round(seconds, 1),
        "config": config.to_dict(),
        "versions": {"torch": torch.__version__, "lightning": L.__version__, "timm": _timm_version()},
    }
    metadata = ClassifierMetadata(architecture=config.architecture, classes=data.classes, task=data.task,
                                  preprocessing=config.preprocessing, info=info)
    checkpoint = save_classifier(out_dir / CHECKPOINT_NAME, module.model.eval(), metadata, overwrite=overwrite)
    (out_dir / "run.json").write_text(json.dumps({"classes": list(data.classes), "task": data.task, **info},
                                                 indent=2, default=str) + "\n")
    logger.info("%s: %s classifier, %d epochs, best val loss %.4f (%.0f s)", checkpoint, data.task,
                info["epochs"], best_val_loss, seconds)
    return ClassifierRun(out_dir=out_dir, checkpoint=checkpoint, metrics_csv=Path(csv_logger.log_dir) / "metrics.csv",
                         classes=data.classes, task=data.task, best_val_loss=best_val_loss, epochs=info["epochs"],
                         info=info)


def _epoch_of(path: str) -> int | None:
    found = re.search(r"epoch=(\d+)", Path(path).stem) if path else None
    return int(found.group(1)) if found else None


def _timm_version() -> str:
    import timm

    return str(timm.__version__)


def with_overrides(config: ClassifierTrainingConfig, **changes: Any) -> ClassifierTrainingConfig:
    """A copy of ``config`` with the given fields changed (None values are ignored)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})


def resolve_backbone(backbone: str | os.PathLike[str] | None) -> str | None:
    """A local file for the classifiers' ImageNet start: a path, or a weights manifest name in ganon's cache.

    None means "let timm fetch its weights". A missing file or an asset not in the cache raises
    ``PretrainedWeightsError`` with the way to get it.
    """
    if backbone is None:
        return None
    path = Path(backbone).expanduser()
    if path.is_file():
        return str(path)
    from ganon.data.assets import AssetError, resolve_asset
    from ganon.data.manifests import ManifestError

    try:
        return str(resolve_asset(str(backbone)))
    except (AssetError, ManifestError, KeyError, FileNotFoundError) as error:
        raise PretrainedWeightsError(f"classifier backbone {str(backbone)!r}: {error}") from None


def profile_classifier_config(
    sizes: Mapping[str, Any],
    *,
    seed: int,
    device: str,
    backbone: str | os.PathLike[str] | None = None,
    preset: str = "paper",
) -> ClassifierTrainingConfig:
    """The book's classifier recipe: ``preset`` with a profile's epochs, batch, workers, seed, device, weights."""
    return with_overrides(
        CLASSIFIER_PRESETS.get(preset),
        max_epochs=sizes["classifier_max_epochs"],
        num_workers=sizes["num_workers"],
        batch_size=sizes["batch_size"],
        seed=seed,
        accelerator="gpu" if device.startswith("cuda") else "cpu",
        pretrained_file=resolve_backbone(backbone),
    )
