"""Miniature datasets written in the official on-disk layouts (real label-file formats, tiny images).

Shared by the reader tests and the paper-profile book test, which swaps the tiny pictures for real
faces with ``with_real_faces``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ganon.data.manifests import load_dataset
from ganon.imageio import IMAGE_SUFFIXES

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


def tiny_image(path: Path, *, grey: bool = False) -> Path:
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
                tiny_image(root / f"WIDER_{split}" / "images" / line)
        (root / "wider_face_split").mkdir(parents=True, exist_ok=True)
        (root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt").write_text(gt)
    if test:
        names = ["2--Demonstration/2_Demonstration_Protesters_2_1.jpg", "2--Demonstration/2_Demonstration_Protesters_2_9.jpg"]
        for name in names:
            tiny_image(root / "WIDER_test" / "images" / name)
        (root / "wider_face_split" / "wider_face_test_filelist.txt").write_text("\n".join(names) + "\n")
    return root


def write_npy(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array(value))


def make_affectnet(root: Path) -> Path:
    """train_set/val_set layout; codes stored as strings like the release does (and one as an integer)."""
    samples = {"train_set": [("0", "1", "0.5", "-0.25"), ("1", 7, "-0.1", "0.3"), ("17", "0", "0", "0")],
               "val_set": [("100", "6", "-0.8", "0.9"), ("101", "3", "0.1", "0.8")]}
    for split_dir, items in samples.items():
        for image_id, exp, val, aro in items:
            tiny_image(root / split_dir / "images" / f"{image_id}.jpg")
            write_npy(root / split_dir / "annotations" / f"{image_id}_exp.npy", exp)
            write_npy(root / split_dir / "annotations" / f"{image_id}_val.npy", val)
            write_npy(root / split_dir / "annotations" / f"{image_id}_aro.npy", aro)
            write_npy(root / split_dir / "annotations" / f"{image_id}_lnd.npy", np.zeros(136, dtype=np.float32))
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
            tiny_image(root / "Manually_Annotated_Images" / path)
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
                tiny_image(root / images / subject / sequence / f"{subject}_{sequence}_{f:08d}.png", grey=True)
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
                tiny_image(root / f"{age}_{gender}" / f"{person}_{age}_{gender}_{expression}_{picture_set}.jpg")
    return root


def _attr_line(name: str, values: list[int]) -> str:
    return name + " " + " ".join(f"{v:2d}" for v in values)  # the release pads +1 to " 1", giving double spaces


CELEBA_IMAGES = ["000001.jpg", "000002.jpg", "000003.jpg", "162771.jpg", "162772.jpg", "182638.jpg"]
CELEBA_PARTITION = [0, 0, 0, 1, 1, 2]
CELEBA_IDENTITY = [2880, 2937, 8692, 2880, 5805, 1006]


def celeba_values(i: int) -> list[int]:
    return [1 if (i + k) % 3 == 0 else -1 for k in range(40)]


def make_celeba(root: Path, *, drive_layout: bool = False) -> Path:
    names = load_dataset("celeba").class_names
    anno = root / "Anno" if drive_layout else root
    evald = root / "Eval" if drive_layout else root
    images = root / "Img" / "img_align_celeba" if drive_layout else root / "img_align_celeba"
    anno.mkdir(parents=True, exist_ok=True)
    evald.mkdir(parents=True, exist_ok=True)
    lines = [str(len(CELEBA_IMAGES)), " ".join(names) + " "]
    lines += [_attr_line(n, celeba_values(i)) for i, n in enumerate(CELEBA_IMAGES)]
    (anno / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (evald / "list_eval_partition.txt").write_text(
        "".join(f"{n} {p}\n" for n, p in zip(CELEBA_IMAGES, CELEBA_PARTITION)))
    (anno / "identity_CelebA.txt").write_text("".join(f"{n} {i}\n" for n, i in zip(CELEBA_IMAGES, CELEBA_IDENTITY)))
    for name in CELEBA_IMAGES:
        tiny_image(images / name)
    return root


BUILDERS = {"wider-face": make_wider, "affectnet": make_affectnet, "ckplus": make_ckplus, "faces": make_faces,
            "celeba": make_celeba}


def with_real_faces(root: Path, faces: Sequence[np.ndarray], *, size: int = 192) -> int:
    """Overwrite every picture under ``root`` with real faces (cycled, resized; grey stays grey); returns the count."""
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    for path, face in zip(paths, itertools.cycle(faces)):
        grey = Image.open(path).mode == "L"
        picture = Image.fromarray(face).convert("L" if grey else "RGB")
        picture.thumbnail((size, size))
        picture.save(path)
    return len(paths)
