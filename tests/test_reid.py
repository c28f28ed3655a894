"""Re-identification attacks: an attacker that must succeed on photos of different people, one that must stay
at chance on noise, hand-checked ranks, the `ganon evaluate reid` command, face-region baselines, suite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ganon import backends
from ganon.cli import app
from ganon.data.datasets import OpenPeople
from ganon.evaluation.anonymizers import FaceRegionBaseline, anonymize_tree
from ganon.evaluation.reid import (
    SUMMARY_COLUMNS, LinearProbeAttacker, NearestNeighbourAttacker, attack, embed_identity_folder,
    rank_of_truth, summarize_reid, top_k_curve,
)
from ganon.imageio import read_image, write_image


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """openpeople's 10 people: a gallery of studio portraits, probes of selfies and postures."""
    reader, out = OpenPeople(kinds=("photo",)), tmp_path_factory.mktemp("people")
    table = reader.read()
    trees = {"gallery": ["studio_portrait"], "probe": ["amateur_selfie", "studio_posture"]}
    for role, names in trees.items():
        reader.materialize(out / role, frame=table[table["name"].isin(names)], max_side=640)
    return {role: out / role for role in trees}


@pytest.mark.parametrize("backend", ["sface", "dlib"])
def test_the_attacker_identifies_every_original_probe(people: dict[str, Path], backend: str) -> None:
    model = backends.build("identity", backend)
    gallery = embed_identity_folder(people["gallery"], model)
    probes = embed_identity_folder(people["probe"], model)
    assert gallery.found.all() and probes.found.all() and len(probes) == 20
    rows = attack(gallery, probes, NearestNeighbourAttacker(metric=model.metric), backend=backend)
    summary = summarize_reid(rows)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary.loc[0, "rank1"] == 1.0 and summary.loc[0, "mean_rank"] == 1.0
    assert summary.loc[0, "n_identities"] == 10 and summary.loc[0, "chance"] == pytest.approx(0.1)
    assert (rows["predicted"] == rows["identity"]).all()


def _noise_tree(root: Path, identities: int, per_identity: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(identities):
        for j in range(per_identity):
            write_image(root / f"id{i:02d}" / f"{j}.png", rng.integers(0, 256, (112, 112, 3), dtype=np.uint8))
    return root


def test_on_random_noise_the_attackers_stay_at_chance(tmp_path: Path) -> None:
    model = backends.build("identity", "sface", assume_aligned=True)  # no face in noise: embed it whole
    gallery = embed_identity_folder(_noise_tree(tmp_path / "g", 10, 3, seed=1), model)
    probes = embed_identity_folder(_noise_tree(tmp_path / "p", 10, 8, seed=2), model)
    assert gallery.found.all() and probes.found.all()
    for attacker in (NearestNeighbourAttacker(), LinearProbeAttacker()):
        summary = summarize_reid(attack(gallery, probes, attacker, backend="sface"))
        # 80 probes, chance 0.1: the standard error is 0.034, so 0.25 is more than four of them away.
        assert summary.loc[0, "rank1"] <= 0.25, attacker.name
        assert 3.5 <= summary.loc[0, "mean_rank"] <= 7.5, attacker.name


def test_ranks_and_probes_without_a_face_are_counted_by_hand() -> None:
    classes = np.array(["a", "b", "c", "d"])
    scores = np.array([[0.9, 0.1, 0.0, 0.0], [0.2, 0.5, 0.2, 0.1], [0.3, 0.3, 0.3, 0.1]])
    # ties share the mean rank
    assert rank_of_truth(scores, classes, ["a", "a", "b"]).tolist() == [1.0, 2.5, 2.0]
    rows = pd.DataFrame({"probe_set": "p", "backend": "x", "attacker": "y",
                         "rank": [1.0, 3.0, np.nan, np.nan], "n_identities": 4})
    summary = summarize_reid(rows).iloc[0]
    # Two probes without a face are random guesses: rank-1 credit 1/4 each, rank-5 1, mean rank 2.5.
    assert summary["rank1"] == pytest.approx((1 + 0.25 + 0.25) / 4)
    assert summary["rank5"] == 1.0 and summary["mean_rank"] == pytest.approx((1 + 3 + 2.5 + 2.5) / 4)
    assert summary["n_no_face"] == 2
    curve = top_k_curve(rows)
    assert curve["k"].tolist() == [1, 2, 3, 4] and curve["chance"].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert curve["rate"].tolist() == pytest.approx([0.375, 0.5, 0.875, 1.0])


def test_the_reid_command_writes_both_tables(people: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "reid.csv"
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "reid", "--gallery", str(people["gallery"]), "--probe",
                                 str(people["probe"]), "--probe", str(people["gallery"]),
                                 "--backend", "sface",
                                 "--train", str(people["gallery"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert set(summary["probe_set"]) == {"probe", "gallery"} and set(summary["attacker"]) == {
        "nearest-neighbour", "linear-probe"}
    assert (summary["rank1"] == 1.0).all() and (summary["backend"] == "sface").all()
    per_probe = pd.read_csv(out.with_name("reid_probes.csv"))
    assert len(per_probe) == 2 * (20 + 10)
    again = runner.invoke(app, ["evaluate", "reid", "--gallery", str(people["gallery"]), "--probe",
                                str(people["probe"]), "--out", str(out)])
    assert again.exit_code == 1 and "exists" in again.output
    missing = runner.invoke(app, ["evaluate", "reid", "--gallery", str(tmp_path / "nope"), "--probe",
                                  str(people["probe"]), "--out", str(tmp_path / "x.csv")])
    assert missing.exit_code == 1 and "nope" in missing.output


def test_face_region_baselines_change_the_face_only_and_never_the_input(people: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    source = people["gallery"]
    before = {p: p.read_bytes() for p in source.rglob("*.png")}
    (source / "P001" / "broken.png").write_bytes(b"not an image")
    try:
        table = anonymize_tree(FaceRegionBaseline("pixelate-8x8"), source, tmp_path / "pix")
    finally:
        (source / "P001" / "broken.png").unlink()
    assert {p: p.read_bytes() for p in source.rglob("*.png")} == before
    assert table.set_index("status").index.value_counts().to_dict() == {"written": 10, "unreadable": 1}
    original = read_image(source / "P001" / "studio_portrait.png").rgb
    pixelated = read_image(tmp_path / "pix" / "P001" / "studio_portrait.png").rgb
    changed = np.abs(original.astype(int) - pixelated).sum(axis=2) > 0
    assert 0.02 < changed.mean() < 0.6  # the face box, not the whole photo
    assert not changed[0].any() and not changed[-1].any()


def test_the_suite_runs_every_scenario_and_names_what_it_skipped(people: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    from ganon.evaluation.attacks import AttackConfig, run_attacks

    config = AttackConfig(methods=("original", "pixelate-8x8", "authors-crops"),
                          backends=("sface", "facenet512"))
    result = run_attacks(people["gallery"], people["probe"], people["probe"], tmp_path / "work", config)
    assert any(s.startswith("authors-crops:") for s in result.skipped)  # the authors' checkpoint: not here
    table = result.rank1_table()
    assert list(table.columns) == [("sface", s) for s in ("naive", "parrot", "trained-parrot")]
    assert (table.loc["original"] == 1.0).all()
    assert table.loc["pixelate-8x8", ("sface", "naive")] < 0.8
    link = result.linkability.set_index("method")
    assert link.loc["original", "d_sys"] > link.loc["pixelate-8x8", "d_sys"]
    assert link.loc["pixelate-8x8", "fmr"] > link.loc["pixelate-8x8", "fmr_original"]
    expression = result.expression.set_index("method")["expression_distance"]
    assert expression["original"] == 0.0 and expression["pixelate-8x8"] > 0.05
    assert not (people["gallery"].parent / "work").exists()
    assert (tmp_path / "work" / "pixelate-8x8" / "probe").is_dir()


def test_an_outside_method_enters_as_a_folder_at_the_same_relative_paths(people: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    outside = tmp_path / "deepprivacy2"
    (outside / "P002").mkdir(parents=True)
    write_image(outside / "P002" / "studio_portrait.jpg", np.zeros((64, 64, 3), np.uint8))
    table = anonymize_tree(str(outside), people["gallery"], tmp_path / "out").set_index("source")
    assert table["status"].value_counts().to_dict() == {"missing": 9, "written": 1}
    copied = table.loc[str(people["gallery"] / "P002" / "studio_portrait.png"), "output"]
    assert copied.endswith("P002/studio_portrait.jpg") and Path(copied).read_bytes() == (
        outside / "P002" / "studio_portrait.jpg").read_bytes()


def test_celeba_identities_become_attack_folders_by_the_official_split(tmp_path: Path) -> None:
    """The paper profile's attack data: CelebA's identity file and official test split, in the real layout
    (here filled with openpeople's photos), dealt into gallery, probe and train without overlap."""
    from ganon.data.manifests import load_dataset
    from ganon.evaluation.attacks import celeba_attack_folders

    reader = OpenPeople(kinds=("photo",))
    table = reader.read()
    people = sorted(table["subject"].unique())[:4]
    rows = []  # (file, partition, identity): three people with four test photos, one with two (too few)
    for p, person in enumerate(people):
        photos = table[table["subject"] == person].head(4 if p < 3 else 2)
        rows += [(row.path, 2, 100 + p) for row in photos.itertuples()]
    rows.append((table[table["subject"] == people[0]].iloc[4].path, 0, 100))  # a training image: never used
    images = tmp_path / "celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(len(rows))]
    for name, (path, _, _) in zip(names, rows):
        write_image(images / name, read_image(path).rgb[::4, ::4])
    attributes = load_dataset("celeba").class_names
    root = tmp_path / "celeba"
    (root / "list_attr_celeba.txt").write_text("\n".join(
        [str(len(names)), " ".join(attributes)] + [f"{n} " + " ".join(["-1"] * 40) for n in names]) + "\n")
    (root / "list_eval_partition.txt").write_text("".join(f"{n} {r[1]}\n" for n, r in zip(names, rows)))
    (root / "identity_CelebA.txt").write_text("".join(f"{n} {r[2]}\n" for n, r in zip(names, rows)))

    folders = celeba_attack_folders(root, tmp_path / "attack", n_identities=10, seed=0)
    trees = {role: sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
             for role, folder in folders.items()}
    assert {len(files) for files in trees.values()} == {3, 6}  # 3 people: 1 gallery, 1 probe, 2 train each
    assert {f.split("/")[0] for f in trees["gallery"]} == {"100", "101", "102"}  # the two-photo person is out
    files = [f.split("/")[1] for fs in trees.values() for f in fs]
    assert len(files) == len(set(files)) == 12 and names[-1] not in files  # no overlap, no training image
    again = celeba_attack_folders(root, tmp_path / "again", n_identities=10, seed=0)
    assert sorted(p.name for p in again["probe"].rglob("*.jpg")) == sorted(f.split("/")[1] for f in trees["probe"])
    model = backends.build("identity", "sface")
    rows_ = attack(embed_identity_folder(folders["gallery"], model), embed_identity_folder(folders["probe"], model),
                   NearestNeighbourAttacker(metric=model.metric), backend="sface")
    assert summarize_reid(rows_).loc[0, "n_identities"] == 3
    from ganon.evaluation.attacks import profile_attack_folders

    chosen, name = profile_attack_folders({"celeba": {"data_dir": str(root)}}, tmp_path / "profile", seed=0)
    assert name == "CelebA test identities" and sorted(p.name for p in chosen["gallery"].iterdir()) == ["100", "101", "102"]
