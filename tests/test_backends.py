"""Every backend kind reports a missing package or weight file as one error, BackendUnavailableError."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ganon import backends
from ganon.backends.errors import BackendUnavailableError

REPO = Path(__file__).resolve().parents[1]


def _absent(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


@pytest.mark.parametrize(
    ("kind", "name", "options", "absent"),
    [
        ("detector", "retinaface-resnet50", {}, "deepface"),  # serengil's retina-face needs TensorFlow
        ("segmenter", "head-unet", {}, "head_segmentation"),
        ("identity", "facenet512", {}, "deepface"),
        ("emotion", "convnext", {"checkpoint": "no/such/emotion.safetensors"}, None),
        ("attributes", "celeba-convnext", {"checkpoint": "no/such/celeba.safetensors"}, None),
    ],
)
def test_missing_package_or_weights_is_one_error(kind: str, name: str, options: dict, absent: str | None,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if absent is not None and not _absent(absent):
        pytest.skip(f"{absent} is installed here, so {kind} {name!r} is available")
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))  # no DeepFace weights there
    with pytest.raises(BackendUnavailableError) as info:
        backends.build(kind, name, **options)
    error = info.value
    assert (error.kind, error.name) == (kind, name)
    assert error.missing and str(error).startswith(f"{kind} {name!r} is unavailable")


_BLOCKED = """
import sys
sys.modules[{module!r}] = None  # as if the package were not installed
from ganon import backends
from ganon.backends.errors import BackendUnavailableError
try:
    backends.build({kind!r}, {name!r})
except BackendUnavailableError as error:
    print(error.kind, error.name, "|", error.missing, "|", error.hint)
else:
    raise SystemExit("built without " + {module!r})
"""


@pytest.mark.parametrize(
    ("kind", "name", "module"),
    [("face-mesh", "mediapipe", "mediapipe"), ("emotion", "fer", "ai_edge_litert")],
)
def test_uninstalled_package_names_the_package_and_the_fix(kind: str, name: str, module: str) -> None:
    code = _BLOCKED.format(module=module, kind=kind, name=name)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    head, missing, hint = run.stdout.strip().split(" | ")
    assert head == f"{kind} {name}"
    assert module.replace("_", "-") in missing and "pip install" in hint


def test_old_identity_error_is_a_backend_error() -> None:
    from ganon.backends.identity import ModelUnavailableError

    assert issubclass(ModelUnavailableError, BackendUnavailableError)


def test_classifier_checkpoint_format_lives_in_models() -> None:
    """One definition, imported by the emotion and attribute backends; reading it does not need torch."""
    from ganon.backends import attributes, emotion
    from ganon.models import classifier_checkpoint

    assert emotion.ClassifierMetadata is classifier_checkpoint.ClassifierMetadata
    assert emotion.save_classifier is classifier_checkpoint.save_classifier
    assert attributes.load_classifier is classifier_checkpoint.load_classifier
    code = ("import sys\nimport ganon.models.classifier_checkpoint, ganon.backends.emotion\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
