"""Section 4.2 in the smoke profile on openpeople's expression crops, the stand-in for FACES (real crops, real models)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ganon import book
from ganon.book.report import reproduction_table
from ganon.evaluation.reference import paper_table
from ganon.evaluation.tables import beside_paper
from ganon.reproduce import ResultStore, Settings, reproduce
from ganon.reproduce.common import openpeople_expressions
from ganon.reproduce.expression import PAPER_CLASSES, PAPER_SLOTS, class_mapping, stand_ins

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def settings(samples_dir: Path) -> Settings:
    return dataclasses.replace(Settings.from_profile("smoke", root=REPO), samples_dir=str(samples_dir))


@pytest.fixture(scope="module")
def results(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("expression")
    store = ResultStore(out)
    for name in ("table2", "table3", "table4", "figure6", "figure10"):
        reproduce(name, settings, workdir=out, store=store)
    return out


def test_smoke_profile_names_openpeople_for_faces(settings: Settings) -> None:
    assert settings.stand_in_datasets == {"faces": "openpeople"}
    assert stand_ins(settings) == {"openpeople": "FACES"}
    assert Settings.from_profile("paper", root=REPO).stand_in_datasets == {}


def test_profile_rejects_unknown_stand_ins(tmp_path: Path) -> None:
    smoke = yaml.safe_load((REPO / "profiles" / "smoke.yaml").read_text())
    (tmp_path / "profiles").mkdir()
    for name, stand_in in (("typo", {"faces": "openpeopel"}), ("unknown", {"jaffe": "openpeople"})):
        (tmp_path / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump({**smoke, "name": name,
                                                                           "stand_in_datasets": stand_in}))
        with pytest.raises(book.ProfileError, match="stand_in_datasets"):
            book.load_profile(name, root=tmp_path)


def test_class_mapping_covers_exactly_the_paper_faces_classes(settings: Settings, tmp_path: Path) -> None:
    mapping = class_mapping(settings)
    paper = paper_table("table2")
    assert set(mapping["paper_class"]) == set(paper.loc[paper["dataset"] == "FACES", "emotion"])
    assert mapping["paper_class"].is_unique and set(mapping["paper_dataset"]) == {"FACES"}
    assert "surprised" not in set(mapping["expression"])  # FACES has no surprise
    source = openpeople_expressions(settings, tmp_path / "crops", classes=PAPER_CLASSES["openpeople"]["faces"])
    table = source.table
    assert len(table) == 60 and table["subject"].nunique() == 10
    assert (table.groupby("subject")["emotion"].nunique() == 6).all()
    classes = list(source.table.attrs["classes"])
    assert [classes[i] for i in table["label"]] == table["emotion"].tolist()
    assert (table["expression"].map(PAPER_CLASSES["openpeople"]["faces"]) == table["emotion"]).all()
    assert all(Path(p).is_file() for p in table["path"])


def test_training_scenario_tests_on_people_it_never_trained_on(settings: Settings, results: Path) -> None:
    import pickle

    source = openpeople_expressions(settings, results / "stand_ins" / "openpeople",
                                    classes=PAPER_CLASSES["openpeople"]["faces"])
    splits = source.table.groupby("subject")["split"].unique()
    assert (splits.str.len() == 1).all()  # every person lies in one split only
    val_people = set(source.table.loc[source.table["split"] == "val", "subject"])
    assert len(val_people) == 2
    with (results / "classifiers" / "openpeople" / "reports.pkl").open("rb") as handle:
        reports = pickle.load(handle)
    for report in reports:  # graded on the original crops of the two validation people only
        assert {Path(p).parent.name for p in report.predictions["path"]} == val_people
        assert all("/original/" in Path(p).as_posix() for p in report.predictions["path"])
    table4 = pd.read_csv(results / "table4.csv")
    assert set(table4["train_data"]) == {"Original", "GANonymization", *PAPER_SLOTS}
    assert set(table4["paper_train_data"]) == {"Original", "GANonymization", *PAPER_SLOTS.values()}
    assert (table4.loc[table4["class"] == "accuracy", "support"] == 12).all()  # 6 crops of each test person
    original = table4[(table4["train_data"] == "Original") & (table4["class"] == "accuracy")]["f1"].iloc[0]
    assert original > 1 / 6  # better than chance on people it never saw


def test_tables_2_to_4_are_compared_with_the_paper_faces_rows(results: Path) -> None:
    report = reproduction_table(results).set_index("result")
    for name in ("table2", "table3", "table4"):
        assert report.loc[name, "status"] == "compared", report.loc[name, "note"]
        assert report.loc[name, "rows_compared"] >= 1
    assert report.loc["figure6", "status"] == "regenerated"
    assert report.loc["figure10", "status"] == "regenerated"
    table2 = pd.read_csv(results / "table2.csv")
    ours = table2[table2["dataset"] == "openpeople"]
    assert set(ours["emotion"]) == set(class_mapping(Settings(profile="smoke", stand_in_datasets={"faces": "openpeople"}))
                                       ["paper_class"])  # Surprise is left out
    assert set(table2["dataset"]) == {"samples", "openpeople"}
    table3 = pd.read_csv(results / "table3.csv")
    assert set(table3.loc[table3["dataset"] == "openpeople", "paper_comparison"]) == {
        "GANonymization vs DeepPrivacy2", "GANonymization vs CIAGAN"}


def test_beside_paper_sets_a_stand_in_row_beside_the_paper_row() -> None:
    ours = pd.DataFrame({"dataset": ["openpeople", "openpeople", "samples"], "emotion": ["Happy"] * 3,
                         "method": ["GANonymization", "Blur 9x9", "GANonymization"],
                         "paper_dataset": ["FACES", "FACES", None], "paper_method": [None, "CIAGAN", None],
                         "mean_probability_distance": [0.04, 0.5, 0.3]})
    beside = beside_paper(ours, "table2", how="inner")
    assert len(beside) == 2
    row = beside.set_index("method").loc["CIAGAN"]
    assert row["dataset"] == "FACES" and row["ours"] == 0.5 and row["paper"] == 0.02
    assert row["stand_in"] == "openpeople for FACES; Blur 9x9 for CIAGAN"
    assert bool(beside.set_index("method").loc["GANonymization", "within_rounding"])
