"""Model-quality checks (identity, realism, expression) with an untrained generator on real frames."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from ganon.cli import app
from ganon.evaluation.model_quality import FaceQuality, ModelQuality, pearson
from ganon.imageio import read_image
from ganon.pipeline.landmarks import eye_opening, mouth_opening

VIDEO = "wolfgang_langer"
CLOSED, OPEN = "frame_0000.png", "frame_0304.png"  # mouth shut / wide open (checked by eye)
FRAMES = (CLOSED, "frame_0144.png", "frame_0224.png", OPEN)


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs torch on one thread (see conftest)."""


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "r.safetensors"
    result = CliRunner().invoke(app, ["models", "init", str(path), "--preset", "small-128"])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def evaluator(weights: Path) -> ModelQuality:
    return ModelQuality.from_weights(weights, device="cpu")


def _stage(evaluator: ModelQuality, path: Path):
    (stage,) = evaluator.anonymizer.prepare(read_image(path).rgb)
    assert stage.landmarks is not None
    return stage


def test_opening_ratios_follow_the_face(evaluator: ModelQuality, samples_dir: Path) -> None:
    frames = samples_dir / "frames" / VIDEO
    closed, opened = (_stage(evaluator, frames / name).landmarks for name in (CLOSED, OPEN))
    assert mouth_opening(opened) > 0.08 and mouth_opening(closed) < 0.02
    assert mouth_opening(opened) > 5 * mouth_opening(closed)
    surprise, anger = (_stage(evaluator, samples_dir / "photos" / f"portrait_{n}.jpg").landmarks
                       for n in ("f1_surprise", "f13_anger"))
    assert mouth_opening(surprise) > 5 * mouth_opening(anger)
    for marks in (closed, opened, surprise, anger):
        assert 0.03 < eye_opening(marks) < 0.4


def test_pearson() -> None:
    assert pearson([1, 2, 3, 4], [2, 4, 6, 8.5]) == pytest.approx(1.0, abs=1e-2)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(pearson([1, 2], [1, 2])) and math.isnan(pearson([1, 1, 1], [1, 2, 3]))


def test_run_writes_metrics_in_range(evaluator: ModelQuality, samples_dir: Path, tmp_path: Path) -> None:
    photos = [samples_dir / "photos" / "single_face.jpg"]
    frames = {VIDEO: [samples_dir / "frames" / VIDEO / name for name in FRAMES]}
    metrics = evaluator.run(photos, frames, tmp_path, progress=False)
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert metrics["faces"]["detected"] == metrics["faces"]["anonymized"] == 5
    identity, realism = metrics["identity"], metrics["realism"]
    assert identity["n"] == realism["n"] == 5 and identity["threshold"] == 0.6
    # an untrained generator paints noise: nobody is recognisable, and no face is found in it ...
    assert identity["fraction_above_threshold"] == 1.0 and identity["min_distance"] > 0.6
    assert realism["fraction_both"] == 0.0 and 0.0 <= realism["fraction_detector"] <= 1.0
    # ... while the same checks do find every original face (the detector sees faces in crops)
    assert realism["reference_original_both"] == 1.0
    assert metrics["expression"][VIDEO]["frames_with_both_meshes"] == 0
    assert metrics["expression"][VIDEO]["mouth_r"] is None

    with open(tmp_path / "faces.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 and {r["kind"] for r in rows} == {"photo", VIDEO}
    for row in rows:
        assert 0.6 < float(row["identity_distance"]) < 2.0
        assert float(row["mouth_original"]) >= 0 and row["realistic"] == "False"
    opened = next(r for r in rows if r["source"] == f"{VIDEO}/{OPEN}")
    closed = next(r for r in rows if r["source"] == f"{VIDEO}/{CLOSED}")
    assert float(opened["mouth_original"]) > 5 * float(closed["mouth_original"])

    picture = cv2.imread(str(tmp_path / "side_by_side" / "single_face.png"))
    assert picture is not None and picture.shape[0] == 256
    photo = read_image(photos[0]).rgb
    width = round(photo.shape[1] * 256 / photo.shape[0])
    assert picture.shape[1] == 2 * width + 2 * 256 + 3 * 4  # original | canvas | crop | composite
    assert not (tmp_path / "side_by_side" / "frame_0000.png").exists()  # pictures for photos only


def test_identity_distance_tells_same_from_different(evaluator: ModelQuality, samples_dir: Path) -> None:
    frames = samples_dir / "frames" / VIDEO
    a, b = (_stage(evaluator, frames / name).aligned.image for name in (CLOSED, "frame_0008.png"))
    other = _stage(evaluator, samples_dir / "photos" / "tom_hanks.png").aligned.image
    embed = evaluator.identity.embed
    assert evaluator.identity.distance(embed(a), embed(b)) < 0.6  # the same man, a few frames apart
    assert evaluator.identity.distance(embed(a), embed(other)) > 0.6


def test_expression_correlation_on_real_meshes(evaluator: ModelQuality, samples_dir: Path) -> None:
    """A perfect anonymizer keeps the expression: stand it in with the mirrored original face."""
    records = []
    for name in FRAMES:
        stage = _stage(evaluator, samples_dir / "frames" / VIDEO / name)
        mirrored = evaluator.mesh(np.ascontiguousarray(stage.aligned.image[:, ::-1]))
        records.append(FaceQuality(source=name, kind=VIDEO, face_index=0, status="anonymized",
                                   identity_distance=0.0, anonymized_detected=True, anonymized_mesh=True,
                                   mouth_original=mouth_opening(stage.landmarks),
                                   mouth_anonymized=mouth_opening(mirrored),
                                   eye_original=eye_opening(stage.landmarks),
                                   eye_anonymized=eye_opening(mirrored)))
    summary = evaluator.summarize(records)
    assert summary["expression"][VIDEO]["frames_with_both_meshes"] == len(FRAMES)
    assert summary["expression"][VIDEO]["mouth_r"] > 0.95
    assert -1.0 <= summary["expression"][VIDEO]["eye_r"] <= 1.0
    assert summary["realism"]["fraction_both"] == 1.0
    assert summary["identity"]["fraction_above_threshold"] == 0.0


def test_cli(weights: Path, samples_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "q"
    result = runner.invoke(app, ["models", "quality", "--weights", str(weights), "--out", str(out),
                                 "--samples", str(samples_dir), "--no-photos", "--frames", "1",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["inputs"]["photos"] == 0 and set(metrics["inputs"]["frames"].values()) == {1}
    assert metrics["weights"]["path"] == str(weights) and len(metrics["weights"]["sha256"]) == 64
    missing = runner.invoke(app, ["models", "quality", "--weights", str(tmp_path / "none.safetensors"),
                                  "--out", str(out), "--samples", str(samples_dir)])
    assert missing.exit_code == 2 and "none.safetensors" in missing.output


def test_diversity_tells_one_painted_face_from_many(evaluator: ModelQuality, samples_dir: Path) -> None:
    """Three different people: their originals are far apart; an 'anonymizer' that paints the same face
    for everyone (the first person's mirrored face) gives pairs that dlib calls one person."""
    names = ("tom_hanks.png", "grace_hopper.jpg", "astronaut.png")
    faces = [_stage(evaluator, samples_dir / "photos" / name).aligned.image for name in names]
    embed = evaluator.identity.embed
    painted = embed(np.ascontiguousarray(faces[0][:, ::-1]))
    records = [FaceQuality(source=name, kind="photo", face_index=0, status="anonymized",
                           identity_distance=0.7, embeddings=(embed(face), painted))
               for name, face in zip(names, faces)]
    frame = FaceQuality(source="f", kind=VIDEO, face_index=0, status="anonymized", identity_distance=0.7,
                        embeddings=(painted, painted))  # frames repeat one person: not counted
    diversity = evaluator.summarize([*records, frame])["diversity"]
    assert diversity["faces"] == 3 and diversity["pairs"] == 3
    assert diversity["original_mean_distance"] > 0.6 and diversity["original_pairs_below_threshold"] == 0.0
    assert diversity["anonymized_mean_distance"] == 0.0
    assert diversity["anonymized_pairs_below_threshold"] == 1.0
    assert evaluator.summarize(records[:1])["diversity"] is None


def test_seed_variation_of_a_coded_generator(samples_dir: Path, tmp_path: Path) -> None:
    """A coded generator is measured with two recorded seeds: the same photo face drawn twice differs,
    and a rerun gives the same distance; an un-coded generator reports that seeds change nothing."""
    import torch

    from ganon.models.checkpoint import save_generator
    from ganon.models.pix2pix import build_generator

    model = build_generator("small-128-coded", seed=0)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        for head in model.code.heads:  # a fresh injection ignores its code by design
            head.weight.normal_(0.0, 0.2, generator=gen)
    path = tmp_path / "coded.safetensors"
    save_generator(path, model.eval(), card={"name": "coded-test"}, render_style="authors")
    photos = [samples_dir / "photos" / "single_face.jpg"]
    runs = [ModelQuality.from_weights(path, device="cpu").run(photos, {}, tmp_path / f"q{i}", progress=False)
            for i in range(2)]
    variation = runs[0]["seed_variation"]
    assert variation["coded"] is True and variation["seeds"] == [1, 2] and variation["n"] == 1
    assert variation["mean_distance"] > 0 and runs[1]["seed_variation"] == variation
    with open(tmp_path / "q0" / "faces.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert float(row["seed_distance"]) == pytest.approx(variation["mean_distance"], abs=1e-4)


def test_uncoded_generator_has_no_seed_variation(evaluator: ModelQuality) -> None:
    assert evaluator.summarize([])["seed_variation"] == {
        "coded": False, "note": "un-coded generator: every seed gives the same face"}
