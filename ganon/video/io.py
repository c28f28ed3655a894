"""Frames in and out of video files through the ffmpeg binary that the imageio-ffmpeg wheel ships.

``VideoReader`` yields RGB frames and knows size, frame rate and frame count. ``VideoWriter`` encodes
frames to a temporary file in the output folder, then muxes the input's audio in unchanged
(``-c:a copy``), drops every metadata tag (``-map_metadata -1``) and publishes the result under its
name without ever replacing the input or, unless asked, an existing file.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: Rates that containers store as fractions but ffmpeg prints rounded (23.98, 29.97, 59.94).
_NTSC_RATES = tuple(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120))


class VideoReadError(ValueError):
    """A file that cannot be read as a video; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class VideoWriteError(RuntimeError):
    """ffmpeg could not encode or mux an output video."""


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary inside the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def exact_rate(fps: float) -> Fraction:
    """The frame rate as a fraction, undoing ffmpeg's two-decimal rounding of 24000/1001 and kin."""
    for rate in _NTSC_RATES:
        if abs(float(rate) - fps) < 0.006:
            return rate
    return Fraction(fps).limit_denominator(1001)


@dataclass(frozen=True)
class VideoInfo:
    """What an output must keep of its input: frame size, rate and count, and whether it has audio."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frames: int
    audio_codec: str | None

    @property
    def seconds(self) -> float:
        return self.frames / float(self.fps) if self.fps else 0.0


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's header and count its frames (a stream copy, no decoding); raises VideoReadError."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise VideoReadError(path, "no such file" if not path.exists() else "not a regular file")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "empty file")
    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
        reader.close()
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError, StopIteration, ValueError) as error:
        raise VideoReadError(path, f"not a readable video ({_last_line(error)})") from None
    width, height = (int(v) for v in meta["size"])
    if frames <= 0 or not meta.get("fps"):
        raise VideoReadError(path, "no video frames")
    return VideoInfo(path, width, height, exact_rate(float(meta["fps"])), int(frames), meta.get("audio_codec"))


class VideoReader:
    """Iterate over the RGB frames (H, W, 3) uint8 of a video; ``info`` holds size, rate and count."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.info = probe(self.path)

    def __len__(self) -> int:
        return self.info.frames

    def __iter__(self) -> Iterator[np.ndarray]:
        import imageio_ffmpeg

        width, height = self.info.width, self.info.height
        # passthrough: one frame per coded frame (ffmpeg would otherwise duplicate frames of a
        # variable-rate video to a constant rate, and the count would change)
        reader = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgb24", output_params=["-fps_mode", "passthrough"])
        try:
            next(reader)
            for raw in reader:
                yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
        except RuntimeError as error:
            raise VideoReadError(self.path, f"decoding failed ({_last_line(error)})") from None
        finally:
            reader.close()


def read_frames(path: str | os.PathLike[str], limit: int | None = None) -> list[np.ndarray]:
    """The first ``limit`` frames (all when None) of a video, in memory."""
    frames: list[np.ndarray] = []
    for frame in VideoReader(path):
        frames.append(frame.copy())
        if limit is not None and len(frames) >= limit:
            break
    return frames


_CODECS = {".webm": ("libvpx-vp9", ["-b:v", "0", "-crf", "30", "-row-mt", "1"], "libopus")}
_DEFAULT_CODEC = ("libx264", ["-preset", "medium", "-crf", "18"], "aac")


class VideoWriter:
    """Encode frames into ``path`` (same suffix as given), copying ``audio_from``'s audio unchanged.

    Use as a context manager: frames are encoded to a hidden temporary file beside the target; on a
    clean exit the audio is muxed in and the file appears under its name, otherwise nothing appears.
    """

    def __init__(self, path: str | os.PathLike[str], *, width: int, height: int, fps: Fraction | float,
                 audio_from: str | os.PathLike[str] | None = None, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.width, self.height = width, height
        self.fps = fps if isinstance(fps, Fraction) else exact_rate(float(fps))
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.overwrite = overwrite
        if self.audio_from is not None and _same_file(self.audio_from, self.path):
            raise FileExistsError(errno.EEXIST, "refusing to write a video over its input", str(self.path))
        _refuse_existing(self.path, overwrite=overwrite)
        self.frames = 0
        self._discard = False
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp_video: Path | None = None

    def __enter__(self) -> "VideoWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp_video = _temp_beside(self.path, ".video")
        codec, options, _ = _CODECS.get(self.path.suffix.lower(), _DEFAULT_CODEC)
        # 4:2:0 needs even sizes; 4:4:4 keeps odd ones exactly instead of resizing.
        pix_fmt = "yuv420p" if self.width % 2 == 0 and self.height % 2 == 0 else "yuv444p"
        command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{self.width}x{self.height}",
                   "-r", f"{self.fps.numerator}/{self.fps.denominator}", "-i", "-",
                   "-an", "-c:v", codec, *options, "-pix_fmt", pix_fmt,
                   "-map_metadata", "-1", "-fflags", "+bitexact", "-f", _muxer(self.path), str(self._tmp_video)]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB frame of the writer's size."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"{self.path}: frame {self.frames} is {frame.dtype} {frame.shape}, "
                             f"expected uint8 ({self.height}, {self.width}, 3)")
        assert self._process is not None and self._process.stdin is not None, "use VideoWriter as a context manager"
        try:
            self._process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            raise VideoWriteError(f"{self.path}: the encoder stopped: {self._stderr()}") from None
        self.frames += 1

    def discard(self) -> None:
        """Publish nothing on exit (e.g. a video without faces under ``--on-no-face skip``)."""
        self._discard = True

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._finish_encoding()
            if exc_type is None and not self._discard:
                self._mux_and_publish()
        finally:
            if self._tmp_video is not None:
                with suppress(FileNotFoundError):
                    self._tmp_video.unlink()

    def _finish_encoding(self) -> None:
        process = self._process
        if process is None:
            return
        with suppress(BrokenPipeError):
            assert process.stdin is not None
            process.stdin.close()
        code = process.wait()
        if code != 0:
            raise VideoWriteError(f"{self.path}: encoding failed: {self._stderr()}")

    def _mux_and_publish(self) -> None:
        assert self._tmp_video is not None
        if self.frames == 0:
            raise VideoWriteError(f"{self.path}: no frames were written")
        final = _temp_beside(self.path, "")
        try:
            self._mux(final)
            os.chmod(final, 0o644 & ~_umask())
            _publish(final, self.path, overwrite=self.overwrite)
        finally:
            with suppress(FileNotFoundError):
                final.unlink()

    def _mux(self, final: Path) -> None:
        base = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(self._tmp_video)]
        tail = ["-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact",
                "-f", _muxer(self.path), str(final)]
        if self.audio_from is None:
            _run([*base, "-map", "0:v:0", "-c", "copy", *tail], self.path)
            return
        with_audio = [*base, "-i", str(self.audio_from), "-map", "0:v:0", "-map", "1:a?", "-c:v", "copy"]
        try:
            _run([*with_audio, "-c:a", "copy", *tail], self.path)
        except VideoWriteError as error:
            # The input's audio codec does not fit this container (rare: the suffix is the input's).
            codec = _CODECS.get(self.path.suffix.lower(), _DEFAULT_CODEC)[2]
            logger.warning("%s: audio could not be copied (%s); re-encoding it with %s", self.path, error, codec)
            _run([*with_audio, "-c:a", codec, *tail], self.path)

    def _stderr(self) -> str:
        if self._process is None or self._process.stderr is None:
            return ""
        with suppress(ValueError, OSError):
            return self._process.stderr.read().decode("utf-8", "replace").strip()[-400:]
        return ""


def _run(command: list[str], path: Path) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise VideoWriteError(f"{path}: ffmpeg failed: {result.stderr.strip()[-400:]}")


def _muxer(path: Path) -> str:
    return {".mp4": "mp4", ".mov": "mov", ".avi": "avi", ".mkv": "matroska", ".webm": "webm"}.get(
        path.suffix.lower(), "mp4")


def _temp_beside(path: Path, tag: str) -> Path:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}{tag}.", suffix=path.suffix)
    os.close(fd)
    return Path(name)


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    with suppress(OSError):
        return os.path.samefile(a, b)
    return False


def _refuse_existing(path: Path, *, overwrite: bool) -> None:
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a folder is in the way of the output file", str(path))
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "refusing to overwrite an existing file (use --overwrite)", str(path))


def _publish(tmp: Path, path: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic, and fails if the name appeared meanwhile
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "refusing to overwrite an existing file (use --overwrite)",
                              str(path)) from None
    except OSError:
        _refuse_existing(path, overwrite=False)
        os.replace(tmp, path)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(error).__name__


def stream_summary(path: str | os.PathLike[str]) -> str:
    """ffmpeg's own description of a file's streams and tags (for tests and debugging)."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return result.stderr
