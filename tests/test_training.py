"""Section 3.4 training (``cpu-test`` preset) on real pairs: loss goes down, resume, export and reload."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from ganon.cli import app
from ganon.data.synthetic import write_faces
from ganon.models.checkpoint import load_any
from ganon.models.pix2pix import build_generator
from ganon.pipeline.preprocess import PreprocessConfig, preprocess
from ganon.pipeline.synthesize import Synthesizer
from ganon.training.config import TrainConfig, get_preset
from ganon.training.fit import export_generator, fit
from ganon.training.pairs import PairDataset

STEPS = 100
CONFIG = get_preset("cpu-test")


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs torch on one thread (see conftest)."""


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 synthetic DCGAN faces through the real preprocessing, stored at the preset's 64 px."""
    root = tmp_path_factory.mktemp("train")
    write_faces(root / "faces", 12, seed=0, size=128, progress=False)
    summary = preprocess(root / "faces", root / "pairs", PreprocessConfig(resolution=64, val_fraction=0.2),
                         progress=False)
    assert summary.pairs >= 10
    return root / "pairs"


@pytest.fixture(scope="module")
def run(pairs: Path, tmp_path_factory: pytest.TempPathFactory):
    run_dir = tmp_path_factory.mktemp("run") / "cpu-test"
    return fit(pairs, run_dir, CONFIG, max_steps=STEPS, progress=False, command=["pytest"])


def _generator_of(checkpoint: Path) -> torch.nn.Module:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    model = build_generator(CONFIG.generator, init=False)
    prefix = "generator."
    model.load_state_dict({k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)})
    return model.eval()


def test_short_run_lowers_the_l1_loss(run) -> None:
    assert run.steps == STEPS and run.checkpoint.is_file()
    metrics = pd.read_csv(run.run_dir / "logs" / "metrics.csv")
    l1 = metrics["train/g_l1"].dropna().to_numpy()
    assert len(l1) >= 20
    first, last = l1[:10].mean(), l1[-10:].mean()
    assert last < 0.6 * first, (first, last)
    assert np.isfinite(metrics["train/d_loss"].dropna()).all()
    assert metrics["val/l1"].notna().any()  # validated every val_every steps


def test_run_json_records_seed_config_and_versions(run, pairs: Path) -> None:
    record = json.loads((run.run_dir / "run.json").read_text())
    assert record["seed"] == CONFIG.seed
    assert TrainConfig.from_dict(record["config"]) == CONFIG
    assert record["steps"] == STEPS and record["finished"] and record["wall_time_s"] > 0
    packages = record["environment"]["packages"]
    assert packages["torch"] == torch.__version__.split("+")[0] or packages["torch"] == torch.__version__
    assert packages["lightning"] and packages["ganon"]
    assert record["data"]["train_pairs"] == len(PairDataset(pairs, split="train"))
    assert record["data"]["preprocess"]["resolution"] == 64
    assert record["parameters"]["generator"] > 0 and record["command"] == ["pytest"]


def test_sample_grid_shows_landmarks_generated_target(run, pairs: Path) -> None:
    grids = sorted((run.run_dir / "samples").glob("step_*.png"))
    assert [g.name for g in grids][-1] == f"step_{STEPS:07d}.png"
    grid = cv2.imread(str(grids[-1]))[..., ::-1]
    val = PairDataset(pairs, split="val", resolution=64)
    n = min(6, len(val))
    assert grid.shape == (64 * n, 64 * 3, 3)
    canvas, face = val.images(0)
    np.testing.assert_array_equal(grid[:64, :64], canvas)
    np.testing.assert_array_equal(grid[:64, 128:], face)
    generated = _generator_of(run.checkpoint)(torch.from_numpy(canvas.copy()).permute(2, 0, 1)[None].float()
                                              / 127.5 - 1)
    expected = ((generated.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert np.abs(grid[:64, 64:128].astype(int) - expected.astype(int)).max() <= 1


def test_resume_continues_the_step_count(run, pairs: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "resumed"
    shutil.copytree(run.run_dir, copy)
    with pytest.raises(FileExistsError):
        fit(pairs, copy, CONFIG, max_steps=STEPS + 20, progress=False)
    resumed = fit(pairs, copy, CONFIG, max_steps=STEPS + 20, resume=True, progress=False)
    assert resumed.steps == STEPS + 20
    record = json.loads((copy / "run.json").read_text())
    assert record["steps"] == STEPS + 20 and len(record["segments"]) == 2
    assert record["segment_steps"] == 20  # the speed counts this segment's steps, not the whole run's
    assert record["resumed_from"].endswith("last.ckpt")
    ckpt = torch.load(resumed.checkpoint, map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 2 * (STEPS + 20)  # both optimisers step once per batch
    # the log keeps the first segment's rows (Lightning's CSV logger alone would delete them) and continues
    log = pd.read_csv(copy / "logs" / "metrics.csv")
    steps = log.dropna(subset=["train/g_l1"])["step"].to_numpy()
    first = pd.read_csv(run.run_dir / "logs" / "metrics.csv").dropna(subset=["train/g_l1"])["step"].to_numpy()
    np.testing.assert_array_equal(steps[: len(first)], first)
    assert len(steps) > len(first) and steps.max() >= STEPS + 20 - 2 and (np.diff(steps) > 0).all()
    assert not list((copy / "logs").glob("metrics.part*"))
    # the weights moved on from the checkpoint it resumed from
    before = _generator_of(run.checkpoint).state_dict()
    after = _generator_of(resumed.checkpoint).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # an earlier checkpoint of the run exports with its own step count, not the run's latest
    shutil.copy(run.checkpoint, copy / "ckpt" / "earlier.ckpt")
    _, card = export_generator(copy / "ckpt" / "earlier.ckpt", tmp_path / "earlier.safetensors")
    assert card["steps"] == STEPS


def test_fine_tune_starts_from_another_runs_weights(run, pairs: Path, tmp_path: Path) -> None:
    """``init_from``: a new run with its own config (here a lower L1 weight), the earlier run's weights,
    fresh optimisers and a step count from zero; the record names the checkpoint it started from."""
    tuned_config = CONFIG.replace(lambda_l1=10.0)
    tuned = fit(pairs, tmp_path / "tuned", tuned_config, max_steps=5, init_from=run.run_dir, progress=False)
    assert tuned.steps == 5
    record = json.loads((tmp_path / "tuned" / "run.json").read_text())
    start = record["initialized_from"]
    assert start["checkpoint"] == str(run.checkpoint.resolve()) and start["steps"] == STEPS
    assert start["config"]["lambda_l1"] == CONFIG.lambda_l1 and record["config"]["lambda_l1"] == 10.0
    assert record["resumed_from"] is None
    # five steps moved the weights a little way from the earlier run's, which took 100 steps from its start
    before, after = _generator_of(run.checkpoint).state_dict(), _generator_of(tuned.checkpoint).state_dict()
    origin = build_generator(CONFIG.generator, seed=CONFIG.seed).state_dict()
    weights = [k for k in before if k.endswith("weight")]
    moved = sum(float((after[k] - before[k]).abs().sum()) for k in weights)
    earlier_run = sum(float((origin[k] - before[k]).abs().sum()) for k in weights)
    assert 0 < moved < earlier_run / 3
    with pytest.raises(ValueError, match="resume"):
        fit(pairs, tmp_path / "tuned", tuned_config, max_steps=6, resume=True, init_from=run.run_dir,
            progress=False)
    resumed = fit(pairs, tmp_path / "tuned", tuned_config, max_steps=7, resume=True, progress=False)
    assert resumed.steps == 7
    assert json.loads((tmp_path / "tuned" / "run.json").read_text())["initialized_from"] == start
    other = CONFIG.replace(resolution=128)
    with pytest.raises(ValueError, match="resolution"):
        fit(pairs, tmp_path / "other", other, max_steps=1, init_from=run.run_dir, progress=False)


def test_export_reload_matches_the_checkpoint(run, pairs: Path, tmp_path: Path) -> None:
    """fp16 export: bit-identical to the checkpoint's generator with fp16-rounded weights, within
    1e-2 (in [-1, 1]) of the fp32 one, and Synthesizer's uint8 faces within 2 grey levels of it."""
    out = tmp_path / "cpu-test.safetensors"
    path, card = export_generator(run.run_dir, out, name="t")
    assert path == out and out.with_suffix(".json").is_file()
    assert card["steps"] == STEPS and card["training_config"]["seed"] == CONFIG.seed and card["sha256"]
    assert json.loads(out.with_suffix(".json").read_text())["sha256"] == card["sha256"]

    reference = _generator_of(run.checkpoint)
    rounded = _generator_of(run.checkpoint)
    with torch.no_grad():
        for p in rounded.parameters():
            p.copy_(p.half().float())
    loaded = load_any(out).model.eval()
    canvases = [PairDataset(pairs, split="train", resolution=64).images(i)[0] for i in range(4)]
    x = torch.from_numpy(np.stack(canvases)).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        y_loaded, y_rounded, y_ref = loaded(x), rounded(x), reference(x)
    torch.testing.assert_close(y_loaded, y_rounded, rtol=0, atol=0)
    assert (y_loaded - y_ref).abs().max() < 1e-2

    faces = Synthesizer.from_file(out, device="cpu")(canvases)
    expected = ((y_ref.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert all(f.shape == (64, 64, 3) and f.dtype == np.uint8 for f in faces)
    assert np.abs(np.stack(faces).astype(int) - expected.astype(int)).max() <= 2
    assert Synthesizer.from_file(out, device="cpu").card["name"] == "t"


def test_cli_train_and_export(pairs: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run_dir = tmp_path / "cli-run"
    common = ["train", str(pairs), "--run", str(run_dir), "--preset", "cpu-test", "--no-progress",
              "--accelerator", "cpu"]
    args = [*common, "--max-steps", "6"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "6 steps" in result.output and (run_dir / "ckpt" / "last.ckpt").is_file()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = runner.invoke(app, [*common, "--max-steps", "8", "--resume"])
    assert resumed.exit_code == 0 and "8 steps" in resumed.output, resumed.output
    tuned_dir = tmp_path / "cli-tuned"
    tuned = runner.invoke(app, ["train", str(pairs), "--run", str(tuned_dir), "--preset", "cpu-test",
                                "--no-progress", "--accelerator", "cpu", "--max-steps", "2",
                                "--init-from", str(run_dir), "--lambda-l1", "25"])
    assert tuned.exit_code == 0, tuned.output
    tuned_record = json.loads((tuned_dir / "run.json").read_text())
    assert tuned_record["config"]["lambda_l1"] == 25.0 and tuned_record["initialized_from"]["steps"] == 8
    _, tuned_card = export_generator(tuned_dir, tmp_path / "tuned.safetensors")
    assert tuned_card["steps"] == 2 and tuned_card["initialized_from"]["steps"] == 8
    bad_preset = runner.invoke(app, ["train", str(pairs), "--run", str(tmp_path / "x"), "--preset", "nope"])
    assert bad_preset.exit_code == 2 and "nope" in bad_preset.output

    weights = tmp_path / "cli.safetensors"
    exported = runner.invoke(app, ["export", str(run_dir), "--out", str(weights)])
    assert exported.exit_code == 0, exported.output
    assert weights.is_file() and json.loads(weights.with_suffix(".json").read_text())["steps"] == 8
    assert runner.invoke(app, ["export", str(run_dir), "--out", str(weights)]).exit_code == 2  # exists
    missing = runner.invoke(app, ["export", str(tmp_path / "nothing"), "--out",
                                  str(tmp_path / "n.safetensors")])
    assert missing.exit_code == 2 and "nothing" in missing.output


def test_periodic_checkpoint_is_written_during_training(pairs: Path, tmp_path: Path) -> None:
    """Under manual optimisation Lightning's time-based ModelCheckpoint never saves; ours must."""
    import lightning as L
    from torch.utils.data import DataLoader

    from ganon.training.callbacks import PeriodicCheckpoint
    from ganon.training.pix2pix import Pix2Pix

    target = tmp_path / "ckpt" / "last.ckpt"
    loader = DataLoader(PairDataset(pairs, resolution=CONFIG.resolution), batch_size=CONFIG.batch_size)
    trainer = L.Trainer(accelerator="cpu", max_steps=2 * 3, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[PeriodicCheckpoint(target, minutes=0.0)])
    trainer.fit(Pix2Pix(CONFIG), loader)
    saved = torch.load(target, map_location="cpu", weights_only=True)
    assert saved["global_step"] == 2 * 3  # written after the last batch, by the callback alone
    assert not list(target.parent.glob(".*.tmp"))
