"""Appearance codes for the seeded generator variant: drawn from a seed and a key, never from a face.

A code is N(0, I) of the generator's ``code_dim`` (the DCGAN latent that supervised it in training),
drawn from a stream named by the run's seed and a key that says who shares it (``identity``):
``per-face`` and ``per-track`` one per face of a photo (a video's face is its track), ``per-file`` one
per photo, ``fixed`` one for the whole run; in a video every policy but ``fixed`` gives one code per
track, numbered in order of appearance (a per-face code would change the face every frame). Keys are relative file names and face indices, so a rerun
with the same seed gives the same codes and files. Numpy only: the ONNX path never imports torch.
"""

from __future__ import annotations

import hashlib
import secrets
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["IDENTITIES", "CodeSource", "Identity", "check_codes", "check_seed", "draw_code"]

Identity = Literal["per-face", "per-file", "per-track", "fixed"]
IDENTITIES: tuple[str, ...] = ("per-face", "per-file", "per-track", "fixed")
#: Seeds are stored in JSON reports and passed on the command line: keep them within 63 bits.
MAX_SEED = 2**63 - 1


def check_seed(owner: str, seed: object) -> None:
    """Raise ``ValueError`` unless ``seed`` is None or an integer in [0, 2**63)."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"{owner}.seed must be None or an integer in [0, 2**63), got {seed!r}")


def check_codes(codes: Sequence[np.ndarray] | np.ndarray | None, n: int, code_dim: int) -> np.ndarray | None:
    """Codes as a float32 (n, code_dim) array for a coded generator; None for an un-coded one."""
    if code_dim == 0:
        return None
    if codes is None:
        raise ValueError(f"this generator takes an appearance code of {code_dim} values per face; pass "
                         "codes (ganon.pipeline.synthesize_codes.CodeSource draws them from a seed)")
    array = np.asarray(codes, dtype=np.float32) if n else np.zeros((0, code_dim), np.float32)
    if array.shape != (n, code_dim) or not np.isfinite(array).all():
        raise ValueError(f"expected {n} finite codes of {code_dim} values, got shape {array.shape}")
    return np.ascontiguousarray(array)


def draw_code(seed: int, key: tuple[object, ...], dim: int) -> np.ndarray:
    """The float32 code of ``key`` under ``seed``: a standard normal vector from its own stream."""
    name = "\x1f".join(str(part) for part in (seed, *key)).encode("utf-8")
    entropy = int.from_bytes(hashlib.sha256(name).digest(), "big")
    return np.random.default_rng(entropy).standard_normal(dim).astype(np.float32)


@dataclass
class CodeSource:
    """The codes of one run: ``seed`` (drawn at random when None, then recorded), sharing by ``identity``.

    With ``dim == 0`` (an un-coded generator) every method returns None: the options have no effect.
    """

    seed: int | None
    identity: str = "per-face"
    dim: int = 0
    seed_given: bool = field(init=False)
    _images: int = field(default=0, init=False, repr=False)
    _tracks: dict[int, tuple[Any, np.ndarray]] = field(default_factory=dict, init=False, repr=False)
    _untracked: int = field(default=0, init=False, repr=False)
    _track_count: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        from ganon.config import check_choice

        check_choice("CodeSource", "identity", self.identity, IDENTITIES)
        check_seed("CodeSource", self.seed)
        self.seed_given = self.seed is not None
        self.seed = int(self.seed) if self.seed is not None else secrets.randbelow(MAX_SEED + 1)

    @property
    def effective(self) -> bool:
        """Whether codes change anything (the generator takes one)."""
        return self.dim > 0

    def image_key(self) -> str:
        """A key for an in-memory image without a file name: its order in this run."""
        self._images += 1
        return f"<image {self._images - 1}>"

    def for_face(self, source: str, face_index: int) -> np.ndarray | None:
        """The code of face ``face_index`` of the photo named ``source`` (relative path)."""
        if not self.effective:
            return None
        key: tuple[object, ...] = {
            "fixed": ("fixed",),
            "per-file": ("file", source),
        }.get(self.identity, ("face", source, int(face_index)))
        return draw_code(self.seed, key, self.dim)  # type: ignore[arg-type]

    def for_tracks(self, tracks: list[object | None]) -> np.ndarray | None:
        """Codes for video faces, one per track object (new tracks numbered in order of appearance).

        A face without a track (untracked video mode) gets a fresh code; ``fixed`` gives the run's code
        to all, every other policy one code per track.
        """
        if not self.effective:
            return None
        codes = []
        for track in tracks:
            if self.identity == "fixed":
                codes.append(draw_code(self.seed, ("fixed",), self.dim))  # type: ignore[arg-type]
            elif track is None:
                self._untracked += 1
                codes.append(draw_code(self.seed, ("untracked", self._untracked), self.dim))  # type: ignore[arg-type]
            else:
                codes.append(self._track_code(track))
        return np.stack(codes) if codes else np.zeros((0, self.dim), np.float32)

    def _track_code(self, track: object) -> np.ndarray:
        """By object identity (track states need not be hashable); numbered on arrival, never reused."""
        known = self._tracks.get(id(track))
        if known is not None and known[0]() is track:
            return known[1]
        for key in [k for k, (ref, _) in self._tracks.items() if ref() is None]:
            del self._tracks[key]  # ended tracks
        code = draw_code(self.seed, ("track", self._track_count), self.dim)  # type: ignore[arg-type]
        self._track_count += 1
        self._tracks[id(track)] = (weakref.ref(track), code)
        return code

    def describe(self) -> dict[str, Any]:
        """What the report records: the seed used, how codes are shared, and whether they had an effect."""
        return {
            "seed": self.seed,
            "seed_given": self.seed_given,
            "identity": self.identity,
            "code_dim": self.dim,
            "effect": ("appearance code from the seed" if self.effective
                       else "none: this generator takes no appearance code (deterministic)"),
        }
