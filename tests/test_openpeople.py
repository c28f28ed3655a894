"""The openpeople reader (grid-cut expression crops, labels, splits by person) and SFace on its photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ganon import backends
from ganon.backends.identity import SFACE_COSINE_THRESHOLD, yunet_faces
from ganon.data.datasets import DatasetLayoutError, OpenPeople, read_dataset
from ganon.data.datasets.openpeople import EXPRESSIONS, PHOTOS, openpeople_root, young_from_age_range
from ganon.imageio import read_image


@pytest.fixture(scope="module")
def table():
    return OpenPeople().read()


def test_ten_people_with_five_photos_and_sixteen_expressions_each(table) -> None:
    assert table["subject"].nunique() == 10
    counts = table.groupby(["subject", "kind"]).size().unstack()
    assert (counts["photo"] == len(PHOTOS)).all() and (counts["expression"] == 16).all()
    expressions = table[table["kind"] == "expression"]
    assert len(expressions) == 160
    first = expressions[expressions["subject"] == "P001"]
    assert list(first["expression"]) == list(EXPRESSIONS)
    assert list(first["label"]) == list(range(16))
    assert OpenPeople().verify_checksums() == []


def test_attributes_come_from_the_metadata(table) -> None:
    people = table.drop_duplicates("subject").set_index("subject")
    assert people.loc["P005", "Male"] == 1 and people.loc["P001", "Male"] == 0  # sex male / female
    assert people.loc["P009", "Young"] == 1 and people.loc["P005", "Young"] == 0  # 18-25 / 55-65
    assert int(people["Male"].sum()) == 3 and int(people["Young"].sum()) == 5
    assert [young_from_age_range(r) for r in ("18-25", "25-35", "35-45", "55-65")] == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="age range"):
        young_from_age_range("young")


def test_split_is_by_person_and_seeded(table) -> None:
    assert (table.groupby("subject")["split"].nunique() == 1).all()
    val = sorted(table.loc[table["split"] == "val", "subject"].unique())
    assert len(val) == 2
    assert sorted(read_dataset("openpeople", openpeople_root(), kinds=("photo",)).query("split == 'val'")
                  ["subject"].unique()) == val
    other = OpenPeople(seed=1).read()
    assert sorted(other.loc[other["split"] == "val", "subject"].unique()) != val


def test_each_expression_crop_holds_one_face_and_no_caption(table, tmp_path: Path) -> None:
    subset = table[(table["subject"] == "P004") & (table["kind"] == "expression")]
    written = OpenPeople().materialize(tmp_path, frame=subset)
    for file in written["file"]:
        crop = read_image(file).rgb
        assert 250 < crop.shape[0] < 500 and 0.6 < crop.shape[1] / crop.shape[0] < 1.7, file
        assert len(yunet_faces(crop, score_threshold=0.6)) == 1, file
    sheet = read_image(subset["path"].iloc[0]).rgb
    x0, y0, x1, y1 = subset["crop"].iloc[0]
    assert (x1 - x0) * (y1 - y0) < sheet.shape[0] * sheet.shape[1] / 16  # inside one cell
    assert sorted(p.name for p in (tmp_path / "P004").iterdir()) == sorted(f"{n}.png" for n in subset["name"])


def test_a_person_without_metadata_is_a_layout_error(tmp_path: Path) -> None:
    person = tmp_path / "P001"
    shutil.copytree(openpeople_root() / "P001", person)
    (person / "metadata.json").write_text(json.dumps({"character_details": {}}))
    with pytest.raises(DatasetLayoutError, match="metadata.json"):
        OpenPeople(tmp_path, kinds=("photo",)).read()


def test_sface_same_person_below_threshold_different_people_above(table) -> None:
    model = backends.build("identity", "sface")
    assert model.threshold == pytest.approx(0.637)
    photos = table[(table["kind"] == "photo") & table["subject"].isin(["P002", "P007"])
                   & table["name"].isin(["studio_portrait", "amateur_selfie"])]
    embeddings = {(r.subject, r.name): model.embed(read_image(r.path).rgb) for r in photos.itertuples()}
    assert all(e is not None and e.shape == (128,) for e in embeddings.values())
    for person in ("P002", "P007"):
        assert model.distance(embeddings[person, "studio_portrait"], embeddings[person, "amateur_selfie"]) \
            < SFACE_COSINE_THRESHOLD
    for a in ("studio_portrait", "amateur_selfie"):
        for b in ("studio_portrait", "amateur_selfie"):
            assert model.distance(embeddings["P002", a], embeddings["P007", b]) > SFACE_COSINE_THRESHOLD
    assert model.embed(np.full((200, 200, 3), 128, np.uint8)) is None
