"""Section 3.4 models: the paper preset's architecture, weights I/O (ours, the authors'), ONNX, inference."""

from __future__ import annotations

import argparse
import collections
import json

import numpy as np
import pytest
import torch
from torch import nn

from ganon.models.checkpoint import (
    WeightsError,
    authors_discriminator_to_ganon_keys,
    authors_to_ganon_keys,
    load_any,
    load_authors_checkpoint,
    load_generator,
    read_authors_checkpoint,
    save_generator,
    sha256_file,
)
from ganon.models.export import export_onnx
from ganon.models.pix2pix import (
    GENERATOR_PRESETS,
    DiscriminatorConfig,
    GeneratorConfig,
    PatchDiscriminator,
    UNetGenerator,
    build_discriminator,
    build_generator,
    count_parameters,
)
from ganon.pipeline.synthesize import Synthesizer
from ganon.registry import UnknownNameError

CARD = {"name": "test", "render_style": "authors", "seed": 0}


@pytest.fixture(scope="module")
def paper_generator() -> UNetGenerator:
    return build_generator("paper", seed=0).eval()


@pytest.fixture(scope="module")
def tiny() -> UNetGenerator:
    return build_generator("tiny-64", seed=1).eval()


def _canvases(n: int, side: int, seed: int = 0) -> list[np.ndarray]:
    """Sparse grey dots on black, like a rendered landmark canvas."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        canvas = np.zeros((side, side, 3), np.uint8)
        ys, xs = rng.integers(0, side, (2, side * 2))
        canvas[ys, xs] = 224
        out.append(canvas)
    return out


def _authors_state(generator: UNetGenerator, discriminator: PatchDiscriminator) -> dict[str, torch.Tensor]:
    ours_g, ours_d = generator.state_dict(), discriminator.state_dict()
    state = {a: ours_g[g].clone() for a, g in authors_to_ganon_keys().items()}
    state |= {a: ours_d[d].clone() for a, d in authors_discriminator_to_ganon_keys().items()}
    return state


def _cheap_authors_state() -> dict[str, torch.Tensor]:
    """Right names and shapes, stored as stride-0 views of one number so the file stays tiny."""
    g, d = UNetGenerator(), PatchDiscriminator()
    state = {a: torch.zeros(1).expand(g.state_dict()[k].shape) for a, k in authors_to_ganon_keys().items()}
    state |= {
        a: torch.zeros(1).expand(d.state_dict()[k].shape)
        for a, k in authors_discriminator_to_ganon_keys().items()
    }
    return state


# ---------------------------------------------------------------- architecture


def test_paper_parameter_counts_match_the_authors() -> None:
    assert count_parameters(build_generator("paper", init=False)) == 54_404_099
    assert count_parameters(build_discriminator("paper", init=False)) == 2_767_808


def test_paper_generator_layout_matches_the_authors(paper_generator: UNetGenerator) -> None:
    g = paper_generator
    assert [b.conv.out_channels for b in g.down] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert [isinstance(b.norm, nn.InstanceNorm2d) for b in g.down] == [False] + [True] * 6 + [False]
    assert [getattr(b.drop, "p", 0.0) for b in g.down] == [0, 0, 0] + [0.5] * 5
    assert [(b.conv.in_channels, b.conv.out_channels) for b in g.up] == [
        (512, 512),
        (1024, 512),
        (1024, 512),
        (1024, 512),
        (1024, 256),
        (512, 128),
        (256, 64),
    ]
    assert [getattr(b.drop, "p", 0.0) for b in g.up] == [0.5] * 4 + [0, 0, 0]
    norms = [m for m in g.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 13 and not any(m.affine or m.track_running_stats for m in norms)
    assert all(m.bias is None for m in [*(b.conv for b in g.down), *(b.conv for b in g.up)])
    assert g.head.pad.padding == (1, 0, 1, 0) and g.head.conv.kernel_size == (4, 4)
    assert isinstance(g.head.act, nn.Tanh)


def test_small_presets_sizes() -> None:
    assert 10.3e6 < count_parameters(build_generator("small-128", init=False)) < 10.6e6
    assert GENERATOR_PRESETS.get("small-256") == GeneratorConfig(width=32, depth=8, resolution=256)
    with pytest.raises(UnknownNameError, match="paper"):
        build_generator("huge")


def test_paper_forward_at_512(paper_generator: UNetGenerator) -> None:
    x = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        y = paper_generator(x)
    assert y.shape == (1, 3, 512, 512)
    assert y.abs().max() <= 1 and y.std() > 0


@pytest.mark.parametrize("size", [(64, 64), (128, 128), (192, 64)])
def test_generator_is_fully_convolutional(tiny: UNetGenerator, size: tuple[int, int]) -> None:
    with torch.inference_mode():
        assert tiny(torch.zeros(2, 3, *size)).shape == (2, 3, *size)


def test_generator_rejects_sides_that_are_not_multiples(tiny: UNetGenerator) -> None:
    with pytest.raises(ValueError, match="multiple of 2\\*\\*depth = 64"):
        tiny(torch.zeros(1, 3, 100, 100))
    with pytest.raises(ValueError, match="resolution 100"):
        GeneratorConfig(resolution=100)


def test_discriminator_patch_grid() -> None:
    d = build_discriminator("paper", seed=0)
    out = d(torch.zeros(1, 3, 512, 512), torch.zeros(1, 3, 512, 512))
    assert out.shape == (1, 1, 32, 32)


def test_init_statistics(paper_generator: UNetGenerator) -> None:
    weights = torch.cat(
        [
            m.weight.flatten()
            for m in paper_generator.modules()
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
        ]
    )
    assert abs(weights.mean().item()) < 1e-4
    assert weights.std().item() == pytest.approx(0.02, rel=0.005)
    assert torch.count_nonzero(paper_generator.head.conv.bias) == 0
    again = build_generator("paper", seed=0)
    assert torch.equal(again.down[3].conv.weight, paper_generator.down[3].conv.weight)


def test_dropout_only_in_training_mode(tiny: UNetGenerator) -> None:
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    tiny.train()
    try:
        assert not torch.equal(tiny(x), tiny(x))
    finally:
        tiny.eval()
    with torch.inference_mode():
        assert torch.equal(tiny(x), tiny(x))


# ---------------------------------------------------------------- the authors' checkpoints


def test_key_mapping_is_complete() -> None:
    gen_map = authors_to_ganon_keys()
    assert set(gen_map.values()) == set(UNetGenerator().state_dict())
    assert set(gen_map) == (
        {f"generator.down{i}.model.0.weight" for i in range(1, 9)}
        | {f"generator.up{i}.model.0.weight" for i in range(1, 8)}
        | {"generator.final.2.weight", "generator.final.2.bias"}
    )
    disc_map = authors_discriminator_to_ganon_keys()
    assert set(disc_map.values()) == set(PatchDiscriminator().state_dict())
    convs = {f"discriminator.model.{i}.{k}" for i in (0, 2, 5, 8) for k in ("weight", "bias")}
    assert set(disc_map) == convs | {"discriminator.model.12.weight"}


def test_discriminator_mapping_matches_a_flat_sequential() -> None:
    """The authors' discriminator is one flat Sequential: its indices must land on our blocks."""
    ours = build_discriminator("tiny-64", seed=3)
    layers: list[nn.Module] = []
    for block in ours.blocks:
        norm = [block.norm] if isinstance(block.norm, nn.InstanceNorm2d) else []
        layers += [block.conv, *norm, block.act]
    flat = nn.Sequential(*layers, ours.head.pad, ours.head.conv)
    mapping = authors_discriminator_to_ganon_keys(DiscriminatorConfig(width=8), prefix="")
    assert set(mapping) == {f"model.{k}" for k in flat.state_dict()}
    x, c = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    assert torch.equal(flat(torch.cat((x, c), 1)), ours(x, c))


@pytest.fixture(scope="module")
def authors_ckpt(tmp_path_factory: pytest.TempPathFactory, paper_generator: UNetGenerator):
    discriminator = build_discriminator("paper", seed=0)
    state = _authors_state(paper_generator, discriminator)
    first = next(iter(state))
    ckpt = {
        "epoch": 25,
        "global_step": 25 * 1000,
        "pytorch-lightning_version": "1.8.6",
        "state_dict": state,
        "hyper_parameters": {
            "lr": 2e-4,
            "b1": 0.5,
            "b2": 0.999,
            "n_epochs": 25,
            "batch_size": 32,
            "data_dir": "data/train",
            "lambda_pixel": 100,
        },
        "optimizer_states": [
            {
                "state": {
                    0: {
                        "step": torch.tensor(25000.0),
                        "exp_avg": torch.zeros_like(state[first]),
                        "exp_avg_sq": torch.zeros_like(state[first]),
                    }
                },
                "param_groups": [
                    {
                        "lr": 2e-4,
                        "betas": (0.5, 0.999),
                        "eps": 1e-8,
                        "weight_decay": 0,
                        "amsgrad": False,
                        "params": list(range(17)),
                    }
                ],
            },
            {"state": {}, "param_groups": [{"lr": 2e-4, "betas": (0.5, 0.999), "params": list(range(9))}]},
        ],
        "lr_schedulers": [],
        "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_path": "", "dirpath": "ckpt"}},
        "loops": {"fit_loop": {"epoch_progress": {"total": {"completed": 25}}}},
    }
    path = tmp_path_factory.mktemp("authors") / "publication.ckpt"
    torch.save(ckpt, path)
    return path


def test_authors_checkpoint_reproduces_its_generator(authors_ckpt, paper_generator: UNetGenerator) -> None:
    loaded = load_authors_checkpoint(authors_ckpt)
    assert loaded.render_style == "authors" and loaded.resolution == 512
    assert loaded.card["epoch"] == 25 and loaded.card["hyper_parameters"]["batch_size"] == 32
    assert loaded.sha256 == sha256_file(authors_ckpt)
    assert not loaded.model.training
    x = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        assert torch.equal(loaded.model(x), paper_generator(x))
    assert load_any(authors_ckpt).sha256 == loaded.sha256


def test_authors_checkpoint_discriminator_is_read(authors_ckpt) -> None:
    ckpt = read_authors_checkpoint(authors_ckpt)
    d = PatchDiscriminator()
    d.load_state_dict(ckpt.discriminator_state, strict=True)
    assert torch.equal(d.head.conv.weight, build_discriminator("paper", seed=0).head.conv.weight)


def test_authors_checkpoint_with_a_missing_key_is_refused(tmp_path) -> None:
    state = _cheap_authors_state()
    del state["generator.up3.model.0.weight"]
    path = tmp_path / "broken.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {}}, path)
    with pytest.raises(WeightsError, match=r"broken\.ckpt.*generator\.up3\.model\.0\.weight"):
        load_authors_checkpoint(path)


def test_authors_checkpoint_with_wrong_shape_is_refused(tmp_path) -> None:
    state = _cheap_authors_state()
    state["generator.down2.model.0.weight"] = torch.zeros(1).expand(64, 64, 4, 4)
    path = tmp_path / "shape.ckpt"
    torch.save({"state_dict": state}, path)
    with pytest.raises(WeightsError, match=r"shape\.ckpt: shape mismatch: down\.1\.conv\.weight"):
        load_authors_checkpoint(path)


def test_pickled_objects_are_refused_not_executed(tmp_path) -> None:
    path = tmp_path / "namespace.ckpt"
    torch.save({"state_dict": _cheap_authors_state(), "hyper_parameters": argparse.Namespace(lr=2e-4)}, path)
    with pytest.raises(WeightsError, match=r"namespace\.ckpt: refusing to unpickle.*argparse\.Namespace"):
        load_authors_checkpoint(path)
    # torch cannot rebuild dict subclasses without running their code, so they are refused too
    path = tmp_path / "defaultdict.ckpt"
    hparams = collections.defaultdict(list)
    torch.save({"state_dict": _cheap_authors_state(), "hyper_parameters": hparams}, path)
    with pytest.raises(WeightsError, match=r"defaultdict\.ckpt: refusing.*collections\.defaultdict"):
        load_authors_checkpoint(path)


def test_ordered_dict_hyper_parameters_are_read(tmp_path) -> None:
    path = tmp_path / "ordered.ckpt"
    hparams = collections.OrderedDict(lr=2e-4, betas=(0.5, 0.999), sizes=[512], name=None)
    torch.save({"state_dict": _cheap_authors_state(), "hyper_parameters": hparams, "epoch": 50}, path)
    ckpt = read_authors_checkpoint(path)
    assert ckpt.hyper_parameters == {"lr": 2e-4, "betas": [0.5, 0.999], "sizes": [512], "name": None}
    assert ckpt.epoch == 50 and set(ckpt.generator_state) == set(UNetGenerator().state_dict())


def test_bare_state_dict_in_authors_naming_loads_as_pt(tmp_path, paper_generator: UNetGenerator) -> None:
    state = {
        k.removeprefix("generator."): v
        for k, v in _cheap_authors_state().items()
        if k.startswith("generator.")
    }
    path = tmp_path / "generator.pt"
    torch.save(state, path)
    loaded = load_any(path)
    assert torch.count_nonzero(loaded.model.down[0].conv.weight) == 0


# ---------------------------------------------------------------- ganon's safetensors format


def test_safetensors_round_trip_fp32_is_exact(tmp_path, tiny: UNetGenerator) -> None:
    path = tmp_path / "tiny.safetensors"
    digest = save_generator(path, tiny, config=tiny.config, card=CARD, dtype=torch.float32)
    loaded = load_generator(path, expected_sha256=digest)
    assert loaded.config == tiny.config and loaded.card == CARD and loaded.sha256 == digest
    assert loaded.render_style == "authors" and loaded.resolution == 64 and not loaded.model.training
    for (k, a), (_, b) in zip(tiny.state_dict().items(), loaded.model.state_dict().items(), strict=False):
        assert torch.equal(a, b), k


def test_safetensors_fp16_is_close_and_smaller(tmp_path, tiny: UNetGenerator) -> None:
    p16, p32 = tmp_path / "a16.safetensors", tmp_path / "a32.safetensors"
    save_generator(p16, tiny, card=CARD, render_style="paper")
    save_generator(p32, tiny, card=CARD, dtype=torch.float32)
    loaded = load_generator(p16)
    assert loaded.render_style == "paper"
    assert p16.stat().st_size < 0.6 * p32.stat().st_size
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        diff = (loaded.model(x) - tiny(x)).abs().max().item()
    assert 0 < diff < 1e-2


def test_save_never_overwrites_by_default(tmp_path, tiny: UNetGenerator) -> None:
    path = tmp_path / "w.safetensors"
    save_generator(path, tiny, card=CARD)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="w.safetensors"):
        save_generator(path, build_generator("tiny-64", seed=9), card=CARD)
    assert path.read_bytes() == before
    save_generator(path, build_generator("tiny-64", seed=9), card=CARD, overwrite=True)
    assert path.read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temporary files left


def test_save_requires_a_render_style(tmp_path, tiny: UNetGenerator) -> None:
    with pytest.raises(ValueError, match="render_style"):
        save_generator(tmp_path / "x.safetensors", tiny, card={"name": "no style"})


def test_weights_errors_name_the_file_and_reason(tmp_path, tiny: UNetGenerator) -> None:
    path = tmp_path / "good.safetensors"
    save_generator(path, tiny, card=CARD)
    with pytest.raises(WeightsError, match=r"good\.safetensors: sha256 mismatch"):
        load_generator(path, expected_sha256="0" * 64)
    with pytest.raises(WeightsError, match=r"absent\.safetensors: no such file"):
        load_generator(tmp_path / "absent.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsError, match=r"truncated\.safetensors: corrupt"):
        load_generator(truncated)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"definitely not weights")
    with pytest.raises(WeightsError, match=r"junk\.safetensors: not a safetensors file"):
        load_generator(junk)
    with pytest.raises(WeightsError, match=r"junk\.ckpt: not a readable PyTorch checkpoint"):
        load_any(junk.rename(tmp_path / "junk.ckpt"))
    with pytest.raises(WeightsError, match=r"weights\.bin: unknown weights suffix"):
        load_any(tmp_path / "weights.bin")


def test_foreign_safetensors_and_key_mismatch_are_refused(tmp_path, tiny: UNetGenerator) -> None:
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign), metadata={"format": "pt"})
    with pytest.raises(WeightsError, match=r"foreign\.safetensors: not a ganon generator file"):
        load_generator(foreign)
    good = tmp_path / "good.safetensors"
    save_generator(good, tiny, card=CARD)
    from safetensors import safe_open

    with safe_open(str(good), "pt") as fh:
        metadata = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys() if k != "head.conv.bias"}
    cut = tmp_path / "cut.safetensors"
    save_file(tensors, str(cut), metadata=metadata)
    with pytest.raises(WeightsError, match=r"cut\.safetensors: keys do not fit.*head\.conv\.bias"):
        load_generator(cut)
    assert json.loads(metadata["config"])["width"] == 8 and metadata["resolution"] == "64"


# ---------------------------------------------------------------- ONNX and inference


def test_onnx_export_matches_torch_with_dynamic_batch(tmp_path, tiny: UNetGenerator) -> None:
    import onnxruntime as ort

    result = export_onnx(tiny, tmp_path / "tiny.onnx", resolution=64)
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    (y,) = session.run(None, {"canvas": x.numpy()})
    with torch.inference_mode():
        np.testing.assert_allclose(y, tiny(x).numpy(), atol=1e-4)
    with pytest.raises(FileExistsError):
        export_onnx(tiny, result.path, resolution=64)


def test_synthesizer_is_deterministic_and_normalises_like_training(tmp_path, tiny: UNetGenerator) -> None:
    path = tmp_path / "tiny.safetensors"
    save_generator(path, tiny, card=CARD, dtype=torch.float32)
    synth = Synthesizer.from_file(path, device="auto", batch_size=2)
    assert synth.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert (synth.resolution, synth.render_style, synth.config) == (64, "authors", tiny.config)
    assert synth.card == CARD and synth.sha256 == sha256_file(path)

    canvases = _canvases(5, 64)
    faces = synth(canvases)
    assert len(faces) == 5 and all(f.dtype == np.uint8 and f.shape == (64, 64, 3) for f in faces)
    assert all(np.array_equal(a, b) for a, b in zip(faces, synth(canvases), strict=False))
    one_by_one = [synth([c])[0] for c in canvases]
    assert max(np.abs(a.astype(int) - b).max() for a, b in zip(faces, one_by_one, strict=False)) <= 1

    x = torch.from_numpy(np.stack(canvases)).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.inference_mode():
        expected = ((tiny(x) + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    assert max(np.abs(a.astype(int) - b).max() for a, b in zip(faces, expected, strict=False)) <= 1
    assert synth([]) == []


def test_synthesizer_rejects_wrong_canvases(tmp_path, tiny: UNetGenerator) -> None:
    path = tmp_path / "tiny.safetensors"
    save_generator(path, tiny, card=CARD)
    synth = Synthesizer.from_file(path, device="cpu")
    with pytest.raises(ValueError, match=r"canvas 1: expected uint8 RGB of shape \(64, 64, 3\)"):
        synth([np.zeros((64, 64, 3), np.uint8), np.zeros((128, 128, 3), np.uint8)])
    with pytest.raises(ValueError, match="canvas 0"):
        synth([np.zeros((64, 64, 3), np.float32)])
    with pytest.raises(ValueError, match="bf16"):
        Synthesizer.from_file(path, device="cpu", bf16=True)
