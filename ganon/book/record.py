"""The run record: which machine, which package versions and which commit ran the book, and how long
each notebook took (``book/generated/run_record.json``, written by the runner, read by the report)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from ganon.book.paths import GENERATED_DIR, RUN_RECORD_FILE, read_json

__all__ = ["RECORDED_PACKAGES", "hardware_info", "load_run_record", "package_versions", "run_record_tables"]

#: Packages whose versions the run record keeps (distribution names).
RECORDED_PACKAGES: tuple[str, ...] = (
    "ganon", "torch", "torchvision", "mediapipe", "numpy", "opencv-python-headless", "onnxruntime",
    "pandas", "scipy", "papermill", "jupytext", "jupyter-book",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> list[dict[str, str]]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, memory, driver = (part.strip() for part in line.split(",", 2))
        gpus.append({"name": name, "memory": memory, "driver": driver})
    return gpus


def hardware_info() -> dict[str, Any]:
    """CPU model, cores, memory, GPUs (from nvidia-smi, without importing torch) and the OS."""
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": memory_gb,
        "gpus": _gpus(),
        "platform": platform.platform(),
        "hostname": platform.node(),
    }


def package_versions(packages: Sequence[str] = RECORDED_PACKAGES) -> dict[str, str | None]:
    """Python's version and each installed distribution's version (None when not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(root: Path) -> str | None:
    """The commit checked out at ``root``, or None outside a git work tree."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def load_run_record(path: Path | str = GENERATED_DIR / RUN_RECORD_FILE) -> dict[str, Any]:
    """The run record written by ``run_book`` (empty dict when there is none)."""
    return read_json(Path(path))


def run_record_tables(record: Mapping[str, Any]) -> dict[str, Any]:
    """The run record as small DataFrames: ``profile``, ``hardware``, ``notebooks``, ``versions``."""
    import pandas as pd

    profile = record.get("profile") or {}
    flat = {}
    for key, value in profile.items():
        if isinstance(value, dict) and key not in {"expected_gpu_hours", "notebooks", "datasets"}:
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        elif key not in {"expected_gpu_hours", "notebooks"}:
            flat[key] = json.dumps(value) if isinstance(value, dict) else value
    hardware = dict(record.get("hardware") or {})
    gpus = hardware.pop("gpus", []) or []
    hardware["gpus"] = "; ".join(f"{g['name']} ({g['memory']})" for g in gpus) or "none"
    hours = profile.get("expected_gpu_hours", {}) or {}
    versions = record.get("versions") or {}
    notebooks = pd.DataFrame([
        {"notebook": stem, "status": entry.get("status"), "profile": entry.get("profile"),
         "wall time [s]": entry.get("wall_s"), "expected GPU hours": hours.get(stem)}
        for stem, entry in (record.get("notebooks") or {}).items()
    ])
    return {
        "profile": pd.DataFrame({"value": [str(v) for v in flat.values()]}, index=list(flat)),
        "hardware": pd.DataFrame({"value": [str(v) for v in hardware.values()]}, index=list(hardware)),
        "notebooks": notebooks,
        "versions": pd.DataFrame({"version": [v or "not installed" for v in versions.values()]},
                                 index=list(versions)),
    }
