"""The seeded generator variant: an appearance code that starts as the shipped model, seeded inference
(same seed -> same file, two seeds -> different faces), the ONNX code input, and a short coded training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganon.models.checkpoint import load_generator, save_generator
from ganon.models.pix2pix import build_generator, coded_from
from ganon.pipeline.anonymize import AnonymizeConfig
from ganon.pipeline.synthesize_codes import CodeSource
from ganon.weights import shipped_weights


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


def _coded_random(preset: str, seed: int = 0) -> torch.nn.Module:
    """A coded generator whose code heads are random too (a fresh one ignores its code by design)."""
    model = build_generator(preset, seed=seed)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed + 1)
        for head in model.code.heads:
            head.weight.normal_(0.0, 0.2, generator=gen)
    return model.eval()


@pytest.fixture(scope="module")
def coded_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("coded") / "coded-128.safetensors"
    save_generator(path, _coded_random("small-128-coded"), card={"name": "coded-test", "trained": False},
                   render_style="authors")
    return path


def test_coded_variant_starts_as_the_shipped_generator() -> None:
    shipped = load_generator(shipped_weights()["ganon-synth-128"]).model
    coded = coded_from(shipped).eval()
    assert set(shipped.state_dict()) < set(coded.state_dict())
    x = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        expected = shipped(x)
        for seed in (0, 1):
            code = torch.randn(2, 100, generator=torch.Generator().manual_seed(seed)) * 3
            assert torch.equal(coded(x, code), expected)
        with pytest.raises(ValueError, match="appearance code"):
            coded(x)


def test_uncoded_presets_keep_their_layout() -> None:
    paper = build_generator("paper", init=False)
    assert not any(k.startswith("code.") for k in paper.state_dict())
    assert sum(p.numel() for p in paper.parameters()) == 54_404_099
    x = torch.zeros(1, 3, 64, 64)
    tiny = build_generator("tiny-64", seed=0).eval()
    with torch.inference_mode():
        assert torch.equal(tiny(x), tiny(x, torch.ones(1, 100)))  # un-coded: the code is ignored


class _Track:
    pass


def test_code_sharing_policies() -> None:
    per_face, per_file = CodeSource(3, "per-face", 100), CodeSource(3, "per-file", 100)
    fixed = CodeSource(3, "fixed", 100)
    assert not np.array_equal(per_face.for_face("a.jpg", 0), per_face.for_face("a.jpg", 1))
    assert np.array_equal(per_face.for_face("a.jpg", 0), CodeSource(3, "per-face", 100).for_face("a.jpg", 0))
    assert not np.array_equal(per_face.for_face("a.jpg", 0), CodeSource(4, "per-face", 100).for_face("a.jpg", 0))
    assert np.array_equal(per_file.for_face("a.jpg", 0), per_file.for_face("a.jpg", 1))
    assert not np.array_equal(per_file.for_face("a.jpg", 0), per_file.for_face("b.jpg", 0))
    assert np.array_equal(fixed.for_face("a.jpg", 0), fixed.for_face("b.jpg", 5))
    tracks = CodeSource(3, "per-track", 100)
    one, two = _Track(), _Track()  # stand-ins for the video tracker's per-track state objects
    first = tracks.for_tracks([one, two, one])
    assert np.array_equal(first[0], first[2]) and not np.array_equal(first[0], first[1])
    assert np.array_equal(tracks.for_tracks([two])[0], first[1])
    drawn = CodeSource(None, "per-face", 100)
    assert drawn.describe()["seed_given"] is False and isinstance(drawn.seed, int)
    again = CodeSource(drawn.seed, "per-face", 100)
    assert np.array_equal(drawn.for_face("x.png", 0), again.for_face("x.png", 0))
    assert CodeSource(3, "per-face", 0).for_face("a.jpg", 0) is None  # un-coded: no codes at all
    assert "none" in CodeSource(3, "per-face", 0).describe()["effect"]


@pytest.mark.parametrize("changes", [{"identity": "Per-face"}, {"identity": "per-person"}, {"seed": -1},
                                     {"seed": True}, {"seed": 1.5}, {"seed": 2**63}])
def test_config_rejects_bad_seed_or_identity(changes: dict) -> None:
    with pytest.raises(ValueError, match="identity|seed"):
        AnonymizeConfig(**changes)


def test_onnx_export_takes_the_code(coded_weights: Path, tmp_path: Path) -> None:
    from ganon.pipeline.synthesize import Synthesizer
    from ganon.pipeline.synthesize_onnx import OnnxSynthesizer

    loaded = load_generator(coded_weights)
    torch_synth = Synthesizer(loaded, device="cpu")
    onnx_path = OnnxSynthesizer.export(torch_synth)  # verify_onnx runs both with random codes
    onnx_synth = OnnxSynthesizer.cached(coded_weights)
    assert onnx_synth is not None and onnx_synth.code_dim == 100 and onnx_path.is_file()
    canvas = np.zeros((128, 128, 3), np.uint8)
    canvas[40:90:3, 30:100:3] = 224
    codes = np.stack([CodeSource(s, "fixed", 100).for_face("", 0) for s in (1, 2)])
    a, b = onnx_synth([canvas, canvas], codes)
    ta, tb = torch_synth([canvas, canvas], codes)
    assert np.abs(a.astype(int) - ta).max() <= 1 and np.abs(b.astype(int) - tb).max() <= 1
    assert np.abs(a.astype(int) - b).mean() > 5  # the code changes the face
    with pytest.raises(ValueError, match="appearance code"):
        onnx_synth([canvas])


def _cli(args: list[str]):
    """Run ``ganon anonymize ARGS`` in-process; it must succeed."""
    from ganon.cli import app

    result = CliRunner().invoke(app, ["anonymize", *args])
    assert result.exit_code == 0, result.output
    return result


def test_seed_gives_the_same_file_and_two_seeds_differ(samples_dir: Path, coded_weights: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from ganon.imageio import read_image

    monkeypatch.setenv("GANON_CACHE", str(tmp_path / "cache"))
    photo = samples_dir / "photos" / "single_face.jpg"
    common = [str(photo), "--weights", str(coded_weights), "--device", "cpu", "--suffix", ".png", "--no-progress"]
    runs = {}
    for name, extra in {"a": ["--seed", "7"], "b": ["--seed", "7"], "c": ["--seed", "8"], "d": []}.items():
        _cli([*common, "--out", str(tmp_path / name), "--json", str(tmp_path / f"{name}.json"), *extra])
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())["settings"]["appearance_codes"]

    def out(name: str) -> Path:
        return tmp_path / name / "single_face.png"

    assert runs["a"]["seed"] == 7 and runs["a"]["seed_given"] and runs["a"]["code_dim"] == 100
    assert out("a").read_bytes() == out("b").read_bytes()
    a, c = read_image(out("a")).rgb.astype(int), read_image(out("c")).rgb.astype(int)
    assert np.abs(a - c).max() > 50
    assert runs["d"]["seed_given"] is False  # a fresh seed, recorded: rerunning with it gives the file again
    _cli([*common, "--out", str(tmp_path / "e"), "--seed", str(runs["d"]["seed"])])
    assert out("d").read_bytes() == out("e").read_bytes()


def test_uncoded_generator_accepts_the_options_with_no_effect(samples_dir: Path, tmp_path: Path) -> None:
    photo = samples_dir / "photos" / "single_face.jpg"
    result = _cli([str(photo), "--out", str(tmp_path / "o"), "--seed", "3", "--identity", "fixed",
                   "--json", str(tmp_path / "r.json"), "--no-progress"])
    codes = json.loads((tmp_path / "r.json").read_text())["settings"]["appearance_codes"]
    assert codes["seed"] == 3 and codes["code_dim"] == 0 and codes["effect"].startswith("none")
    assert "no effect" in result.output


@pytest.fixture(scope="module")
def coded_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 DCGAN faces through the real preprocessing, which records each pair's latent."""
    from ganon.data.synthetic import write_faces
    from ganon.pipeline.preprocess import PreprocessConfig, preprocess

    root = tmp_path_factory.mktemp("coded-pairs")
    write_faces(root / "faces", 10, seed=0, size=128, progress=False)
    summary = preprocess(root / "faces", root / "pairs", PreprocessConfig(resolution=64, val_fraction=0.2),
                         progress=False)
    assert summary.pairs >= 6
    return root / "pairs"


def test_preprocessing_records_each_pairs_dcgan_latent(coded_pairs: Path) -> None:
    from ganon.data.synthetic import latent_vectors
    from ganon.training.latents import read_latents
    from ganon.training.pairs import PairDataset

    latents = read_latents(coded_pairs)
    dataset = PairDataset(coded_pairs, split="train", resolution=64, code_dim=100)
    assert len(latents) >= len(dataset)
    row = dataset.rows[0]
    index = int(row["source"].rsplit("_", 1)[1].split(".")[0])
    assert torch.equal(dataset[0][2], latent_vectors([index], seed=0)[0])
    with pytest.raises(ValueError, match="code_dim|takes 8"):
        PairDataset(coded_pairs, split="train", resolution=64, code_dim=8)


def test_coded_training_smoke_run_feeds_the_code(coded_pairs: Path, tmp_path: Path) -> None:
    from ganon.training.config import get_preset
    from ganon.training.fit import export_generator, fit

    config = get_preset("cpu-test-coded").replace(sample_every=2, val_every=2)
    result = fit(coded_pairs, tmp_path / "run", config, max_steps=4, progress=False, command=["test"])
    assert result.steps == 4 and sorted((tmp_path / "run" / "samples").glob("*.png"))
    path, card = export_generator(result.checkpoint, tmp_path / "coded.safetensors")
    assert card["appearance_code"]["dim"] == 100 and any("small-128-coded" in c for c in card["appearance_code"]["recipe"])
    # the card travels: no directory of this machine in it (run.json records absolute ones)
    machine = str(coded_pairs.parent.parent)
    assert machine in (tmp_path / "run" / "run.json").read_text()
    assert machine not in json.dumps(card) and machine not in json.dumps(load_generator(path).card)
    assert card["data"]["dir"].startswith("../") and card["data"]["dir"].endswith(coded_pairs.name)
    model = load_generator(path).model
    heads = torch.cat([h.weight.flatten() for h in model.code.heads])
    assert heads.abs().max() > 0  # the zero-initialised heads moved: the code is trained
    x = torch.zeros(1, 3, 64, 64)
    with torch.inference_mode():
        assert not torch.equal(model(x, torch.zeros(1, 100)), model(x, torch.ones(1, 100) * 2))


def test_diversity_term_pushes_two_codes_apart(coded_pairs: Path, tmp_path: Path) -> None:
    """The same few steps with and without the diversity term: with it, two codes give faces further
    apart; the code injection gets its own learning rate, and dropout must be off for the term."""
    from ganon.training.config import get_preset
    from ganon.training.fit import fit
    from ganon.training.pix2pix import Pix2Pix

    base = get_preset("cpu-test-coded").replace(code_lr_multiplier=10.0, generator_dropout=False,
                                                sample_every=100, val_every=100)
    groups = Pix2Pix(base).configure_optimizers()[0].param_groups
    assert [g["lr"] for g in groups] == [base.lr, base.lr * 10.0]
    x = torch.zeros(2, 3, 64, 64)
    codes = torch.randn(2, 100, generator=torch.Generator().manual_seed(0))
    apart = {}
    for weight in (0.0, 10.0):
        run = tmp_path / f"run{weight:g}"
        result = fit(coded_pairs, run, base.replace(lambda_diversity=weight), max_steps=6, progress=False,
                     command=["test"])
        model = Pix2Pix.load_from_checkpoint(result.checkpoint, map_location="cpu").generator.eval()
        with torch.inference_mode():
            apart[weight] = float((model(x, codes[:1].expand(2, -1)) - model(x, codes[1:].expand(2, -1))).abs().mean())
    assert apart[10.0] > 1.5 * apart[0.0] and apart[10.0] > 1e-3, apart
    with pytest.raises(ValueError, match="needs a coded generator"):
        get_preset("cpu-test").replace(lambda_diversity=1.0, generator_dropout=False)
    with pytest.raises(ValueError, match="generator_dropout=False"):
        get_preset("cpu-test-coded").replace(lambda_diversity=1.0)


def test_fine_tune_of_the_coded_variant_starts_from_uncoded_weights(coded_pairs: Path, tmp_path: Path) -> None:
    from ganon.training.config import get_preset
    from ganon.training.fit import initial_weights
    from ganon.training.pix2pix import Pix2Pix

    plain = tmp_path / "tiny.safetensors"
    save_generator(plain, build_generator("tiny-64", seed=5), card={"name": "tiny"}, render_style="authors",
                   dtype=torch.float32)
    config = get_preset("cpu-test-coded")
    module = Pix2Pix(config)
    initial_weights(plain, config).apply(module)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        expected = load_generator(plain).model(x)
        assert torch.equal(module.generator.eval()(x, torch.randn(1, 100)), expected)
    with pytest.raises(ValueError, match="does not fit"):
        initial_weights(plain, get_preset("small-128-coded"))


def test_video_gives_one_code_per_track(samples_dir: Path, coded_weights: Path) -> None:
    from ganon.imageio import read_image
    from ganon.pipeline.anonymize import Anonymizer
    from ganon.video.anonymize import VideoAnonymizer

    frames = [read_image(p).rgb for p in sorted((samples_dir / "frames" / "single_face").glob("*.png"))[:3]]
    outputs = []
    base = Anonymizer.from_weights(coded_weights, AnonymizeConfig(seed=1), device="cpu")
    for seed in (1, 1, 2):
        anonymizer = base.with_config(seed=seed)
        out, result = VideoAnonymizer(anonymizer).anonymize_frames(frames, fps=25.0)
        assert result.tracks == 1 and anonymizer.codes._track_count == 1  # one person, one code
        outputs.append(np.stack(out).astype(int))
    assert np.array_equal(outputs[0], outputs[1])
    assert np.abs(outputs[0] - outputs[2]).max() > 50


def test_validation_of_a_coded_generator_measures_the_code(coded_pairs: Path) -> None:
    """On held-out synthetic pairs: a fresh code injection changes nothing (zero variation between
    codes), random heads make two codes' faces differ; the DCGAN targets' own share is reported beside."""
    from ganon.evaluation.seed_variation import validate_coded

    fresh = validate_coded(build_generator("tiny-64-coded", seed=0), coded_pairs, n=4, split="train")
    assert fresh["pairs"] == 4 and fresh["between_codes_mean_distance"] == 0.0
    assert fresh["l1_own_code"] == fresh["l1_random_code"]
    varied = validate_coded(_coded_random("tiny-64-coded"), coded_pairs, n=4, split="train")
    assert varied["between_codes_mean_distance"] > 0.0
    assert varied["targets_below_threshold"] == fresh["targets_below_threshold"]
    assert 0.0 <= varied["mesh_found"] <= 1.0
    with pytest.raises(ValueError, match="coded generator"):
        validate_coded(build_generator("tiny-64", seed=0), coded_pairs)


def test_shipped_seeded_generator_varies_with_the_seed(samples_dir: Path) -> None:
    """The shipped coded weights under attack as ``ganon-seeded-crops``: one seed gives the same crop
    again, another seed a different face for the same photo."""
    from ganon.evaluation.anonymizers import SEEDED_WEIGHTS, build_method
    from ganon.imageio import read_image

    assert SEEDED_WEIGHTS in shipped_weights()
    photo = read_image(samples_dir / "photos" / "single_face.jpg").rgb
    crops = [build_method("ganon-seeded-crops", seed=seed)(photo) for seed in (1, 1, 2)]
    assert crops[0] is not None and crops[0].shape == (256, 256, 3)
    assert np.array_equal(crops[0], crops[1])
    assert np.abs(crops[0].astype(int) - crops[2].astype(int)).mean() > 2.0
