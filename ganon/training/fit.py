"""Run a pix2pix training (Lightning Trainer) and export its generator as a ganon weights file.

A run folder holds ``run.json`` (config, seed, data, environment, progress), ``ckpt/`` (resumable
Lightning checkpoints, ``last.ckpt`` always), ``logs/metrics.csv`` (and TensorBoard events when
tensorboard is installed) and ``samples/`` (landmarks | generated | target grids).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from ganon.training.callbacks import PeriodicCheckpoint, RunRecord, SampleGrid, batches_done, environment
from ganon.training.config import TrainConfig
from ganon.training.pairs import PairDataset, pair_rows
from ganon.training.pix2pix import Pix2Pix

__all__ = ["FitResult", "export_generator", "find_checkpoint", "final_losses", "fit", "parse_max_time"]

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
LAST = "last.ckpt"


@dataclass(frozen=True)
class FitResult:
    run_dir: Path
    checkpoint: Path
    steps: int
    wall_time_s: float
    record: dict[str, Any]


def parse_max_time(value: str | float | None) -> timedelta | None:
    """``"HH:MM:SS"``, ``"DD:HH:MM:SS"`` or a number of minutes -> timedelta (None: no limit)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return timedelta(minutes=float(value))
    parts = str(value).split(":")
    try:
        if len(parts) == 1:
            return timedelta(minutes=float(parts[0]))
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"max_time must be minutes or [DD:]HH:MM:SS, got {value!r}") from None
    if len(numbers) == 3:
        return timedelta(hours=numbers[0], minutes=numbers[1], seconds=numbers[2])
    if len(numbers) == 4:
        return timedelta(days=numbers[0], hours=numbers[1], minutes=numbers[2], seconds=numbers[3])
    raise ValueError(f"max_time must be minutes or [DD:]HH:MM:SS, got {value!r}")


def _precision(config: TrainConfig, accelerator: str) -> str:
    if config.precision != "auto":
        return "32-true" if config.precision == "32" else config.precision
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    return "bf16-mixed" if on_gpu else "32-true"


def _loggers(run_dir: Path) -> list:
    loggers: list = [CSVLogger(run_dir, name="logs", version="")]
    try:
        from lightning.pytorch.loggers import TensorBoardLogger

        import tensorboard  # noqa: F401  (TensorBoardLogger falls back to tensorboardX otherwise)

        loggers.append(TensorBoardLogger(run_dir, name="tb", version=""))
    except ImportError:
        log.info("tensorboard is not installed: logging to CSV only (%s)", run_dir / "logs" / "metrics.csv")
    return loggers


def _set_aside_metrics(log_dir: Path) -> None:
    """Move ``metrics.csv`` to ``metrics.partNN.csv``: Lightning's CSV logger deletes it on resume."""
    current = log_dir / "metrics.csv"
    if current.is_file():
        current.rename(log_dir / f"metrics.part{len(list(log_dir.glob('metrics.part*.csv'))):02d}.csv")


def _merge_metrics(log_dir: Path) -> None:
    """Put the set-aside segments back in front of ``metrics.csv``; rows an earlier segment logged past
    the point the next one resumed from (after its last checkpoint) are dropped."""
    import pandas as pd

    parts = sorted(log_dir.glob("metrics.part*.csv"))
    if not parts:
        return
    current = log_dir / "metrics.csv"
    frames = [pd.read_csv(p) for p in parts] + ([pd.read_csv(current)] if current.is_file() else [])
    kept = []
    for frame, following in zip(frames, frames[1:] + [None]):
        if following is not None and len(following) and "step" in frame and "step" in following:
            frame = frame[frame["step"] < following["step"].min()]
        kept.append(frame)
    merged = pd.concat(kept, ignore_index=True)
    tmp = log_dir / "metrics.csv.tmp"
    merged.to_csv(tmp, index=False)
    tmp.replace(current)
    for part in parts:
        part.unlink()


def _loader(dataset: PairDataset, config: TrainConfig, *, train: bool, pin: bool) -> DataLoader:
    workers = config.num_workers
    return DataLoader(
        dataset, batch_size=config.batch_size, shuffle=train, drop_last=train and len(dataset) >= config.batch_size,
        num_workers=workers, persistent_workers=workers > 0, pin_memory=pin,
        generator=torch.Generator().manual_seed(config.seed) if train else None,
    )


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file from a file, a ``ckpt/`` folder or a run folder (``last.ckpt`` preferred)."""
    path = Path(path)
    if path.is_file():
        return path
    for folder in (path, path / "ckpt"):
        if (folder / LAST).is_file():
            return folder / LAST
        found = sorted(folder.glob("*.ckpt"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        if found:
            return found[-1]
    raise FileNotFoundError(f"{path}: no Lightning checkpoint (*.ckpt) here or in ckpt/")


def fit(
    data_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    config: TrainConfig,
    *,
    max_steps: int | None = None,
    max_time: str | float | None = None,
    accelerator: str = "auto",
    devices: str | int = "auto",
    num_nodes: int = 1,
    strategy: str = "auto",
    resume: bool | str | os.PathLike[str] = False,
    init_from: str | os.PathLike[str] | None = None,
    progress: bool = True,
    command: list[str] | None = None,
) -> FitResult:
    """Train ``config`` on the pairs in ``data_dir`` into ``run_dir``; resume from its last checkpoint.

    ``max_steps`` counts training batches (generator + discriminator update each); ``max_time`` is the
    total wall time over all resumed segments (Lightning's Timer). ``init_from`` fine-tunes: the new run
    starts from another run's generator and discriminator weights, with fresh optimisers and step count.
    """
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    ckpt_dir = run / "ckpt"
    resume_from: Path | None = None
    if resume:
        resume_from = find_checkpoint(run if resume is True else resume)
        saved = json.loads((run / RUN_FILE).read_text()) if (run / RUN_FILE).exists() else {}
        if saved.get("config") and TrainConfig.from_dict(saved["config"]) != config:
            log.warning("resuming with a config that differs from the one in %s", run / RUN_FILE)
    elif (run / RUN_FILE).exists() and find_checkpoint_or_none(run):
        raise FileExistsError(f"{run}: holds a run already; pass resume=True (--resume) or use a new folder")
    initial = None
    if init_from is not None:
        if resume_from is not None:
            raise ValueError("init_from starts a new run from another run's weights; "
                             "it cannot be combined with resume")
        initial = initial_weights(init_from, config)

    L.seed_everything(config.seed, workers=True)
    code_dim = config.code_dim
    train_set = PairDataset(data_dir, split="train", resolution=config.resolution, hflip=config.hflip,
                            code_dim=code_dim)
    val_rows = pair_rows(data_dir, split="val")
    val_set = (PairDataset(data_dir, split="val", resolution=config.resolution, code_dim=code_dim)
               if val_rows else None)
    pin = torch.cuda.is_available() and accelerator != "cpu"
    train_loader = _loader(train_set, config, train=True, pin=pin)
    val_loader = _loader(val_set, config, train=False, pin=pin) if val_set is not None else None

    preprocess_file = Path(data_dir) / "preprocess.json"
    record = {
        "config": config.to_dict(),
        "seed": config.seed,
        "data": {
            "dir": str(Path(data_dir).resolve()),
            "train_pairs": len(train_set),
            "val_pairs": len(val_set) if val_set is not None else 0,
            "preprocess": json.loads(preprocess_file.read_text()) if preprocess_file.exists() else None,
        },
        "command": command if command is not None else sys.argv,
        "limits": {"max_steps": max_steps, "max_time": str(parse_max_time(max_time)) if max_time else None},
        "trainer": {"accelerator": accelerator, "devices": devices, "num_nodes": num_nodes, "strategy": strategy,
                    "precision": _precision(config, accelerator)},
        "environment": environment(),
        "resumed_from": str(resume_from) if resume_from else None,
    }
    if initial is not None:
        record["initialized_from"] = initial.describe()
    steps_per_epoch = max(1, len(train_loader))
    callbacks = [
        PeriodicCheckpoint(ckpt_dir / LAST, minutes=config.checkpoint_minutes),
        SampleGrid(run / "samples", every=config.sample_every),
        RunRecord(run / RUN_FILE, record, every=max(10, min(200, config.sample_every))),
    ]
    if resume_from is not None:
        _set_aside_metrics(run / "logs")
    trainer = L.Trainer(
        accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy=strategy,
        precision=_precision(config, accelerator),
        max_epochs=config.epochs if max_steps is None else -1,
        # Manual optimisation: Lightning's global_step counts both optimisers' steps.
        max_steps=-1 if max_steps is None else 2 * max_steps,
        max_time=parse_max_time(max_time),
        logger=_loggers(run), callbacks=callbacks, default_root_dir=run,
        log_every_n_steps=min(20, steps_per_epoch),
        # counted across epochs (check_val_every_n_epoch=None), so tiny data sets do not validate every epoch
        val_check_interval=config.val_every if val_loader is not None else None,
        check_val_every_n_epoch=None if val_loader is not None else 1,
        limit_val_batches=config.val_batches if val_loader is not None else 0,
        num_sanity_val_steps=0,
        enable_progress_bar=progress,
        benchmark=torch.cuda.is_available() and accelerator != "cpu",
    )
    module = Pix2Pix(config)
    if initial is not None:
        initial.apply(module)
    began = time.perf_counter()
    try:
        trainer.fit(module, train_loader, val_loader, ckpt_path=str(resume_from) if resume_from else None)
    finally:
        _merge_metrics(run / "logs")
    trainer.save_checkpoint(ckpt_dir / LAST)  # also when max_time stopped it between periodic saves
    elapsed = time.perf_counter() - began
    saved = json.loads((run / RUN_FILE).read_text()) if (run / RUN_FILE).exists() else record
    log.info("trained %d steps in %.0f s; last checkpoint %s", batches_done(trainer), elapsed, ckpt_dir / LAST)
    return FitResult(run, ckpt_dir / LAST, batches_done(trainer), float(saved.get("wall_time_s", elapsed)), saved)


def find_checkpoint_or_none(path: Path) -> Path | None:
    try:
        return find_checkpoint(path)
    except FileNotFoundError:
        return None


def final_losses(run_dir: str | os.PathLike[str], *, last: int = 200) -> dict[str, float]:
    """Mean of each logged training loss over the last ``last`` logged rows, and the last val/l1."""
    import pandas as pd

    path = Path(run_dir) / "logs" / "metrics.csv"
    if not path.exists():
        return {}
    frame = pd.read_csv(path)
    out: dict[str, float] = {}
    for column in frame.columns:
        if column.startswith("train/"):
            values = frame[column].dropna()
            if len(values):
                out[column] = round(float(values.tail(last).mean()), 5)
        elif column.startswith("val/"):
            values = frame[column].dropna()
            if len(values):
                out[column] = round(float(values.iloc[-1]), 5)
    return out


@dataclass(frozen=True)
class InitialWeights:
    """Generator and discriminator weights of an earlier run that a fine-tuning run starts from."""

    path: Path
    state: dict[str, torch.Tensor]
    steps: int | None
    config: dict[str, Any]

    def apply(self, module: Pix2Pix) -> None:
        if any(k.startswith("discriminator.") for k in self.state):
            module.load_state_dict(self.state, strict=True)
        else:  # a generator weights file: the discriminator starts fresh
            module.generator.load_state_dict({k.removeprefix("generator."): v for k, v in self.state.items()},
                                             strict=True)

    def describe(self) -> dict[str, Any]:
        from ganon.models.checkpoint import sha256_file

        return {"checkpoint": str(self.path.resolve()), "sha256": sha256_file(self.path), "steps": self.steps,
                "config": self.config}


def initial_weights(checkpoint: str | os.PathLike[str], config: TrainConfig) -> InitialWeights:
    """Read the weights a fine-tuning run starts from; the architecture must match ``config``'s.

    A ganon generator file (``.safetensors``, e.g. the shipped default) gives the generator only; an
    un-coded one starts the coded variant of the same shape with its code injection fresh (identity).
    """
    if Path(checkpoint).suffix == ".safetensors":
        return _initial_generator(Path(checkpoint), config)
    path = find_checkpoint(checkpoint)
    ckpt = _read_checkpoint(path)
    try:
        earlier = TrainConfig.from_dict(ckpt["hyper_parameters"]["config"])
        state = ckpt["state_dict"]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a ganon training checkpoint ({error})") from None
    shape = ("generator", "discriminator", "resolution")
    differs = [f"{k} {getattr(earlier, k)!r} != {getattr(config, k)!r}" for k in shape
               if getattr(earlier, k) != getattr(config, k)]
    if differs:
        raise ValueError(f"{path}: cannot fine-tune from this checkpoint: {'; '.join(differs)}")
    steps = int(ckpt["global_step"]) // 2 if "global_step" in ckpt else None
    return InitialWeights(path, state, steps, earlier.to_dict())


def _initial_generator(path: Path, config: TrainConfig) -> InitialWeights:
    import dataclasses

    from ganon.models.checkpoint import load_generator
    from ganon.models.pix2pix import GENERATOR_PRESETS, coded_from

    loaded = load_generator(path)
    wanted = GENERATOR_PRESETS.get(config.generator)
    model = loaded.model
    if wanted.code_dim and not loaded.config.code_dim:
        model = coded_from(model, code_dim=wanted.code_dim, code_hidden=wanted.code_hidden, seed=config.seed)
    if dataclasses.replace(model.config, resolution=wanted.resolution) != wanted:
        raise ValueError(f"{path}: cannot fine-tune from this generator: {loaded.config} does not fit "
                         f"preset {config.generator!r} ({wanted})")
    state = {f"generator.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    return InitialWeights(path, state, loaded.card.get("steps"),
                          {"generator_file": loaded.card.get("name"), "config": dataclasses.asdict(loaded.config)})


def _read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable ganon training checkpoint ({error})") from None


def _portable(value: Any, run_dir: Path) -> Any:
    """The card with every absolute path made relative: to the repository when inside it, else to the
    run folder (a model card travels; this machine's directories mean nothing elsewhere)."""
    if isinstance(value, dict):
        return {k: _portable(v, run_dir) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_portable(v, run_dir) for v in value)
    if isinstance(value, str) and os.path.isabs(value):
        repo = Path(__file__).resolve().parents[2]
        path = Path(value).resolve()
        if path.is_relative_to(repo):
            return path.relative_to(repo).as_posix()
        return Path(os.path.relpath(path, run_dir.resolve())).as_posix()
    return value


def export_generator(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    name: str | None = None,
    card: dict[str, Any] | None = None,
    overwrite: bool = False,
    card_suffix: str = ".json",
) -> tuple[Path, dict[str, Any]]:
    """Write the checkpoint's generator as fp16 safetensors (+ a card file beside it); return path, card."""
    from ganon.models.checkpoint import save_generator
    from ganon.models.pix2pix import build_generator, count_parameters

    path = find_checkpoint(checkpoint)
    ckpt = _read_checkpoint(path)
    try:
        config = TrainConfig.from_dict(ckpt["hyper_parameters"]["config"])
    except (KeyError, TypeError) as error:
        raise ValueError(f"{path}: no ganon TrainConfig in the checkpoint's hyper_parameters ({error})") from None
    state = {k.removeprefix("generator."): v for k, v in ckpt["state_dict"].items() if k.startswith("generator.")}
    model = build_generator(config.generator, init=False)
    model.load_state_dict(state, strict=True)
    model.eval()

    run_dir = path.parent.parent if path.parent.name == "ckpt" else path.parent
    run = json.loads((run_dir / RUN_FILE).read_text()) if (run_dir / RUN_FILE).exists() else {}
    out = Path(out)
    # the checkpoint's own count: run.json describes the run's latest state, not an earlier checkpoint
    steps = int(ckpt["global_step"]) // 2 if "global_step" in ckpt else run.get("steps")
    full_card: dict[str, Any] = {
        "name": name or out.stem,
        "origin": "trained with ganon (pix2pix, Section 3.4)",
        "render_style": config.render_style,
        "resolution": config.resolution,
        "training_config": config.to_dict(),
        "generator_preset": config.generator,
        "parameters": count_parameters(model),
        "data": run.get("data"),
        "steps": steps,
        "epoch": ckpt.get("epoch"),
        "wall_time_s": run.get("wall_time_s"),
        "samples_per_s": run.get("samples_per_s"),
        "hardware": {k: v for k, v in run.get("environment", {}).items() if k != "packages"},
        "packages": run.get("environment", {}).get("packages"),
        "trainer": run.get("trainer"),
        "metrics": final_losses(run_dir),
        "checkpoint": path.name,
        "command": run.get("command"),
    }
    if run.get("initialized_from"):  # a fine-tuned model: the run its weights started from
        full_card["initialized_from"] = run["initialized_from"]
    if model.config.code_dim:
        from ganon.training.config import appearance_code_card

        full_card["appearance_code"] = appearance_code_card(config)
    full_card.update(card or {})
    full_card = _portable(full_card, run_dir)
    digest = save_generator(out, model, card=full_card, render_style=config.render_style,
                            dtype=torch.float16, overwrite=overwrite)
    full_card["sha256"] = digest
    full_card["size_bytes"] = out.stat().st_size
    card_path = out.with_suffix(card_suffix)
    if card_suffix in (".yaml", ".yml"):
        import yaml

        card_path.write_text(yaml.safe_dump(full_card, sort_keys=False))
    else:
        card_path.write_text(json.dumps(full_card, indent=2, default=str) + "\n")
    log.info("exported %s (%.1f MB, sha256 %s) and %s", out, out.stat().st_size / 1e6, digest[:12], card_path)
    return out, full_card
