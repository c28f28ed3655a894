"""Shared fixtures: the real sample photos (assembled once from registry packages)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The offline samples dataset (photos, frames, videos); see ganon.data.samples."""
    from ganon.data.samples import ensure_samples

    return ensure_samples(Path(os.environ.get("GANON_SAMPLES", REPO / "samples")))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
