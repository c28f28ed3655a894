"""``ganon train`` and ``ganon export``: Section 3.4 training with Lightning, generator export."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def train(
    data: Path = typer.Argument(..., help="A `ganon preprocess` folder."),
    run: Path = typer.Option(..., "--run", "-r", help="Run folder (checkpoints, logs, samples, run.json)."),
    preset: str = typer.Option("small-128", "--preset", "-p", help="paper, small-128, small-256, cpu-test; seeded "
                                "variants small-128-coded, cpu-test-coded (pairs need recorded DCGAN latents)."),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Stop after this many batches."),
    max_time: str | None = typer.Option(None, "--max-time", help="Wall-time limit: minutes or [DD:]HH:MM:SS."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Override the preset's epochs."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Override the batch size (per device)."),
    lr: float | None = typer.Option(None, "--lr", help="Override the learning rate."),
    lambda_l1: float | None = typer.Option(None, "--lambda-l1", min=0.0,
                                           help="Override the L1 weight (paper: 100)."),
    lambda_diversity: float | None = typer.Option(None, "--lambda-diversity", min=0.0,
                                                  help="Coded variant: weight of the seed-diversity term."),
    code_lr_multiplier: float | None = typer.Option(None, "--code-lr-multiplier", min=0.0,
                                                    help="Coded variant: learning-rate factor of the code injection."),
    no_dropout: bool = typer.Option(False, "--no-dropout", help="Train the generator without its dropout "
                                    "(as at inference; needed by --lambda-diversity)."),
    double_forward: bool = typer.Option(False, "--double-forward", help="The authors' step (generator runs twice)."),
    precision: str = typer.Option("auto", "--precision", help="auto, 32, bf16-mixed, 16-mixed."),
    workers: int | None = typer.Option(None, "--workers", min=0, help="Data-loader processes."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto, cpu, gpu."),
    devices: str = typer.Option("auto", "--devices", help="Devices per node (auto, N or a list)."),
    num_nodes: int = typer.Option(1, "--num-nodes", min=1, help="Nodes (SLURM/torchrun)."),
    strategy: str = typer.Option("auto", "--strategy", help="Lightning strategy, e.g. ddp."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --run from its last checkpoint."),
    init_from: Path | None = typer.Option(None, "--init-from", help="Fine-tune: start a new run from the weights "
                                          "of another run (its folder or a .ckpt) or of a ganon generator "
                                          "(.safetensors; an un-coded one starts a -coded preset as itself)."),
    seed: int | None = typer.Option(None, "--seed", help="Override the preset's seed."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Train the pix2pix generator on landmark/face pairs (resumable; config, seed and versions saved)."""
    from ganon.training.config import get_preset
    from ganon.training.fit import fit

    overrides = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "lambda_l1": lambda_l1,
                 "lambda_diversity": lambda_diversity, "code_lr_multiplier": code_lr_multiplier,
                 "num_workers": workers, "seed": seed}
    changes = {k: v for k, v in overrides.items() if v is not None}
    changes["precision"] = precision
    if double_forward:
        changes["double_forward"] = True
    if no_dropout:
        changes["generator_dropout"] = False
    try:
        config = get_preset(preset).replace(**changes)
        devices_value: str | int = int(devices) if devices.isdigit() else devices
        result = fit(data, run, config, max_steps=max_steps, max_time=max_time, accelerator=accelerator,
                     devices=devices_value, num_nodes=num_nodes, strategy=strategy, resume=resume,
                     init_from=init_from,
                     progress=progress, command=["ganon", *sys.argv[1:]])
    except (KeyError, ValueError, FileNotFoundError, FileExistsError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{result.steps} steps in {result.wall_time_s:.0f} s; checkpoint {result.checkpoint}")


def export(
    checkpoint: Path = typer.Argument(..., help="A run folder, its ckpt/ folder or a .ckpt file."),
    out: Path = typer.Option(..., "--out", "-o", help="Target .safetensors (a .json card is written beside it)."),
    name: str | None = typer.Option(None, "--name", help="Model name in the card (default: file stem)."),
    extra: Path | None = typer.Option(None, "--card-extra", help="JSON object merged into the card (quality, reproduce)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
) -> None:
    """Export the generator of a training checkpoint as fp16 safetensors plus a model card."""
    import json

    from ganon.training.fit import export_generator

    try:
        card = json.loads(extra.read_text()) if extra else None
        if card is not None and not isinstance(card, dict):
            raise ValueError(f"{extra}: --card-extra must hold a JSON object")
        path, full = export_generator(checkpoint, out, name=name, card=card, overwrite=overwrite)
    except (FileNotFoundError, FileExistsError, ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{path} ({full['size_bytes'] / 1e6:.1f} MB, sha256 {full['sha256']})")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("export")(export)
