"""ganon.imageio: every awkward input a user can hand us, and outputs that carry no metadata."""

from __future__ import annotations

import io
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from ganon.imageio import (
    IMAGE_SUFFIXES,
    ImageReadError,
    LoadedImage,
    read_image,
    write_bytes_atomic,
    write_image,
)


def _asymmetric(height: int = 48, width: int = 80, block: int = 16) -> np.ndarray:
    """Flat colour blocks that differ everywhere, so any flip or rotation shows (and survives JPEG)."""
    rows, cols = height // block, width // block
    colours = np.array(
        [
            [
                (37 * (r * cols + c) + 20) % 256,
                (91 * (r * cols + c) + 60) % 256,
                (17 * (r * cols + c) + 200) % 256,
            ]
            for r in range(rows)
            for c in range(cols)
        ],
        dtype=np.uint8,
    ).reshape(rows, cols, 3)
    return np.repeat(np.repeat(colours, block, axis=0), block, axis=1)


def _jpeg_bytes(array: np.ndarray, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=95, **save)
    return buffer.getvalue()


def _upright_from_stored(stored: np.ndarray, orientation: int) -> np.ndarray:
    """What a viewer shows for ``stored`` with this EXIF orientation (by the tag's row 0 / column 0 rule)."""
    h, w = stored.shape[:2]
    ys, xs = np.indices((w, h) if orientation >= 5 else (h, w))
    # (row of the stored pixel, column of the stored pixel) for each displayed pixel (y, x)
    index = {
        1: (ys, xs),
        2: (ys, w - 1 - xs),
        3: (h - 1 - ys, w - 1 - xs),
        4: (h - 1 - ys, xs),
        5: (xs, ys),
        6: (h - 1 - xs, ys),
        7: (h - 1 - xs, w - 1 - ys),
        8: (xs, w - 1 - ys),
    }[orientation]
    return stored[index]


# ---------------------------------------------------------------------------------------------- reading


def test_reads_real_sample_photos(samples_dir: Path) -> None:
    photo = read_image(samples_dir / "photos" / "grace_hopper.jpg")
    with Image.open(samples_dir / "photos" / "grace_hopper.jpg") as reference:
        expected = np.asarray(reference.convert("RGB"))
    assert photo.format == "JPEG" and photo.mode == "RGB" and photo.bit_depth == 8
    assert photo.size == (600, 512) and photo.rgb.shape == (600, 512, 3) and photo.alpha is None
    np.testing.assert_array_equal(photo.rgb, expected)
    assert photo.rgb.flags.writeable and photo.rgb.flags.c_contiguous

    grey = read_image(samples_dir / "photos" / "bw_human.jpg")  # a real greyscale JPEG
    assert grey.mode == "L" and grey.rgb.shape[2] == 3
    assert np.array_equal(grey.rgb[..., 0], grey.rgb[..., 1]) and np.array_equal(
        grey.rgb[..., 1], grey.rgb[..., 2]
    )

    with_alpha = read_image(samples_dir / "photos" / "image_with_alpha.png")  # RGBA with a display profile
    assert (
        with_alpha.mode == "RGBA"
        and with_alpha.alpha is not None
        and with_alpha.alpha.shape == with_alpha.size
    )
    assert with_alpha.icc_converted  # its colours were mapped to sRGB, since the profile is not written out


def test_greyscale_l(tmp_path: Path) -> None:
    grey = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    loaded = read_image(tmp_path / "g.png")
    assert loaded.mode == "L" and loaded.alpha is None
    for channel in range(3):
        np.testing.assert_array_equal(loaded.rgb[..., channel], grey)


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    row = np.array([0, 257, 32768, 65280, 65535], dtype=np.uint16)
    gradient = np.tile(np.linspace(0, 65535, 300).astype(np.uint16), (5, 1))
    gradient[:, :5] = row
    Image.fromarray(gradient).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as check:
        assert check.mode.startswith("I;16")  # the file really is 16-bit

    loaded = read_image(tmp_path / "g16.png")
    assert loaded.bit_depth == 16
    assert loaded.rgb[0, :5, 0].tolist() == [0, 1, 128, 254, 255]
    values = loaded.rgb[0, 5:, 0].astype(int)
    assert (
        np.all(np.diff(values) >= 0) and values.max() == 255 and len(np.unique(values)) > 200
    )  # gradient kept


def test_16_bit_rgb_tiff_and_32_bit_modes(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    ramp = np.linspace(0, 65535, 256).astype(np.uint16)
    rgb16 = np.stack([np.tile(ramp, (4, 1))] * 3, axis=-1)
    tifffile.imwrite(tmp_path / "rgb16.tif", rgb16, photometric="rgb")
    loaded = read_image(tmp_path / "rgb16.tif")
    assert loaded.bit_depth == 16 and loaded.rgb.shape == (4, 256, 3)
    assert np.abs(loaded.rgb[0, :, 0].astype(int) - np.rint(ramp / 257).astype(int)).max() <= 1
    assert loaded.rgb[0, -1, 0] == 255

    cv2 = pytest.importorskip("cv2")
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[..., ::-1])  # Pillow cannot write 16-bit colour PNG
    png = read_image(tmp_path / "rgb16.png")
    assert png.bit_depth == 16 and png.mode == "RGB"
    assert np.abs(png.rgb[0, :, 2].astype(int) - np.rint(ramp / 257).astype(int)).max() <= 1

    Image.fromarray(np.tile(np.linspace(0, 1, 64, dtype=np.float32), (3, 1))).save(tmp_path / "f.tif")
    floats = read_image(tmp_path / "f.tif")
    assert floats.mode == "F" and floats.rgb[0, 0, 0] == 0 and floats.rgb[0, -1, 0] == 255

    Image.fromarray(np.tile(np.arange(0, 65536, 1024, dtype=np.int32), (3, 1))).save(tmp_path / "i.tif")
    ints = read_image(tmp_path / "i.tif")
    assert ints.mode == "I" and ints.rgb[0, 32, 0] == 128  # 32768 -> 128, not clipped to 255


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_with_and_without_transparency(tmp_path: Path, transparent: bool) -> None:
    indices = np.tile(np.arange(4, dtype=np.uint8), (3, 2))
    image = Image.fromarray(indices, mode="P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0] + [0] * (256 * 3 - 12))
    options = {"transparency": 2} if transparent else {}
    for name in ("p.png", "p.gif"):
        image.save(tmp_path / name, **options)
        loaded = read_image(tmp_path / name)
        assert loaded.mode == "P"
        np.testing.assert_array_equal(
            loaded.rgb[0, :4], [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]]
        )
        if transparent:
            assert loaded.alpha is not None
            np.testing.assert_array_equal(loaded.alpha[0, :4], [255, 255, 0, 255])
        else:
            assert loaded.alpha is None


def test_rgba_and_la_keep_alpha_separately(tmp_path: Path) -> None:
    rgb = _asymmetric()
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1]).astype(np.uint8), (rgb.shape[0], 1))
    Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA").save(tmp_path / "rgba.png")
    loaded = read_image(tmp_path / "rgba.png")
    np.testing.assert_array_equal(loaded.rgb, rgb)  # colour under transparency is not premultiplied
    np.testing.assert_array_equal(loaded.alpha, alpha)

    grey = rgb[..., 0]
    Image.fromarray(np.dstack([grey, alpha]), mode="LA").save(tmp_path / "la.png")
    loaded = read_image(tmp_path / "la.png")
    assert loaded.mode == "LA"
    np.testing.assert_array_equal(loaded.rgb[..., 1], grey)
    np.testing.assert_array_equal(loaded.alpha, alpha)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    rgb = _asymmetric()
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    with Image.open(tmp_path / "cmyk.jpg") as check:
        assert check.mode == "CMYK"
    loaded = read_image(tmp_path / "cmyk.jpg")
    assert loaded.mode == "CMYK" and loaded.rgb.shape == rgb.shape
    assert np.abs(loaded.rgb.astype(int) - rgb).mean() < 4  # colours come back, not inverted


def test_embedded_colour_profile_is_converted_to_srgb(tmp_path: Path) -> None:
    # A LAB-D50 profile makes the difference obvious: pixels must change once converted to sRGB.
    rgb = _asymmetric()
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(rgb).save(tmp_path / "srgb.png", icc_profile=srgb)
    same = read_image(tmp_path / "srgb.png")
    assert not same.icc_converted
    np.testing.assert_array_equal(same.rgb, rgb)  # sRGB-tagged pixels are left exactly alone
    Image.fromarray(rgb).save(tmp_path / "lab.png", icc_profile=lab)
    converted = read_image(tmp_path / "lab.png")  # an unusable profile must not fail the read
    assert converted.rgb.shape == rgb.shape


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_png_exact(tmp_path: Path, orientation: int) -> None:
    stored = (np.arange(8 * 12 * 3) % 251).astype(np.uint8).reshape(8, 12, 3)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "o.png", exif=exif.tobytes())
    loaded = read_image(tmp_path / "o.png")
    assert loaded.exif_rotated
    np.testing.assert_array_equal(loaded.rgb, _upright_from_stored(stored, orientation))


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_jpeg(tmp_path: Path, orientation: int) -> None:
    stored = _asymmetric(48, 80)
    exif = Image.Exif()
    exif[0x0112] = orientation
    (tmp_path / "o.jpg").write_bytes(_jpeg_bytes(stored, exif=exif.tobytes()))
    loaded = read_image(tmp_path / "o.jpg")
    expected = _upright_from_stored(stored, orientation)
    assert loaded.exif_rotated and loaded.size == (80, 48)
    assert np.abs(loaded.rgb.astype(int) - expected).mean() < 6  # JPEG noise only
    # the wrong rotation is far off: the test can tell 6 from 8
    other = _upright_from_stored(stored, 8 if orientation == 6 else 6)
    assert np.abs(loaded.rgb.astype(int) - other).mean() > 20


def test_orientation_1_is_not_rotated(tmp_path: Path) -> None:
    stored = _asymmetric()
    exif = Image.Exif()
    exif[0x0112] = 1
    (tmp_path / "o.jpg").write_bytes(_jpeg_bytes(stored, exif=exif.tobytes()))
    loaded = read_image(tmp_path / "o.jpg")
    assert not loaded.exif_rotated and loaded.size == stored.shape[:2]


def test_animated_gif_takes_first_frame(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((10, 10, 3), value, np.uint8)) for value in (0, 255, 128)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    loaded = read_image(tmp_path / "anim.gif")
    assert loaded.n_frames == 3 and loaded.format == "GIF"
    assert loaded.rgb.max() == 0


def test_large_8000_square_jpeg(tmp_path: Path) -> None:
    ramp = np.linspace(0, 255, 8000).astype(np.uint8)
    big = np.empty((8000, 8000, 3), np.uint8)
    big[...] = ramp[None, :, None]
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=80)
    del big
    start = time.perf_counter()
    loaded = read_image(tmp_path / "big.jpg")
    elapsed = time.perf_counter() - start
    assert loaded.size == (8000, 8000)
    assert abs(int(loaded.rgb[4000, 7999, 0]) - 255) <= 2 and loaded.rgb[4000, 0, 0] <= 2
    assert elapsed < 20, f"reading took {elapsed:.1f} s"


def test_too_many_pixels_rejected_with_clear_reason(tmp_path: Path) -> None:
    Image.new("RGB", (400, 300)).save(tmp_path / "wide.png")
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / "wide.png", max_pixels=100_000)
    assert info.value.reason == "image is 400x300 = 0.12 MP, above the limit of 0.1 MP (--max-pixels)"
    assert "decompression bomb" not in str(info.value).lower()
    # far above the limit (beyond Pillow's own 2x bomb threshold) the same clear reason
    with pytest.raises(ImageReadError, match=r"400x300 .* above the limit"):
        read_image(tmp_path / "wide.png", max_pixels=1000)
    assert read_image(tmp_path / "wide.png", max_pixels=120_000).size == (300, 400)  # at the limit: fine
    assert Image.MAX_IMAGE_PIXELS not in (None, 1000, 100_000)  # Pillow's setting restored


def _reason(path: Path) -> str:
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(info.value) == f"{path}: {info.value.reason}"
    assert isinstance(info.value, ValueError) and info.value.path == path
    return info.value.reason


def test_bad_inputs_have_human_reasons(tmp_path: Path) -> None:
    photo = _jpeg_bytes(np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8))
    png = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(png, "PNG")

    cases = {
        "missing.jpg": None,
        "empty.jpg": b"",
        "half.jpg": photo[: len(photo) // 2],
        "half.png": png.getvalue()[: len(png.getvalue()) // 2],
        "random.png": np.random.default_rng(2).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "page.jpg": b"<!DOCTYPE html>\n<html><head><title>Photo</title></head><body>gone</body></html>\n",
        "notes.jpg": "just some notes, not a photo \u00e9\n".encode() * 10,
        "photo.heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(100),
        "header_only.jpg": photo[:20],
    }
    for name, data in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    (tmp_path / "x.jpg").mkdir()

    assert _reason(tmp_path / "missing.jpg") == "file not found"
    assert _reason(tmp_path / "empty.jpg") == "file is empty"
    assert _reason(tmp_path / "half.jpg") == "truncated or corrupt JPEG data"
    assert _reason(tmp_path / "half.png") == "truncated or corrupt PNG data"
    assert _reason(tmp_path / "random.png").startswith("not a recognised image format")
    assert _reason(tmp_path / "page.jpg") == "not an image (looks like HTML text)"
    assert _reason(tmp_path / "notes.jpg") == "not an image (looks like text)"
    assert _reason(tmp_path / "photo.heic").startswith("unsupported format (HEIC/HEIF)")
    assert _reason(tmp_path / "header_only.jpg").startswith(("truncated or corrupt JPEG", "corrupt JPEG"))
    assert _reason(tmp_path / "x.jpg") == "is a folder, not an image file"
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_truncated_file_rejected_even_if_another_library_allows_truncation(tmp_path: Path) -> None:
    photo = _jpeg_bytes(np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8))
    (tmp_path / "half.jpg").write_bytes(photo[: len(photo) // 2])
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        assert _reason(tmp_path / "half.jpg") == "truncated or corrupt JPEG data"
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def test_other_formats_are_unsupported_not_decoded(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "x.ico")  # Pillow reads ICO, but it is not on our list
    assert _reason(tmp_path / "x.ico").startswith("not a recognised image format")
    (tmp_path / "a.eps").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    assert _reason(tmp_path / "a.eps") == "unsupported format (PostScript/EPS)"


def test_unreadable_file(tmp_path: Path) -> None:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ganon-perm-"))  # outside pytest's private 0700 folder
    path = folder / "secret.png"
    try:
        folder.chmod(0o755)
        Image.new("RGB", (4, 4)).save(path)
        path.chmod(0)
        if os.geteuid() != 0:
            assert _reason(path) == "permission denied"
            return
        os.seteuid(65534)  # root reads everything: become "nobody" for this one read, then return
        try:
            with pytest.raises(ImageReadError) as info:
                read_image(path)
        finally:
            os.seteuid(0)
        assert info.value.reason == "permission denied"
    finally:
        path.unlink(missing_ok=True)
        folder.rmdir()


def test_read_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(ImageReadError("a/b.jpg", "file is empty")))
    assert str(error) == "a/b.jpg: file is empty" and error.reason == "file is empty"


def test_image_suffixes() -> None:
    assert IMAGE_SUFFIXES == {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def test_image_suffixes_are_defined_once() -> None:
    package = Path(__file__).resolve().parents[1] / "ganon"
    defining = sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if re.search(r"^\s*IMAGE_SUFFIXES\s*[:=]", path.read_text(encoding="utf-8"), re.MULTILINE)
    )
    assert defining == ["imageio.py"]


# ---------------------------------------------------------------------------------------------- writing


def _metadata_rich_jpeg(path: Path, pixels: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = 6  # Orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 8.0, 15.0)
    gps[3] = "E"
    gps[4] = (11.0, 34.0, 0.5)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(pixels).save(
        path,
        quality=95,
        exif=exif.tobytes(),
        icc_profile=icc,
        comment=b"owner: Jane Doe",
        xmp=b"<x:xmpmeta>SecretXMP</x:xmpmeta>",
    )


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tiff", ".bmp", ".gif"])
def test_written_files_carry_no_metadata(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "in.jpg"
    _metadata_rich_jpeg(source, _asymmetric())
    with Image.open(source) as check:  # the input really has all of it
        assert check.getexif().get_ifd(0x8825) and "icc_profile" in check.info and check.info.get("comment")

    loaded = read_image(source)
    target = write_image(tmp_path / f"out{suffix}", loaded.rgb, like=loaded)
    raw = target.read_bytes()
    for secret in (b"SecretCam", b"Jane Doe", b"SecretXMP", b"Exif\x00\x00", b"lcms", b"GPS"):
        assert secret not in raw
    with Image.open(target) as written:
        tags = set(written.getexif())  # for TIFF these are the file's own tags; otherwise the EXIF block
        if suffix == ".tiff":
            structural = {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 338}
            assert tags <= structural, tags - structural  # no Make, Orientation, EXIF/GPS IFD, ICC, XMP
        else:
            assert not tags  # no EXIF at all, so no GPS and no orientation tag
        assert not {"exif", "icc_profile", "comment", "xmp", "XML:com.adobe.xmp"} & set(written.info)
        assert written.size == (48, 80)  # pixels stored upright, no tag needed
    if suffix in (".png", ".tiff", ".bmp"):  # lossless: exactly what was read
        np.testing.assert_array_equal(read_image(target).rgb, loaded.rgb)


def test_real_photo_metadata_dropped_and_alpha_kept(samples_dir: Path, tmp_path: Path) -> None:
    source = samples_dir / "photos" / "image_with_alpha.png"
    with Image.open(source) as check:
        assert "exif" in check.info and "icc_profile" in check.info  # the sample carries both
    loaded = read_image(source)
    ramp = np.linspace(0, 255, loaded.width).astype(np.uint8)
    alpha = np.ascontiguousarray(np.broadcast_to(ramp, loaded.size))
    made = LoadedImage(rgb=loaded.rgb, alpha=alpha, path=source, format="PNG", mode="RGBA", bit_depth=8)
    for suffix in (".png", ".webp", ".tif"):
        target = write_image(tmp_path / f"a{suffix}", loaded.rgb, like=made)  # alpha taken from `like`
        with Image.open(target) as written:
            assert not {"exif", "icc_profile"} & set(written.info)
        again = read_image(target)
        assert again.alpha is not None
        assert np.abs(again.alpha.astype(int) - alpha).max() <= (0 if suffix != ".webp" else 2)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png").rgb, loaded.rgb)


def test_jpeg_with_alpha_is_flattened_on_black(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rgb = np.full((32, 32, 3), 200, np.uint8)
    alpha = np.zeros((32, 32), np.uint8)
    alpha[:, 16:] = 255
    with caplog.at_level("WARNING", logger="ganon.imageio"):
        target = write_image(tmp_path / "flat.jpg", rgb, alpha=alpha)
    assert target.stat().st_size > 0
    assert any("flattened on black" in record.getMessage() for record in caplog.records)
    back = read_image(target)
    assert back.alpha is None
    assert back.rgb[:, :12].max() <= 8 and back.rgb[:, 20:].min() >= 190


_UMASK_PROBE = """
import os, sys
def refuse(mask):
    raise AssertionError("os.umask called")
real_umask, os.umask = os.umask, refuse
import numpy as np
from ganon.imageio import write_image
for mask in (0o022, 0o077):
    real_umask(mask)
    path = write_image(os.path.join(sys.argv[1], f"{mask:o}.png"), np.zeros((4, 4, 3), np.uint8))
    print(oct(os.stat(path).st_mode & 0o777))
"""


def test_written_files_follow_the_umask_which_is_never_touched(tmp_path: Path) -> None:
    """Importing and writing leave the process umask alone; new files get 0o666 less the umask."""
    run = subprocess.run([sys.executable, "-c", _UMASK_PROBE, str(tmp_path)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["0o644", "0o600"]


def test_refuses_to_overwrite_and_leaves_no_temp_files(tmp_path: Path) -> None:
    rgb = _asymmetric()
    target = tmp_path / "deep" / "er" / "out.png"
    write_image(target, rgb)  # creates parent folders
    before = target.read_bytes()
    with pytest.raises(FileExistsError) as info:
        write_image(target, np.zeros_like(rgb))
    assert str(target) in str(info.value)
    assert target.read_bytes() == before  # untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.png"]

    write_image(target, np.zeros_like(rgb), overwrite=True)
    assert read_image(target).rgb.max() == 0
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.png"]
    assert (target.stat().st_mode & 0o777) != 0o600  # not mkstemp's private mode

    (tmp_path / "dir.png").mkdir()
    with pytest.raises(IsADirectoryError):
        write_image(tmp_path / "dir.png", rgb, overwrite=True)
    with pytest.raises(FileExistsError):
        write_bytes_atomic(target, b"x")
    assert read_image(target).rgb.max() == 0
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_write_validates_inputs(tmp_path: Path) -> None:
    rgb = _asymmetric()
    with pytest.raises(ValueError, match="suffix"):
        write_image(tmp_path / "out.heic", rgb)
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "out.png", rgb.astype(np.float32))
    with pytest.raises(ValueError, match="alpha"):
        write_image(tmp_path / "out.png", rgb, alpha=np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match="jpeg_quality"):
        write_image(tmp_path / "out.jpg", rgb, jpeg_quality=0)
    assert list(tmp_path.iterdir()) == []


def test_loaded_image_checks_its_arrays() -> None:
    with pytest.raises(ValueError):
        LoadedImage(
            rgb=np.zeros((4, 4), np.uint8), alpha=None, path=Path("x"), format="PNG", mode="L", bit_depth=8
        )


def test_publishing_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    # The step after the early check: a file created by someone else while we encoded must survive.
    from ganon.imageio import _publish_without_clobbering

    finished = tmp_path / ".out.png.tmp"
    finished.write_bytes(b"ours")
    target = tmp_path / "out.png"
    target.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        _publish_without_clobbering(finished, target)
    assert target.read_bytes() == b"theirs"


def test_concurrent_reads_restore_pillow_settings(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    good = tmp_path / "good.png"
    Image.fromarray(_asymmetric()).save(good)
    photo = _jpeg_bytes(_asymmetric(160, 160))
    (tmp_path / "half.jpg").write_bytes(photo[: len(photo) // 2])
    limit_before = Image.MAX_IMAGE_PIXELS

    def attempt(index: int) -> str:
        path = good if index % 2 else tmp_path / "half.jpg"
        try:
            return f"ok {read_image(path, max_pixels=30_000 + index).size}"
        except ImageReadError as error:
            return error.reason

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    assert outcomes == ["truncated or corrupt JPEG data", "ok (48, 80)"] * 20
    assert Image.MAX_IMAGE_PIXELS == limit_before and ImageFile.LOAD_TRUNCATED_IMAGES is False
