"""``ganon reproduce`` and the result functions behind it, on the real sample photos and offline models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ganon.cli import app
from ganon.reproduce import ResultStore, Settings, names, reproduce

PAPER_RESULTS = [*(f"table{i}" for i in range(1, 7)), *(f"figure{i}" for i in range(3, 12))]
SMOKE_MODELS = {"detector": "retinaface-mobilenet", "segmenter": "mediapipe-head", "landmark_style": "authors",
                "generator": "ganon-synth-128", "identity": "dlib", "emotion": "fer", "attributes": "age-gender"}


def _invoke(*args: str):
    return CliRunner().invoke(app, ["reproduce", *args])


@pytest.fixture()
def few_photos(samples_dir: Path) -> Settings:
    return Settings(profile="smoke", dataset="samples", models=SMOKE_MODELS, samples_dir=str(samples_dir),
                    sizes={"image_size": 256, "max_images": 3, "batch_size": 4, "gan_epochs": 1,
                           "classifier_max_epochs": 1, "num_workers": 0})


def test_every_paper_result_is_registered_and_listed_in_help() -> None:
    assert sorted(names()) == sorted(PAPER_RESULTS)
    result = _invoke("--help")
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    for name in PAPER_RESULTS:
        assert name in help_text


def test_table1_on_three_sample_photos(few_photos: Settings, tmp_path: Path, one_torch_thread) -> None:
    store = ResultStore(tmp_path)
    table = reproduce("table1", few_photos, workdir=tmp_path, store=store).table
    assert list(table["method"]) == ["Original", "GANonymization", "DeepPrivacy2", "CIAGAN",
                                     "Pixelation", "Pixelation", "Blur", "Blur"]
    assert {"kernel", "cosine_distance", "std", "n", "n_no_face", "fraction_above_threshold", "threshold"} <= set(table)
    rows = table.set_index(["method", table["kernel"].fillna("")])
    assert rows.loc[("Original", ""), "cosine_distance"] == pytest.approx(0.0, abs=1e-9)
    assert rows.loc[("Original", ""), "n"] >= 2  # dlib finds a face in at least two of the three originals
    assert rows.loc[("GANonymization", ""), "cosine_distance"] > rows.loc[("Blur", "9x9"), "cosine_distance"] > 0
    assert np.isnan(rows.loc[("CIAGAN", ""), "cosine_distance"])
    assert store.table("table1").shape == table.shape
    assert store.frame("table1", "per_face")["method"].nunique() == 6
    assert store.provenance("table1")["identity"] == "dlib"

    crop = next((tmp_path / "table1_faces" / "original").rglob("*.png"))
    before = crop.stat().st_mtime_ns
    figure = reproduce("figure3", few_photos, workdir=tmp_path, store=store)
    assert figure.figure is not None and store.figure_path("figure3") is not None
    assert crop.stat().st_mtime_ns == before  # Figure 3 reused Table 1's crops


def test_absent_result_clears_stale_files(few_photos: Settings, tmp_path: Path) -> None:
    for suffix in (".csv", ".png"):
        (tmp_path / f"table4{suffix}").write_text("from an older run")
    result = reproduce("table4", few_photos, workdir=tmp_path, store=ResultStore(tmp_path))
    assert not result.regenerated
    assert "no emotion labels" in (tmp_path / "table4.absent.txt").read_text()
    assert not (tmp_path / "table4.csv").exists() and not (tmp_path / "table4.png").exists()


def test_cli_exit_codes(tmp_path: Path, repo_root: Path) -> None:
    out = tmp_path / "out"
    absent_only = _invoke("table4", "figure5", "--profile", "paper", "--out", str(out), "--root", str(repo_root))
    assert absent_only.exit_code == 0, absent_only.output
    assert "absent" in absent_only.output and "not a failure" in absent_only.output
    assert (out / "figure5.absent.txt").is_file()

    assert _invoke("table7", "--out", str(out), "--root", str(repo_root)).exit_code == 2

    # a folder that ganon did not make where Table 1's crops go: refused (never deleted), so Table 1 fails
    (out / "table1_faces").mkdir()
    (out / "table1_faces" / "mine.txt").write_text("not ganon's")
    broken = _invoke("table1", "table5", "--profile", "smoke", "--out", str(out), "--root", str(repo_root))
    assert broken.exit_code == 1
    assert "table1    failed" in broken.output and "table5    made" in broken.output  # openpeople labels
    assert (out / "table1.absent.txt").read_text().startswith("failed:")
    assert (out / "table1_faces" / "mine.txt").is_file()
