"""Dataset readers on miniature datasets that each test writes in the official on-disk layout
(tiny real JPEG/PNG files, the real label file formats)."""

from __future__ import annotations

import functools
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

_RNG = np.random.default_rng(7)


@functools.lru_cache(maxsize=None)
def _face_pixels(size: int = 12) -> np.ndarray:
    """A small crop of a real photo (scikit-image's astronaut) if available, else noise."""
    try:
        from skimage import data

        crop = data.astronaut()[30:230, 150:350]
        return np.asarray(Image.fromarray(crop).resize((size, size)))
    except Exception:  # pragma: no cover - scikit-image is in the main lock
        return _RNG.integers(0, 255, (size, size, 3), dtype=np.uint8)


def _image(path: Path, *, grey: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = _face_pixels()
    Image.fromarray(pixels.mean(axis=2).astype(np.uint8) if grey else pixels).save(path)
    return path


# ---------------------------------------------------------------- builders of official layouts

WIDER_TRAIN_GT = """0--Parade/0_Parade_marchingband_1_5.jpg
2
449 330 122 149 0 0 0 0 0 0 
361 98 263 339 2 1 0 0 1 1 
12--Group/12_Group_Group_12_Group_Group_12_10.jpg
0
0 0 0 0 0 0 0 0 0 0 
0--Parade/0_Parade_Parade_0_2.jpg
1
78 221 7 8 2 0 0 0 0 0 
"""
WIDER_VAL_GT = """1--Handshaking/1_Handshaking_Handshaking_1_1.jpg
3
10 20 30 40 0 0 1 0 2 0 
50 60 70 80 1 0 0 1 0 1 
5 5 6 6 0 1 0 0 0 0 
"""


def make_wider(root: Path, *, test: bool = False) -> Path:
    for split, gt in (("train", WIDER_TRAIN_GT), ("val", WIDER_VAL_GT)):
        for line in gt.splitlines():
            if line.endswith(".jpg"):
                _image(root / f"WIDER_{split}" / "images" / line)
        (root / "wider_face_split").mkdir(parents=True, exist_ok=True)
        (root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt").write_text(gt)
    if test:
        names = ["2--Demonstration/2_Demonstration_Protesters_2_1.jpg", "2--Demonstration/2_Demonstration_Protesters_2_9.jpg"]
        for name in names:
            _image(root / "WIDER_test" / "images" / name)
        (root / "wider_face_split" / "wider_face_test_filelist.txt").write_text("\n".join(names) + "\n")
    return root


def _npy(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array(value))


def make_affectnet(root: Path) -> Path:
    """train_set/val_set layout; codes stored as strings like the release does (and one as an integer)."""
    samples = {"train_set": [("0", "1", "0.5", "-0.25"), ("1", 7, "-0.1", "0.3"), ("17", "0", "0", "0")],
               "val_set": [("100", "6", "-0.8", "0.9"), ("101", "3", "0.1", "0.8")]}
    for split_dir, items in samples.items():
        for image_id, exp, val, aro in items:
            _image(root / split_dir / "images" / f"{image_id}.jpg")
            _npy(root / split_dir / "annotations" / f"{image_id}_exp.npy", exp)
            _npy(root / split_dir / "annotations" / f"{image_id}_val.npy", val)
            _npy(root / split_dir / "annotations" / f"{image_id}_aro.npy", aro)
            _npy(root / split_dir / "annotations" / f"{image_id}_lnd.npy", np.zeros(136, dtype=np.float32))
    return root


def make_affectnet_csv(root: Path) -> Path:
    header = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n"
    train = [("689/737db2483489148d783ef278f43f486c0a97e140fc4b6b61b84363ca.jpg", 4, 0.5, 0.2),
             ("392/c4db2f9b7e4b422d14b6e038f0cdc3ecee239b55326e9181ee4520f9.jpg", 8, 0.0, 0.0),
             ("468/21772b68dc8c2a11678c8739eca33adb6ccc658600e4da2224080603.jpg", 2, -0.6, 0.3)]
    val = [("3/abc.jpg", 5, -0.7, 0.6), ("3/def.png", 10, -2, -2)]
    for name, rows in (("training.csv", train), ("validation.csv", val)):
        lines = [header]
        for path, exp, v, a in rows:
            _image(root / "Manually_Annotated_Images" / path)
            lines.append(f'{path},10,12,100,100,"1.0;2.0;3.0",{exp},{v},{a}\n')
        (root / "Manually_Annotated_file_lists").mkdir(parents=True, exist_ok=True)
        (root / "Manually_Annotated_file_lists" / name).write_text("".join(lines))
    return root


#: subject -> [(sequence, number of frames, emotion code or None)]
CK_SEQUENCES = {
    "S005": [("001", 11, 3)],
    "S010": [("002", 14, 7), ("004", 19, 1), ("006", 9, None)],
    "S011": [("001", 16, 6), ("002", 12, 5)],
    "S014": [("001", 8, 2), ("003", 10, 4)],
    "S022": [("005", 17, 5)],
    "S026": [("001", 6, 7), ("003", 13, 3)],
    "S032": [("004", 21, 6)],
}


def make_ckplus(root: Path, *, images: str = "cohn-kanade-images", emotion: str = "Emotion") -> Path:
    for subject, sequences in CK_SEQUENCES.items():
        for sequence, frames, code in sequences:
            for f in range(1, frames + 1):
                _image(root / images / subject / sequence / f"{subject}_{sequence}_{f:08d}.png", grey=True)
            label_dir = root / emotion / subject / sequence
            label_dir.mkdir(parents=True, exist_ok=True)  # unlabelled sequences keep an empty folder
            if code is not None:
                (label_dir / f"{subject}_{sequence}_{frames:08d}_emotion.txt").write_text(f"   {code:.7e}\n")
    return root


#: person -> (age group, gender)
FACES_PERSONS = {"004": ("o", "m"), "010": ("y", "f"), "025": ("m", "m"), "066": ("m", "f"),
                 "113": ("y", "m"), "140": ("o", "f"), "171": ("y", "f"), "183": ("o", "m")}


def make_faces(root: Path) -> Path:
    for person, (age, gender) in FACES_PERSONS.items():
        for expression in "adfhns":
            for picture_set in "AB":
                _image(root / f"{age}_{gender}" / f"{person}_{age}_{gender}_{expression}_{picture_set}.jpg")
    return root


def _attr_line(name: str, values: list[int]) -> str:
    return name + " " + " ".join(f"{v:2d}" for v in values)  # the release pads +1 to " 1", giving double spaces


CELEBA_IMAGES = ["000001.jpg", "000002.jpg", "000003.jpg", "162771.jpg", "162772.jpg", "182638.jpg"]
CELEBA_PARTITION = [0, 0, 0, 1, 1, 2]
CELEBA_IDENTITY = [2880, 2937, 8692, 2880, 5805, 1006]


def _celeba_values(i: int) -> list[int]:
    return [1 if (i + k) % 3 == 0 else -1 for k in range(40)]


def make_celeba(root: Path, *, drive_layout: bool = False) -> Path:
    names = load_dataset("celeba").class_names
    anno = root / "Anno" if drive_layout else root
    evald = root / "Eval" if drive_layout else root
    images = root / "Img" / "img_align_celeba" if drive_layout else root / "img_align_celeba"
    anno.mkdir(parents=True, exist_ok=True)
    evald.mkdir(parents=True, exist_ok=True)
    lines = [str(len(CELEBA_IMAGES)), " ".join(names) + " "]
    lines += [_attr_line(n, _celeba_values(i)) for i, n in enumerate(CELEBA_IMAGES)]
    (anno / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (evald / "list_eval_partition.txt").write_text(
        "".join(f"{n} {p}\n" for n, p in zip(CELEBA_IMAGES, CELEBA_PARTITION)))
    (anno / "identity_CelebA.txt").write_text("".join(f"{n} {i}\n" for n, i in zip(CELEBA_IMAGES, CELEBA_IDENTITY)))
    for name in CELEBA_IMAGES:
        _image(images / name)
    return root


BUILDERS = {"wider-face": make_wider, "affectnet": make_affectnet, "ckplus": make_ckplus, "faces": make_faces,
            "celeba": make_celeba}


# ---------------------------------------------------------------- registry and manifest consistency


def test_every_manifest_has_a_registered_reader() -> None:
    assert DATASETS.names() == ["affectnet", "celeba", "ckplus", "faces", "samples", "wider-face"]
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
    _npy(root / "train_set/annotations/0_exp.npy", "12")
    _image(root / "val_set/images/101.jpg")
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
    _image(root / "thumbnails" / "overview.jpg")  # not a FACES picture: ignored with a warning
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
    _image(empty / "holiday.jpg")
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
        expected = [(v + 1) // 2 for v in _celeba_values(i)]
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
