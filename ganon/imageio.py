"""Reading and writing photos safely: upright uint8 RGB in, metadata-free atomic files out.

``read_image`` turns whatever Pillow can decode among the common photo formats (greyscale, 16-bit,
palette, CMYK, EXIF-rotated, animated) into ganon's RGB convention, or raises ``ImageReadError`` with
a short human reason. ``write_image`` never writes EXIF, GPS, XMP, ICC or comments (an anonymized
photo must not carry its owner's metadata or a thumbnail of the original), and never leaves a
half-written or zero-byte file behind.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import stat
import secrets
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

#: File name endings treated as images when folders are walked (compared case-insensitively).
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
)

#: Default for ``--max-pixels``: 120 MP, enough for any camera photo, small enough to refuse bombs.
DEFAULT_MAX_PIXELS = 120_000_000

#: Pillow decoders we accept. An allowlist keeps exotic plugins (EPS runs Ghostscript) away from
#: untrusted files. "JPEG" also opens MPO, the multi-picture JPEG that many phones and cameras write.
READ_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
# What Pillow's plugins raise on malformed data (beyond UnidentifiedImageError).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    struct.error,
    ZeroDivisionError,
    OverflowError,
)

#: Output format per suffix, and the formats that can store an alpha channel.
WRITE_FORMATS: dict[str, str] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".gif": "GIF",
}
ALPHA_FORMATS: frozenset[str] = frozenset({"PNG", "WEBP", "TIFF"})

_GREY_16 = ("I;16", "I;16L", "I;16B", "I;16N")
# Pillow's decompression-bomb limit and truncated-file switch are module globals; we change them only
# for the duration of a read, under this lock.
_PILLOW_GLOBALS = threading.Lock()


class ImageReadError(ValueError):
    """A file that cannot be used as an input photo; ``str()`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self):  # keep it picklable for worker processes
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class LoadedImage:
    """A decoded photo in ganon's convention plus what was done to get there.

    ``rgb`` is upright (EXIF orientation applied) uint8 (H, W, 3); ``alpha`` is uint8 (H, W) or None.
    ``mode``, ``format`` and ``bit_depth`` describe the file as stored; ``size`` is (height, width),
    like ``rgb.shape[:2]`` and ``AlignedFace.source_size``.
    """

    rgb: np.ndarray = field(repr=False)
    alpha: np.ndarray | None = field(repr=False)
    path: Path
    format: str
    mode: str
    bit_depth: int
    exif_rotated: bool = False
    n_frames: int = 1
    icc_converted: bool = False

    def __post_init__(self) -> None:
        if self.rgb.dtype != np.uint8 or self.rgb.ndim != 3 or self.rgb.shape[2] != 3:
            raise ValueError(f"rgb must be uint8 (H, W, 3), got {self.rgb.dtype} {self.rgb.shape}")
        if self.alpha is not None and (
            self.alpha.dtype != np.uint8 or self.alpha.shape != self.rgb.shape[:2]
        ):
            raise ValueError(
                f"alpha must be uint8 {self.rgb.shape[:2]}, got {self.alpha.dtype} {self.alpha.shape}"
            )

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the upright image."""
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


# ----------------------------------------------------------------------------------------------- read


def read_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode one photo into upright uint8 RGB (+ alpha); raise ``ImageReadError`` saying why not.

    Example: ``img = read_image("photo.jpg"); img.rgb.shape  # (H, W, 3)``
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    path = Path(path)
    _check_regular_file(path)
    try:
        handle = open(path, "rb")
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot open ({exc.strerror or exc})") from None
    with handle:
        head = handle.read(1024)
        if not head:
            raise ImageReadError(path, "file is empty")
        handle.seek(0)
        image, n_frames, bit_depth = _open_and_load(handle, path, head, max_pixels)
        try:
            return _to_loaded(image, path, n_frames=n_frames, bit_depth=bit_depth)
        finally:
            image.close()


def _check_regular_file(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        reason = "broken symbolic link" if path.is_symlink() else "file not found"
        raise ImageReadError(path, reason) from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot access ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(path, "is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or stream forever
        raise ImageReadError(path, "not a regular file")
    if info.st_size == 0:
        raise ImageReadError(path, "file is empty")


@contextmanager
def _strict_pillow(max_image_pixels: int | None) -> Iterator[None]:
    """Pillow with truncated files refused and our own pixel limit, restored afterwards."""
    with _PILLOW_GLOBALS:
        saved = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
        if saved[0]:
            logger.debug("Pillow's LOAD_TRUNCATED_IMAGES was enabled elsewhere; ignoring it while reading")
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        Image.MAX_IMAGE_PIXELS = max_image_pixels
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = saved


def _open_and_load(
    handle: io.BufferedReader, path: Path, head: bytes, max_pixels: int
) -> tuple[Image.Image, int, int]:
    """Identify, check the size, count frames and decode the first; every failure becomes ImageReadError."""
    # The header is parsed without Pillow's bomb check so that an oversized image is reported with
    # its real dimensions; nothing is decompressed before our own check below.
    try:
        with _strict_pillow(None):
            image = Image.open(handle, formats=READ_FORMATS)
    except UnidentifiedImageError:
        raise ImageReadError(path, _unidentified_reason(head, path)) from None
    except _DECODE_ERRORS as exc:
        fmt = _format_from_magic(head) or "image"
        raise ImageReadError(path, f"corrupt {fmt} data ({_short(exc)})") from None
    try:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageReadError(path, _too_large_reason(width, height, max_pixels))
        fmt = _family(image.format)
        bit_depth = _bit_depth(image)  # read from the tile list, which loading empties
        try:
            with _strict_pillow(max_pixels):
                n_frames = _frame_count(image, path)  # seeks, so before the first frame is decoded
                image.load()
        except Image.DecompressionBombError:
            raise ImageReadError(
                path, f"image frame is above the limit of {_mp(max_pixels)} MP (--max-pixels)"
            ) from None
        except _DECODE_ERRORS as exc:
            message = str(exc)
            if "truncated" in message or isinstance(exc, EOFError):
                raise ImageReadError(path, f"truncated or corrupt {fmt} data") from None
            raise ImageReadError(path, f"corrupt {fmt} data ({_short(exc)})") from None
    except BaseException:
        image.close()
        raise
    return image, n_frames, bit_depth


def _to_loaded(image: Image.Image, path: Path, *, n_frames: int, bit_depth: int) -> LoadedImage:
    fmt = _family(image.format)
    mode = image.mode
    icc = image.info.get("icc_profile")

    upright, rotated = _upright(image, path)
    rgb, alpha, icc_converted = _to_arrays(upright, path, bit_depth=bit_depth, icc=icc)
    if upright is not image:
        upright.close()
    return LoadedImage(
        rgb=rgb,
        alpha=alpha,
        path=path,
        format=fmt,
        mode=mode,
        bit_depth=bit_depth,
        exif_rotated=rotated,
        n_frames=n_frames,
        icc_converted=icc_converted,
    )


def _upright(image: Image.Image, path: Path) -> tuple[Image.Image, bool]:
    """Apply the EXIF orientation so that pixels are stored the way a viewer shows them."""
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception as exc:  # malformed EXIF: keep the pixels as stored
        logger.warning("%s: unreadable EXIF (%s); orientation not applied", path, _short(exc))
        return image, False
    if orientation not in (2, 3, 4, 5, 6, 7, 8):
        return image, False
    try:
        transposed = ImageOps.exif_transpose(image)
    except Exception as exc:
        raise ImageReadError(path, f"cannot apply EXIF orientation {orientation} ({_short(exc)})") from None
    return transposed, True


def _to_arrays(
    image: Image.Image, path: Path, *, bit_depth: int, icc: bytes | None
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Split any supported mode into uint8 RGB and optional uint8 alpha."""
    mode = image.mode
    alpha: np.ndarray | None = None

    if mode in _GREY_16 or mode in ("I", "F"):
        grey = _scale_to_uint8(np.asarray(image), mode=mode, bit_depth=bit_depth, path=path)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2)), None, False

    has_key = "transparency" in image.info  # palette or colour-key transparency (PNG tRNS, GIF)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (has_key and mode in ("P", "L", "RGB", "1")):
        with_alpha = image if mode in ("RGBA", "LA") else image.convert("RGBA" if mode != "La" else "LA")
        alpha = np.array(with_alpha.getchannel("A"))
        colour = with_alpha.convert("RGB")
    elif mode == "RGB":
        colour = image
    elif mode in ("CMYK", "1", "L", "P", "RGBX", "YCbCr", "HSV"):
        colour = image if mode == "CMYK" else image.convert("RGB")
    else:
        try:
            colour = image.convert("RGB")
        except (ValueError, OSError):
            raise ImageReadError(path, f"unsupported colour mode {mode}") from None

    # Only colour profiles of colour data are applied (a grey profile does not fit the RGB copy).
    colour, icc_converted = _to_srgb(colour, icc if mode in ("RGB", "RGBA", "CMYK") else None, path)
    if colour.mode != "RGB":
        colour = colour.convert("RGB")
    return np.array(colour), alpha, icc_converted


def _to_srgb(colour: Image.Image, icc: bytes | None, path: Path) -> tuple[Image.Image, bool]:
    """Convert from an embedded colour profile to sRGB: the profile is not written back out."""
    if not icc or colour.mode not in ("RGB", "CMYK"):
        return colour, False
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if colour.mode == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return colour, False
        converted = ImageCms.profileToProfile(
            colour, profile, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except Exception as exc:  # broken or unusual profiles: fall back to Pillow's plain conversion
        logger.warning(
            "%s: embedded colour profile not usable (%s); colours taken as sRGB", path, _short(exc)
        )
        return colour, False
    return converted, True


def _scale_to_uint8(values: np.ndarray, *, mode: str, bit_depth: int, path: Path) -> np.ndarray:
    """Map 16-bit, 32-bit integer or float greyscale onto 0..255 by scaling, never by clipping."""
    if mode in _GREY_16 or (mode == "I" and bit_depth == 16):
        return _from_16_bit(values)
    data = values.astype(np.float64)
    if mode == "F":
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if mode == "F" and low >= 0.0 and high <= 1.0:
        return np.rint(data * 255.0).astype(np.uint8)
    if low >= 0.0 and high <= 255.0:
        return np.rint(data).astype(np.uint8)
    if mode == "I" and low >= 0.0 and high <= 65535.0:
        return _from_16_bit(values)
    logger.warning("%s: %s values span %g..%g; stretched linearly to 0..255", path, mode, low, high)
    span = high - low if high > low else 1.0
    return np.rint((data - low) * (255.0 / span)).astype(np.uint8)


def _from_16_bit(values: np.ndarray) -> np.ndarray:
    wide = values.astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)  # round(v * 255 / 65535)


def _bit_depth(image: Image.Image) -> int:
    """Bits per sample as stored (Pillow reduces 16-bit colour to 8 bits while decoding)."""
    if image.mode in _GREY_16:
        return 16
    bits = getattr(image, "tag_v2", {}).get(258) if image.format == "TIFF" else None
    if bits:
        return int(bits[0] if isinstance(bits, tuple) else bits)
    for tile in getattr(image, "tile", ()) or ():
        args = tile.args if hasattr(tile, "args") else tile[3]
        rawmode = args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else "")
        if ";16" in rawmode:
            return 16
    return {"1": 1, "I": 32, "F": 32}.get(image.mode, 8)


def _frame_count(image: Image.Image, path: Path) -> int:
    if not getattr(image, "is_animated", False):
        return 1
    try:
        count = int(getattr(image, "n_frames", 1))
    except Exception as exc:  # a damaged later frame does not spoil the first one
        logger.warning("%s: could not count frames (%s)", path, _short(exc))
        count = 2
    finally:
        with suppress(Exception):
            image.seek(0)
    logger.info("%s: %d frames; using the first", path, count)
    return count


# ------------------------------------------------------------------------------------- error reasons


def _family(fmt: str | None) -> str:
    return "JPEG" if fmt == "MPO" else (fmt or "image")


def _format_from_magic(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:2] == b"BM":
        return "BMP"
    return None


def _unidentified_reason(head: bytes, path: Path) -> str:
    """Name what the bytes look like, since a wrong or missing format is the usual story."""
    magic = _format_from_magic(head)
    if magic is not None:
        return f"corrupt {magic} data (header not readable)"
    brand = head[8:12] if head[4:8] == b"ftyp" else b""
    other = [
        (
            brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc"),
            "unsupported format (HEIC/HEIF); convert it to JPEG or PNG first",
        ),
        (brand in (b"avif", b"avis"), "unsupported format (AVIF); convert it to JPEG or PNG first"),
        (head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")), "unsupported format (JPEG XL)"),
        (head.startswith(b"\x00\x00\x00\x0cjP  "), "unsupported format (JPEG 2000)"),
        (head.startswith(b"8BPS"), "unsupported format (Photoshop PSD)"),
        (head.startswith(b"%PDF"), "not an image (a PDF document)"),
        (head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")), "unsupported format (PostScript/EPS)"),
        (head.startswith(b"PK\x03\x04"), "not an image (a ZIP archive)"),
        (bool(brand), "not an image (looks like a video or other media file)"),
    ]
    for matched, reason in other:
        if matched:
            return reason
    text = _as_text(head)
    if text is not None:
        lowered = text.lstrip("\ufeff \t\r\n").lower()
        if "<svg" in lowered[:1024]:
            return "unsupported format (SVG vector drawing)"
        if lowered.startswith(("<!doctype html", "<html")) or "<html" in lowered or "<head" in lowered:
            return "not an image (looks like HTML text)"
        return "not an image (looks like text)"
    suffix = path.suffix.lower()
    if suffix:
        return f"not a recognised image format (the contents do not match the {suffix} suffix)"
    return "not a recognised image format"


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multibyte character cut at the end of the sample is fine
        if exc.start < len(head) - 4:
            return None
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
    return text if text and printable / len(text) > 0.95 else None


def _too_large_reason(width: int, height: int, max_pixels: int) -> str:
    total, limit = _mp(width * height), _mp(max_pixels)
    if total == limit:  # rounding made them look equal
        total, limit = f"{width * height:,} pixels", f"{max_pixels:,} pixels"
    else:
        total, limit = f"{total} MP", f"{limit} MP"
    return f"image is {width}x{height} = {total}, above the limit of {limit} (--max-pixels)"


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.3g}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------------------------------------- write


def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    like: LoadedImage | None = None,
    overwrite: bool = False,
    jpeg_quality: int = 95,
) -> Path:
    """Write uint8 RGB (+ alpha) atomically, in the format of the suffix, with no metadata at all.

    ``like`` is the image this one was made from: its alpha channel is reused when ``alpha`` is not
    given and the sizes agree. Formats without alpha (JPEG, BMP, GIF) get the image flattened on
    black, with a warning. ``jpeg_quality`` also sets the WebP quality. Refuses to replace an existing
    file unless ``overwrite``. Returns the path written.
    """
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"{path}: cannot choose an image format from the suffix {path.suffix!r}; "
            f"use one of {', '.join(sorted(WRITE_FORMATS))}"
        )
    if not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(
            f"{path}: rgb must be a non-empty uint8 (H, W, 3) array, got {rgb.dtype} {rgb.shape}"
        )
    if alpha is None and like is not None and like.alpha is not None and like.alpha.shape == rgb.shape[:2]:
        alpha = like.alpha
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.dtype != np.uint8 or alpha.shape != rgb.shape[:2]:
            raise ValueError(f"{path}: alpha must be uint8 {rgb.shape[:2]}, got {alpha.dtype} {alpha.shape}")
    _refuse_existing(path, overwrite=overwrite)  # fail before spending time on encoding

    if alpha is not None and fmt not in ALPHA_FORMATS:
        logger.warning("%s: %s has no alpha channel; transparent areas flattened on black", path, fmt)
        rgb = _flatten_on_black(rgb, alpha)
        alpha = None
    pixels = np.dstack([rgb, alpha]) if alpha is not None else rgb
    image = Image.fromarray(np.ascontiguousarray(pixels), mode="RGBA" if alpha is not None else "RGB")

    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **_save_options(fmt, jpeg_quality))  # a fresh image: info is empty
    data = buffer.getvalue()
    if not data:
        raise OSError(errno.EIO, f"{fmt} encoder produced no data", str(path))
    write_bytes_atomic(path, data, overwrite=overwrite)
    return path


def _save_options(fmt: str, quality: int) -> dict[str, object]:
    if fmt == "JPEG":
        return {"quality": int(quality)}
    if fmt == "WEBP":
        return {"quality": int(quality)}
    if fmt == "TIFF":
        return {"compression": "tiff_deflate"}
    return {}


def _flatten_on_black(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    weighted = rgb.astype(np.uint32) * alpha[:, :, None].astype(np.uint32)
    return ((weighted + 127) // 255).astype(np.uint8)


def _refuse_existing(path: Path, *, overwrite: bool) -> None:
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a folder is in the way of the output file", str(path))
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(
            errno.EEXIST, "refusing to overwrite an existing file (use --overwrite)", str(path)
        )


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` all at once or not at all (temp file in the same folder, fsync, rename).

    Without ``overwrite`` an existing file is never replaced, even one that appears while writing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _refuse_existing(path, overwrite=overwrite)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_without_clobbering(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_folder(path.parent)
    return path


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new hidden file beside ``path``, opened for writing, with the mode the process umask allows.

    Opened with mode 0o666 so the kernel applies the umask, as for any ordinary new file; the umask
    itself is never read or changed (changing it is process-wide and races with other threads).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not create a temporary file", str(path.parent))


def _publish_without_clobbering(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)  # fails atomically if the name exists
    except FileExistsError:
        raise FileExistsError(
            errno.EEXIST, "refusing to overwrite an existing file (use --overwrite)", str(path)
        ) from None
    except OSError:  # file systems without hard links: check, then rename
        if os.path.lexists(path):
            raise FileExistsError(
                errno.EEXIST, "refusing to overwrite an existing file (use --overwrite)", str(path)
            ) from None
        os.replace(tmp, path)


def _fsync_folder(folder: Path) -> None:
    with suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
