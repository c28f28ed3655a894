"""Silence the native (C++) log lines of third-party models so the CLI prints only its own.

MediaPipe and TF Lite write through absl/glog straight to file descriptor 2 while a graph is built
and on its first run, before any Python-level setting can reach them; the only lever is the descriptor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point fd 2 at /dev/null for the block (unless ``GANON_NATIVE_LOGS=1`` or -vv debugging)."""
    if os.environ.get("GANON_NATIVE_LOGS") == "1" or logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor (e.g. captured in a notebook)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
