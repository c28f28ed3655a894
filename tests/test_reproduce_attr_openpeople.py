"""Table 1 with dlib and sface side by side, and Section 4.3 on openpeople's Male and Young (smoke profile)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from ganon import backends, book
from ganon.cli import app
from ganon.data.datasets import OpenPeople
from ganon.evaluation.anonymization import side_by_side, verification_shares
from ganon.evaluation.identity import ImagePair, identity_distances, summarize_identity
from ganon.imageio import read_image
from ganon.reproduce import ResultStore, Settings, reproduce
from ganon.reproduce.anonymization import identity_models

PEOPLE = ("P002", "P007")  # a woman and a man (see tests/test_openpeople.py)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """Studio portrait and selfie of two openpeople people, shrunk to 640 px."""
    reader = OpenPeople(kinds=("photo",))
    table = reader.read()
    table = table[table["subject"].isin(PEOPLE) & table["name"].isin(["studio_portrait", "amateur_selfie"])]
    written = reader.materialize(tmp_path_factory.mktemp("openpeople"), frame=table, max_side=640)
    return {(r.subject, r.name): Path(r.file) for r in written.itertuples()}


def test_smoke_profile_lists_both_recognizers_and_rejects_unknown_ones(repo_root: Path, tmp_path: Path) -> None:
    smoke = Settings.from_profile("smoke", root=repo_root)
    assert identity_models(smoke) == ["dlib", "sface"]
    assert identity_models(dataclasses.replace(smoke, models={"identity": "facenet512"})) == ["facenet512"]
    (tmp_path / "profiles").mkdir()
    data = yaml.safe_load((repo_root / "profiles" / "smoke.yaml").read_text())
    data["models"]["identity_models"] = ["dlib", "arcface"]
    (tmp_path / "profiles" / "smoke.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(book.ProfileError, match="arcface"):
        book.load_profile("smoke", root=tmp_path)


def test_share_beyond_threshold_is_right_on_a_known_pair_set(photos) -> None:
    portrait = {p: photos[p, "studio_portrait"] for p in PEOPLE}
    selfie = {p: photos[p, "amateur_selfie"] for p in PEOPLE}
    pairs = {  # the same person's other photo, or the other person: known answers for both recognizers
        "Same": [ImagePair(p, portrait[p], selfie[p]) for p in PEOPLE],
        "Swapped": [ImagePair(a, portrait[a], selfie[b]) for a, b in (PEOPLE, PEOPLE[::-1])],
        "Mixed": [ImagePair("a", portrait["P002"], selfie["P002"]), ImagePair("b", portrait["P002"], selfie["P007"])],
    }
    summaries = {}
    for name in ("dlib", "sface"):
        model = backends.build("identity", name)
        per_face = pd.concat([identity_distances(p, model, method_name=m, progress=False) for m, p in pairs.items()])
        summaries[name] = summarize_identity(per_face)
    table = side_by_side(summaries).set_index("method")
    assert list(table.index) == ["Same", "Swapped", "Mixed"]
    for name, threshold in (("dlib", 0.084), ("sface", 0.637)):
        assert list(table[f"{name}_beyond_threshold"]) == [0.0, 1.0, 0.5]
        assert (table[f"{name}_threshold"] == threshold).all() and (table[f"{name}_n"] == 2).all()
        assert table.loc["Swapped", f"{name}_distance"] > threshold > table.loc["Same", f"{name}_distance"]

    model = backends.build("identity", "sface")
    faces = [portrait["P002"], selfie["P002"], portrait["P007"], selfie["P007"]]
    shares = verification_shares([model.embed(read_image(f).rgb) for f in faces], ["P002", "P002", "P007", "P007"],
                                 model).set_index("pairs")
    assert shares.loc["same person", ["n", "fraction_above_threshold"]].tolist() == [2, 0.0]
    assert shares.loc["different people", ["n", "fraction_above_threshold"]].tolist() == [4, 1.0]


def test_evaluate_identity_with_sface_offline(photos, tmp_path: Path) -> None:
    original, swapped = tmp_path / "original", tmp_path / "swapped"
    for folder in (original, swapped):
        folder.mkdir()
    for a, b in (PEOPLE, PEOPLE[::-1]):
        shutil.copyfile(photos[a, "studio_portrait"], original / f"{a}.png")
        shutil.copyfile(photos[b, "amateur_selfie"], swapped / f"{a}.png")
    out = tmp_path / "identity.csv"
    result = CliRunner().invoke(app, ["evaluate", "identity", "--original", str(original), "--anonymized",
                                      str(swapped), "--backend", "sface", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "identity_summary.csv").iloc[0]
    assert (summary["backend"], summary["n"], summary["fraction_above_threshold"]) == ("sface", 2, 1.0)


def test_smoke_tables_1_5_6_compare_rows_with_the_paper(repo_root: Path, tmp_path: Path, one_torch_thread) -> None:
    smoke = Settings.from_profile("smoke", root=repo_root)
    settings = dataclasses.replace(smoke, sizes={**smoke.sizes, "max_images": 1})
    store = ResultStore(tmp_path)
    table1 = reproduce("table1", settings, workdir=tmp_path, store=store)
    rows = table1.table.set_index(["method", table1.table["kernel"].fillna("")])
    for name in ("dlib", "sface"):
        assert rows.loc[("Original", ""), f"{name}_beyond_threshold"] == 0.0
        assert rows.loc[("GANonymization", ""), f"{name}_beyond_threshold"] >= 0.8
        assert rows.loc[("Blur", "9x9"), f"{name}_beyond_threshold"] <= 0.1
    assert "dlib, sface in place of Facenet512" in rows.loc[("GANonymization", ""), "note"]
    verification = table1.frames["verification"].set_index(["backend", "pairs"])["fraction_above_threshold"]
    for name in ("dlib", "sface"):  # 20 openpeople close-ups of 10 people
        assert verification[name, "same person"] < 0.2 and verification[name, "different people"] > 0.7
    assert len(book.compare_table("table1", results_dir=tmp_path).matched()) >= 3

    table5 = reproduce("table5", settings, workdir=tmp_path, store=store).table
    original = table5[table5["evaluated_on"] == "Original"].set_index("attribute")
    assert list(original.index) == ["Male", "Young"] and (original["train_data"] == "Original").all()
    assert original.loc["Male", "support"] == 6 and original.loc["Young", "support"] == 10  # 3 men, 5 young, 2 photos
    assert original.loc["Male", "f1"] >= 0.8
    assert set(table5["evaluated_on"]) == {"Original", "GANonymization", "Blur 9x9"}
    matched = book.compare_table("table5", results_dir=tmp_path).matched()
    assert sorted(matched["attribute"]) == ["Male", "Young"] and set(matched["train_data"]) == {"Original"}

    figure11 = reproduce("figure11", settings, workdir=tmp_path, store=store)
    confusion = figure11.frames["confusion"].set_index(["evaluated_on", "attribute", "true", "predicted"])["value"]
    for _, row in table5.iterrows():  # a row-normalised matrix's present/present cell is the recall
        assert confusion[row["evaluated_on"], row["attribute"], "present", "present"] == pytest.approx(row["recall"])
    assert figure11.figure is not None
    reproduce("table6", settings, workdir=tmp_path, store=store)
    assert sorted(book.compare_table("table6", results_dir=tmp_path).matched()["attribute"]) == ["Male", "Young"]
    report = book.reproduction_table(tmp_path).set_index("result")
    assert (report.loc[["table1", "table5", "table6"], "status"] == "compared").all()
    assert report.loc["figure11", "status"] == "regenerated"
