"""Dataset readers on miniature datasets that each test writes in the official on-disk layout
(tiny real JPEG/PNG files, the real label file formats)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganon.data.datasets import (
    DATASETS,
    AffectNet,
    CelebA,
    CKPlus,
    DatasetLayoutError,
    Faces,
    WiderFace,
    parse_faces_filename,
    parse_wider_gt,
    read_dataset,
    subject_disjoint_split,
)
from ganon.data.manifests import load_dataset
from miniatures import (
    BUILDERS,
    CELEBA_IDENTITY,
    CELEBA_IMAGES,
    CK_SEQUENCES,
    WIDER_TRAIN_GT,
    celeba_values,
    tiny_image,
    write_npy,
    make_affectnet,
    make_affectnet_csv,
    make_celeba,
    make_ckplus,
    make_faces,
    make_wider,
)

# ---------------------------------------------------------------- registry and manifest consistency


def test_every_manifest_has_a_registered_reader() -> None:
    assert DATASETS.names() == ["affectnet", "celeba", "ckplus", "faces", "openpeople", "samples", "wider-face"]
    for name in DATASETS.names():
        assert load_dataset(name).reader == name == DATASETS.get(name).name


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_required_manifest_path_is_checked(name: str, tmp_path: Path) -> None:
    """Removing any required file or folder named in the manifest gives an error naming it."""
    template = BUILDERS[name](tmp_path / "template")
    checked = 0
    for entry in load_dataset(name).files:
        if not entry.required or entry.path == ".":
            continue
        root = tmp_path / f"case{checked}"
        shutil.copytree(template, root)
        target = root / entry.path
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        with pytest.raises(DatasetLayoutError) as caught:
            read_dataset(name, root)
        assert str(target) in str(caught.value), str(caught.value)
        assert load_dataset(name).homepage in str(caught.value)
        checked += 1
    assert checked >= 1 or name == "faces"


def test_a_root_that_is_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="is not a folder"):
        CKPlus(tmp_path / "nowhere")


# ---------------------------------------------------------------- WIDER FACE


def test_wider_gt_parser_handles_empty_images_and_trailing_spaces(tmp_path: Path) -> None:
    path = tmp_path / "gt.txt"
    path.write_text(WIDER_TRAIN_GT)
    parsed = parse_wider_gt(path)
    assert [name for name, _ in parsed] == [
        "0--Parade/0_Parade_marchingband_1_5.jpg", "12--Group/12_Group_Group_12_Group_Group_12_10.jpg",
        "0--Parade/0_Parade_Parade_0_2.jpg"]
    assert parsed[0][1].tolist() == [[449, 330, 122, 149, 0, 0, 0, 0, 0, 0], [361, 98, 263, 339, 2, 1, 0, 0, 1, 1]]
    assert parsed[1][1].shape == (0, 10)


def test_wider_reader(tmp_path: Path) -> None:
    frame = WiderFace(make_wider(tmp_path)).read()
    assert list(frame["split"]) == ["train", "train", "train", "val"]
    assert list(frame["n_faces"]) == [2, 0, 1, 3]
    assert list(frame["event"]) == ["0--Parade", "12--Group", "0--Parade", "1--Handshaking"]
    assert list(frame["event_id"]) == [0, 12, 0, 1]
    assert frame.loc[0, "boxes"].tolist() == [[449, 330, 122, 149], [361, 98, 263, 339]]
    assert frame.loc[0, "blur"].tolist() == [0, 2] and frame.loc[0, "pose"].tolist() == [0, 1]
    assert frame.loc[3, "occlusion"].tolist() == [2, 0, 0] and frame.loc[3, "invalid"].tolist() == [0, 1, 0]
    assert all(Path(p).is_file() and Image.open(p).size == (12, 12) for p in frame["path"])
    assert frame["subject"].isna().all()
    faces = WiderFace.faces(frame)
    assert len(faces) == 6 and faces.groupby("split").size().to_dict() == {"train": 3, "val": 3}
    assert faces.iloc[2][["x", "y", "w", "h", "blur"]].tolist() == [78, 221, 7, 8, 2]


def test_wider_test_split_and_errors(tmp_path: Path) -> None:
    root = make_wider(tmp_path, test=True)
    test = WiderFace(root, splits=("test",)).read()
    assert len(test) == 2 and set(test["split"]) == {"test"} and (test["n_faces"] == -1).all()
    (root / "WIDER_val/images/1--Handshaking/1_Handshaking_Handshaking_1_1.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match="1_Handshaking_Handshaking_1_1.jpg is listed for val"):
        WiderFace(root).read()
    bad = make_wider(tmp_path / "bad")
    gt = bad / "wider_face_split/wider_face_train_bbx_gt.txt"
    gt.write_text(gt.read_text().replace("449 330 122 149 0 0 0 0 0 0", "449 330 122"))
    with pytest.raises(DatasetLayoutError, match=r"wider_face_train_bbx_gt.txt:3: a box line needs 10 integers"):
        WiderFace(bad).read()
    with pytest.raises(ValueError, match="unknown WIDER FACE splits"):
        WiderFace(root, splits=("training",))


# ---------------------------------------------------------------- AffectNet


def test_affectnet_npy_layout(tmp_path: Path) -> None:
    frame = AffectNet(make_affectnet(tmp_path), progress=False).read()
    frame = frame.set_index("image_id")
    assert frame["split"].to_dict() == {"0": "train", "1": "train", "17": "train", "100": "val", "101": "val"}
    assert frame["label"].to_dict() == {"0": 1, "1": 7, "17": 0, "100": 6, "101": 3}
    assert frame["label_name"].to_dict() == {"0": "happy", "1": "contempt", "17": "neutral", "100": "anger",
                                             "101": "surprise"}
    assert frame.loc["0", "valence"] == pytest.approx(0.5) and frame.loc["100", "arousal"] == pytest.approx(0.9)
    assert frame["subject"].isna().all()
    assert all(Path(p).name == f"{i}.jpg" for i, p in frame["path"].items())


def test_affectnet_npy_layout_errors(tmp_path: Path) -> None:
    root = make_affectnet(tmp_path)
    (root / "val_set/images/101.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match=r"1 annotations in .*val_set/annotations have no image.*101_exp.npy"):
        AffectNet(root, progress=False).read()
    write_npy(root / "train_set/annotations/0_exp.npy", "12")
    tiny_image(root / "val_set/images/101.jpg")
    with pytest.raises(DatasetLayoutError, match=r"unknown expression codes \[12\]"):
        AffectNet(root, progress=False).read()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetLayoutError, match="found neither .*train_set .*training.csv"):
        AffectNet(empty).read()


def test_affectnet_csv_layout_drops_non_expressions(tmp_path: Path) -> None:
    frame = AffectNet(make_affectnet_csv(tmp_path)).read()
    assert len(frame) == 3  # codes 8 (None) and 10 (Non-Face) are dropped
    assert list(frame["label_name"]) == ["fear", "sadness", "disgust"]
    assert list(frame["split"]) == ["train", "train", "val"]
    assert frame["path"].str.contains("Manually_Annotated_Images/689/").iloc[0]
    assert frame["face_width"].tolist() == [100, 100, 100] and frame["valence"].iloc[2] == pytest.approx(-0.7)
    (tmp_path / "Manually_Annotated_Images/3/abc.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match="1 images listed in .*validation.csv are missing"):
        AffectNet(tmp_path).read()


# ---------------------------------------------------------------- CK+


def test_ckplus_reads_the_peak_frames(tmp_path: Path) -> None:
    frame = CKPlus(make_ckplus(tmp_path)).read()
    labelled = [(s, q, n, c) for s, seqs in CK_SEQUENCES.items() for q, n, c in seqs if c is not None]
    assert len(frame) == len(labelled) == 11  # the unlabelled S010/006 is not a sample
    for (subject, sequence, frames, code), row in zip(labelled, frame.itertuples()):
        assert row.subject == subject and row.sequence == f"{subject}_{sequence}"
        assert Path(row.path).name == f"{subject}_{sequence}_{frames:08d}.png"  # the last frame
        assert row.frame == row.n_frames == frames
        assert row.label_code == code and row.label == code - 1
    names = dict(zip(frame["sequence"], frame["label_name"]))
    assert names["S005_001"] == "disgust" and names["S010_002"] == "surprise" and names["S010_004"] == "anger"
    assert names["S014_001"] == "contempt" and names["S011_002"] == "happy" and names["S011_001"] == "sadness"
    assert Image.open(frame["path"].iloc[0]).mode == "L"


def test_ckplus_split_is_seeded_and_subject_disjoint(tmp_path: Path) -> None:
    root = make_ckplus(tmp_path)
    first, again = CKPlus(root).read(), CKPlus(root).read()
    assert first["split"].tolist() == again["split"].tolist()
    assert first.attrs["split_seed"] == load_dataset("ckplus").split.seed
    by_subject = first.groupby("subject")["split"].nunique()
    assert (by_subject == 1).all()
    assert set(first["split"]) == {"train", "val"}
    splits = {seed: tuple(CKPlus(root, seed=seed).read()["split"]) for seed in range(6)}
    assert len(set(splits.values())) > 1  # the seed matters


def test_ckplus_alternative_folders_and_errors(tmp_path: Path) -> None:
    nested = make_ckplus(tmp_path / "nested", images="extended-cohn-kanade-images/cohn-kanade-images",
                         emotion="Emotion_labels/Emotion")
    assert len(CKPlus(nested).read()) == 11
    root = make_ckplus(tmp_path / "plain")
    (root / "cohn-kanade-images/S022/005/S022_005_00000017.png").unlink()
    with pytest.raises(DatasetLayoutError, match=r"S022_005_00000017_emotion.txt has no image .*S022_005_00000017.png"):
        CKPlus(root).read()
    root = make_ckplus(tmp_path / "garbled")
    (root / "Emotion/S005/001/S005_001_00000011_emotion.txt").write_text("disgust\n")
    with pytest.raises(DatasetLayoutError, match="expected one number, found 'disgust'"):
        CKPlus(root).read()
    root = make_ckplus(tmp_path / "neutral")
    (root / "Emotion/S005/001/S005_001_00000011_emotion.txt").write_text("   0.0000000e+00\n")
    with pytest.raises(DatasetLayoutError, match="unknown label code '0'"):
        CKPlus(root).read()


# ---------------------------------------------------------------- FACES


def test_faces_filename_fields() -> None:
    assert parse_faces_filename("004_o_m_a_A.jpg") == {"person": "004", "age": "o", "gender": "m",
                                                       "expression": "a", "set": "A"}
    assert parse_faces_filename("066_m_f_n_B.JPG")["age"] == "m"
    assert parse_faces_filename("066_m_f_n_B.JPG")["gender"] == "f"
    for wrong in ("004_o_x_a_A.jpg", "004_o_m_z_A.jpg", "04_o_m_a_A.jpg", "004_o_m_a_C.jpg", "004_o_m_a_A.png"):
        assert parse_faces_filename(wrong) is None


def test_faces_reader(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_faces(tmp_path)
    tiny_image(root / "thumbnails" / "overview.jpg")  # not a FACES picture: ignored with a warning
    (root / "readme.txt").write_text("FACES")
    frame = Faces(root).read()
    assert len(frame) == 8 * 6 * 2 and "1 JPEG files" in caplog.text
    row = frame.loc[frame["path"].str.endswith("004_o_m_a_A.jpg")].iloc[0]
    assert (row.subject, row.age_group, row.gender, row.label_name, row.picture_set) == (
        "004", "older", "male", "anger", "A")
    row = frame.loc[frame["path"].str.endswith("066_m_f_n_B.jpg")].iloc[0]
    assert (row.subject, row.age_group, row.gender, row.label_name, row.picture_set) == (
        "066", "middle", "female", "neutral", "B")
    assert frame.groupby("label_name").size().to_dict() == {n: 16 for n in
                                                           ["anger", "disgust", "fear", "happy", "neutral", "sadness"]}
    assert dict(zip(frame["expression_code"], frame["label"])) == {"a": 0, "d": 1, "f": 2, "h": 3, "n": 4, "s": 5}
    assert (frame.groupby("subject")["split"].nunique() == 1).all()
    val_persons = frame.loc[frame["split"] == "val", "subject"].nunique()
    assert val_persons == 1  # 10.5 % of 8 persons
    assert Faces(root).read()["split"].tolist() == frame["split"].tolist()


def test_faces_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    tiny_image(empty / "holiday.jpg")
    with pytest.raises(DatasetLayoutError, match="no files named like 004_o_m_a_A.jpg .*holiday.jpg"):
        Faces(empty).read()
    root = make_faces(tmp_path / "dup")
    shutil.copy(root / "o_m" / "004_o_m_a_A.jpg", root / "004_o_m_a_A.jpg")
    with pytest.raises(DatasetLayoutError, match="the same picture appears twice"):
        Faces(root).read()
    root = make_faces(tmp_path / "mixed")
    (root / "o_m" / "004_o_m_a_A.jpg").rename(root / "o_m" / "004_y_m_a_A.jpg")
    with pytest.raises(DatasetLayoutError, match=r"persons \['004'\] have file names with different age groups"):
        Faces(root).read()


# ---------------------------------------------------------------- CelebA


@pytest.mark.parametrize("drive_layout", [False, True])
def test_celeba_reader(tmp_path: Path, drive_layout: bool) -> None:
    frame = CelebA(make_celeba(tmp_path, drive_layout=drive_layout)).read()
    names = load_dataset("celeba").class_names
    assert frame["image_id"].tolist() == CELEBA_IMAGES
    assert frame["split"].tolist() == ["train", "train", "train", "val", "val", "test"]
    assert frame["subject"].tolist() == [str(i) for i in CELEBA_IDENTITY]
    for i in range(len(CELEBA_IMAGES)):
        expected = [(v + 1) // 2 for v in celeba_values(i)]
        assert frame.loc[i, names].tolist() == expected
        assert frame.loc[i, "labels"].tolist() == expected and frame.loc[i, "labels"].dtype == np.uint8
    assert frame["Male"].dtype == np.uint8
    assert all(Path(p).is_file() for p in frame["path"])


def test_celeba_errors(tmp_path: Path) -> None:
    root = make_celeba(tmp_path / "count")
    attr = root / "list_attr_celeba.txt"
    attr.write_text(attr.read_text().replace("6\n", "7\n", 1))
    with pytest.raises(DatasetLayoutError, match="declares 7 images but lists 6"):
        CelebA(root).read()
    root = make_celeba(tmp_path / "names")
    attr = root / "list_attr_celeba.txt"
    attr.write_text(attr.read_text().replace("Eyeglasses", "Glasses"))
    with pytest.raises(DatasetLayoutError, match="should name the 40 attributes"):
        CelebA(root).read()
    root = make_celeba(tmp_path / "values")
    attr = root / "list_attr_celeba.txt"
    attr.write_text(attr.read_text().replace("000002.jpg  1", "000002.jpg  0", 1).replace("000002.jpg -1", "000002.jpg  0", 1))
    with pytest.raises(DatasetLayoutError, match=r"must be \+1 or -1"):
        CelebA(root).read()
    root = make_celeba(tmp_path / "partition")
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    with pytest.raises(DatasetLayoutError, match="has no partition for 5 images"):
        CelebA(root).read()
    root = make_celeba(tmp_path / "image")
    (root / "img_align_celeba" / "182638.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match="1 images listed in the attribute file are missing.*182638.jpg"):
        CelebA(root).read()
    assert len(CelebA(root, check_images=False).read()) == 6
    root = make_celeba(tmp_path / "noid")
    (root / "identity_CelebA.txt").unlink()
    assert CelebA(root).read()["subject"].isna().all()


# ---------------------------------------------------------------- seeded splits


def test_subject_disjoint_split_is_reproducible_and_near_the_target() -> None:
    rng = np.random.default_rng(0)
    subjects = pd.Series(np.repeat([f"S{i:03d}" for i in range(123)], rng.integers(1, 7, 123)))
    split = subject_disjoint_split(subjects, val_fraction=0.208, seed=0)
    assert set(split) == {"train", "val"}
    assert (pd.DataFrame({"s": subjects, "split": split}).groupby("s")["split"].nunique() == 1).all()
    assert abs((split == "val").sum() - 0.208 * len(subjects)) <= 6  # within one subject's images
    shuffled = subjects.sample(frac=1.0, random_state=3)
    again = subject_disjoint_split(shuffled, val_fraction=0.208, seed=0)
    assert again.loc[subjects.index].tolist() == split.tolist()  # row order does not matter
    other = subject_disjoint_split(subjects, val_fraction=0.208, seed=1)
    assert other.tolist() != split.tolist()
    with pytest.raises(ValueError, match="val_fraction"):
        subject_disjoint_split(subjects, val_fraction=1.5, seed=0)
    with pytest.raises(ValueError, match="at least two subjects"):
        subject_disjoint_split(pd.Series(["a", "a"]), val_fraction=0.5, seed=0)


# ---------------------------------------------------------------- command line


def test_cli_check_dataset(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ganon.cli import app

    runner = CliRunner()
    root = make_ckplus(tmp_path / "ck")
    out = tmp_path / "ck.csv"
    result = runner.invoke(app, ["data", "check-dataset", "ckplus", str(root), "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "11 samples" in result.output and "per label and split" in result.output
    assert "seed 3" in result.output and "surprise" in result.output
    table = pd.read_csv(out)
    assert len(table) == 11 and {"path", "label", "split", "subject"} <= set(table.columns)
    result = runner.invoke(app, ["data", "check-dataset", "ckplus", str(root), "--out", str(out)])
    assert result.exit_code == 1 and "not overwriting" in result.output

    result = runner.invoke(app, ["data", "check-dataset", "wider-face", str(make_wider(tmp_path / "w"))])
    assert result.exit_code == 0 and "annotated faces per split" in result.output
    result = runner.invoke(app, ["data", "check-dataset", "celeba", str(make_celeba(tmp_path / "c")), "--seed", "1"])
    assert result.exit_code == 1 and "official split" in result.output
    result = runner.invoke(app, ["data", "check-dataset", "celeba", str(tmp_path / "w")])
    assert result.exit_code == 1 and "list_attr_celeba.txt" in result.output


def test_checksums_of_label_files(tmp_path: Path) -> None:
    """A miniature list_attr_celeba.txt is not the official one: the md5 check says so."""
    from typer.testing import CliRunner

    from ganon.cli import app

    root = make_celeba(tmp_path)
    problems = CelebA(root).verify_checksums()
    assert len(problems) == 3  # attributes, partition, identity
    assert any("list_attr_celeba.txt: md5" in p and "75e246fa4810816ffd6ee81facbd244c" in p for p in problems)
    result = CliRunner().invoke(app, ["data", "check-dataset", "celeba", str(root), "--checksums"])
    assert result.exit_code == 1 and "checksum mismatch" in result.output
    assert CKPlus(make_ckplus(tmp_path / "ck")).verify_checksums() == []
