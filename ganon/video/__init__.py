"""Videos: decoding and encoding (``io``), face tracks (``tracking``), smoothing along a track
(``smoothing``) and the tracked anonymizer (``anonymize``). Not in the paper, which treats photos only."""

from __future__ import annotations

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm"})

__all__ = ["VIDEO_SUFFIXES"]
