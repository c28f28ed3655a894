"""Drive the companion book: execute the section notebooks under a profile, then build the HTML.

``run_book`` turns every Jupytext ``py:percent`` source in ``notebooks/`` that ``_toc.yml`` lists into
an executed ``book/generated/<stem>.ipynb`` (papermill, kernel ``python3``, cwd = the book root) and
skips notebooks whose inputs did not change; ``build_book`` runs Jupyter Book 1 with warnings as
errors. The last part of the module holds what the reproduction report notebook shows.
"""

from __future__ import annotations

import collections
import copy
import datetime as _dt
import hashlib
import io
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "DEFAULT_WATCH",
    "GENERATED_DIR",
    "RESULTS",
    "BookBuildError",
    "BookRunError",
    "Comparison",
    "DatasetSource",
    "ModelChoice",
    "NotebookResult",
    "Profile",
    "ProfileError",
    "ResultSpec",
    "RunSummary",
    "Sizes",
    "build_book",
    "colab_url",
    "compare_table",
    "comparison_summary",
    "comparison_view",
    "figure_file",
    "find_root",
    "hardware_info",
    "load_profile",
    "load_run_record",
    "package_versions",
    "pair_notebooks",
    "plot_attribute_removal",
    "plot_emotion_distances",
    "record_absent",
    "report_overview",
    "run_book",
    "run_record_tables",
    "show_comparison",
    "show_figure",
    "show_figures",
    "show_table",
    "stem_title",
    "toc_entries",
    "toc_notebooks",
]

logger = logging.getLogger(__name__)

NOTEBOOKS_DIR = Path("notebooks")
GENERATED_DIR = Path("book/generated")
PROFILES_DIR = Path("profiles")
HASHES_FILE = ".hashes.json"
RUN_RECORD_FILE = "run_record.json"
#: Folders whose every file feeds the skip key: the package and the profiles.
DEFAULT_WATCH: tuple[str, ...] = ("ganon", "profiles")
KERNEL_NAME = "python3"
KERNELSPEC = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}
#: Packages whose versions the run record keeps (distribution names).
RECORDED_PACKAGES: tuple[str, ...] = (
    "ganon", "torch", "torchvision", "mediapipe", "numpy", "opencv-python-headless", "onnxruntime",
    "pandas", "scipy", "papermill", "jupytext", "jupyter-book",
)


class BookRunError(RuntimeError):
    """A notebook failed (or could not be run); the message names it and the failing cell."""

    def __init__(self, message: str, *, summary: RunSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


class BookBuildError(RuntimeError):
    """``jupyter-book build`` failed or emitted a warning; the message lists the warnings."""


class ProfileError(ValueError):
    """A profile file is missing or does not validate; the message names the file."""


# --------------------------------------------------------------------------------------------------
# Profiles


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelChoice(_Strict):
    """Which backend runs each role, by registry name (detector, segmenter, ... as in ganon's registries)."""

    detector: str
    segmenter: str
    landmark_style: str = "authors"
    #: Generator weights: a model shipped in ganon/weights_data, a weights manifest name or a file path.
    generator: str
    identity: str
    emotion: str
    attributes: str
    #: Recipe of the classifiers the paper profile trains (a ``CLASSIFIER_PRESETS`` name).
    classifier: str = "paper"
    #: ImageNet start of the ConvNeXt classifiers that the paper profile trains: a weights manifest name
    #: (resolved in ganon's cache), a file path, or None to let timm fetch it from the Hugging Face hub.
    classifier_backbone: str | None = None


class Sizes(_Strict):
    """How much work a profile does: image size, how many images per split, epochs, batches."""

    image_size: int = Field(512, gt=0)
    max_images: int | None = Field(None, gt=0, description="per dataset split; None = all")
    batch_size: int = Field(gt=0)
    gan_epochs: int = Field(ge=0)
    classifier_max_epochs: int = Field(ge=0)
    num_workers: int = Field(0, ge=0)


class DatasetSource(_Strict):
    """One dataset of the paper: its manifest in ``data_manifests/`` and where its files lie."""

    manifest: str
    data_dir: str = Field(description="relative to the profile's data_dir unless absolute")


class Profile(_Strict):
    """A named way to run the whole book (``profiles/<name>.yaml``); its values become notebook parameters."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str
    device: Literal["cpu", "cuda"]
    seed: int = 0
    dataset: Literal["samples", "paper"]
    data_dir: str = "data"
    datasets: dict[str, DatasetSource] = Field(default_factory=dict)
    models: ModelChoice
    sizes: Sizes
    #: Planning estimate per notebook stem, shown next to the measured wall time in the report.
    expected_gpu_hours: dict[str, float] = Field(default_factory=dict)
    #: Extra or overriding parameters for one notebook, by stem (dicts merge into the profile's).
    notebooks: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _datasets_match_source(self) -> Profile:
        if self.dataset == "paper" and not self.datasets:
            raise ValueError("dataset 'paper' needs a 'datasets' mapping (name -> manifest, data_dir)")
        if self.dataset == "samples" and self.datasets:
            raise ValueError("dataset 'samples' takes no 'datasets' mapping")
        return self

    def parameters(
        self,
        stem: str,
        *,
        root: Path,
        data_dir: Path,
        results_dir: Path,
        samples_dir: Path,
        run_record: Path,
        repository_url: str = "",
    ) -> dict[str, Any]:
        """The papermill parameters for one notebook; paths are relative to ``root`` when inside it."""
        datasets = {
            name: {
                "manifest": source.manifest,
                "data_dir": _shown_path(_under(data_dir, source.data_dir), root),
            }
            for name, source in sorted(self.datasets.items())
        }
        params: dict[str, Any] = {
            "profile": self.name,
            "device": self.device,
            "seed": self.seed,
            "dataset": self.dataset,
            "models": self.models.model_dump(),
            "sizes": self.sizes.model_dump(),
            "datasets": datasets,
            "data_dir": _shown_path(data_dir, root),
            "samples_dir": _shown_path(samples_dir, root),
            "results_dir": _shown_path(results_dir, root),
            "run_record": _shown_path(run_record, root),
            "repository_url": repository_url,
        }
        return _deep_merge(params, self.notebooks.get(stem, {}))


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _under(base: Path, path: str | Path) -> Path:
    path = Path(os.path.expandvars(str(path))).expanduser()
    return path if path.is_absolute() else base / path


def _shown_path(path: Path, root: Path) -> str:
    """POSIX path relative to root when inside it (machine-independent keys), else absolute."""
    path = Path(os.path.abspath(path))
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.as_posix()


def load_profile(profile: str | Path, *, root: Path | str = ".") -> Profile:
    """Load ``profiles/<name>.yaml`` (or a YAML path) and validate it; the name must match the file."""
    root = Path(root)
    path = Path(profile)
    if path.suffix not in {".yaml", ".yml"}:
        path = root / PROFILES_DIR / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / PROFILES_DIR).glob("*.yaml"))
        raise ProfileError(f"{path}: no such profile; available: {', '.join(known) or 'none'}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        result = Profile.model_validate(data)
    except (yaml.YAMLError, ValidationError) as err:
        raise ProfileError(f"{path}: invalid profile: {err}") from err
    if result.name != path.stem:
        raise ProfileError(f"{path}: profile name {result.name!r} differs from the file name {path.stem!r}")
    return result


# --------------------------------------------------------------------------------------------------
# Table of contents, titles and the book's configuration


def find_root(start: Path | str = ".") -> Path:
    """The nearest folder at or above ``start`` holding both ``_config.yml`` and ``_toc.yml``."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(f"no _config.yml with _toc.yml at or above {start}")


def _toc_files(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                yield node[key]
        for key in ("parts", "chapters", "sections"):
            yield from _toc_files(node.get(key, []))
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def toc_entries(root: Path | str) -> list[str]:
    """Every document ``_toc.yml`` lists (root first), as written there, in reading order."""
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8")) or {}
    return list(dict.fromkeys(_toc_files(toc)))


def toc_notebooks(root: Path | str, *, generated_dir: Path = GENERATED_DIR) -> list[str]:
    """Stems of the generated notebooks that ``_toc.yml`` lists, in reading order."""
    prefix = generated_dir.as_posix().rstrip("/") + "/"
    stems: list[str] = []
    for entry in toc_entries(root):
        entry = entry.removesuffix(".ipynb")
        if entry.startswith(prefix) and "/" not in entry[len(prefix):]:
            stem = entry[len(prefix):]
            if stem not in stems:
                stems.append(stem)
    return stems


def stem_title(stem: str) -> str:
    """``"3_1_face_extraction"`` -> ``"3.1 Face extraction"`` (section numbers, then words)."""
    parts = stem.split("_")
    numbers = [p for p in parts if p.isdigit()]
    words = " ".join(parts[len(numbers):]) if parts[: len(numbers)] == numbers else " ".join(parts)
    words = words[:1].upper() + words[1:]
    return f"{'.'.join(numbers)} {words}".strip()


def _repository(root: Path) -> dict[str, str]:
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    repository = config.get("repository") or {}
    return {"url": str(repository.get("url", "")), "branch": str(repository.get("branch", "main"))}


def _repository_url(root: Path) -> str:
    return _repository(root)["url"]


def colab_url(root: Path | str, stem: str) -> str | None:
    """Colab's address for ``notebooks/<stem>.ipynb`` on the repository and branch of ``_config.yml``.

    None when the repository is not on GitHub (Colab opens notebooks from GitHub only).
    """
    repository = _repository(Path(root))
    found = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?", repository["url"])
    if not found:
        return None
    return (f"https://colab.research.google.com/github/{found.group(1)}/blob/{repository['branch']}/"
            f"{NOTEBOOKS_DIR.as_posix()}/{stem}.ipynb")


def pair_notebooks(root: Path | str = ".", *, check: bool = False) -> list[Path]:
    """Write ``notebooks/<stem>.ipynb`` beside each toc notebook's Jupytext source, the files Colab opens.

    Returns the notebooks that were (``check``: would be) rewritten because they differ from their source.
    """
    import jupytext

    root = Path(root)
    stale: list[Path] = []
    for stem in toc_notebooks(root):
        source = root / NOTEBOOKS_DIR / f"{stem}.py"
        if not source.is_file():
            continue
        target = source.with_suffix(".ipynb")
        notebook = jupytext.read(source)
        for index, cell in enumerate(notebook.cells):
            cell["id"] = f"cell-{index}"  # stable ids, so an unchanged source gives an identical file
        text = jupytext.writes(notebook, fmt="ipynb")
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            target.write_text(text, encoding="utf-8")
    return stale


# --------------------------------------------------------------------------------------------------
# Input keys (what decides that a notebook is up to date)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_digest(value: Any) -> str:
    return _sha256(json.dumps(value, sort_keys=True, default=str).encode())


def tree_digest(root: Path, folders: Sequence[str | Path]) -> str:
    """One digest over the path and bytes of every file under ``folders`` (hidden files and caches skipped)."""
    digest = hashlib.sha256()
    for folder in folders:
        base = root / folder
        files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []
        for path in files:
            rel = path.relative_to(root)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            if path.suffix in {".pyc", ".pyo"}:
                continue
            digest.update(rel.as_posix().encode() + b"\0" + _sha256(path.read_bytes()).encode() + b"\n")
    return digest.hexdigest()


def _key(components: Mapping[str, str]) -> str:
    return _json_digest(dict(components))


def _changed(old: Mapping[str, Any] | None, new: Mapping[str, str]) -> list[str]:
    if not old:
        return ["no earlier successful run"]
    before = old.get("components", {})
    return [f"{name} changed" for name in new if before.get(name) != new[name]]


# --------------------------------------------------------------------------------------------------
# Machine and package record


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


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError:
        logger.warning("%s is not valid JSON; starting afresh", path)
        return {}


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------------------------------
# Running the notebooks


NotebookStatus = Literal["ran", "skipped", "failed", "missing"]


@dataclass(frozen=True)
class NotebookResult:
    """What happened to one notebook in a run."""

    stem: str
    status: NotebookStatus
    output: Path
    wall_s: float | None = None
    reason: str = ""
    error: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """The outcome of ``run_book``: the profile and one result per notebook, in toc order."""

    profile: str
    results: tuple[NotebookResult, ...] = field(default_factory=tuple)
    record: Path | None = None

    @property
    def failed(self) -> list[NotebookResult]:
        return [r for r in self.results if r.status == "failed"]


def _select(stems: Sequence[str], only: Sequence[str]) -> list[str]:
    if not only:
        return list(stems)
    chosen: list[str] = []
    for name in only:
        name = Path(name).stem if name.endswith((".py", ".ipynb")) else name
        matches = [s for s in stems if s == name] or [s for s in stems if s.startswith(name)]
        if len(matches) != 1:
            raise BookRunError(
                f"--only {name!r}: {'ambiguous' if matches else 'not'} a notebook listed in _toc.yml "
                f"(listed: {', '.join(stems) or 'none'})"
            )
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return [s for s in stems if s in chosen]


def _placeholder(stem: str, output: Path, source: Path, root: Path) -> None:
    """A stand-in page for a toc entry whose source is not written yet, so the book still builds."""
    import nbformat

    text = (
        f"# {stem_title(stem)}\n\n"
        "```{note}\n"
        f"This section's notebook (`{_shown_path(source, root)}`) has not been written yet, so this page "
        "has no results. The reproduction report lists what is missing.\n"
        "```\n"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["ganon"] = {"placeholder": True}
    nbformat.write(nb, str(output))


def _colab_cell(root: Path, stem: str) -> Any | None:
    import nbformat

    url = colab_url(root, stem)
    if url is None:
        return None
    text = (
        "```{admonition} Run this chapter yourself\n:class: tip\n"
        f"[Open `{NOTEBOOKS_DIR.as_posix()}/{stem}.ipynb` in Colab]({url}). Its first cells install `ganon` "
        "from the repository and, with the defaults of its `parameters` cell (the smoke profile), "
        "build the sample photos and run on Colab's machine.\n```\n"
    )
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["ganon"] = {"colab": True}
    return cell


def _finish_output(output: Path, source: Path, root: Path) -> None:
    """Hide papermill's injected cell, add the Colab link, record the source instead of a temp path."""
    import nbformat

    if not output.is_file():
        return
    nb = nbformat.read(str(output), as_version=4)
    installs_itself = source.is_file() and "google.colab" in source.read_text(encoding="utf-8")
    colab = _colab_cell(root, source.stem) if installs_itself else None
    if colab is not None and not any(c.get("metadata", {}).get("ganon", {}).get("colab") for c in nb.cells):
        first_markdown = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
        nb.cells.insert(first_markdown + 1, colab)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    papermill_meta = nb.metadata.get("papermill", {})
    papermill_meta["input_path"] = _shown_path(source, root)
    papermill_meta["output_path"] = _shown_path(output, root)
    nbformat.write(nb, str(output))


class _DropUnknownParameter(logging.Filter):
    """Every notebook gets every profile value; papermill's per-name warning for undeclared ones is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


def _execute(
    nb: Any,
    *,
    stem: str,
    output: Path,
    params: Mapping[str, Any],
    cwd: Path,
    kernel_name: str,
    cell_timeout: int | None,
    progress: bool,
) -> None:
    import nbformat
    import papermill

    pm_logger = logging.getLogger("papermill")
    drop = _DropUnknownParameter()
    pm_logger.addFilter(drop)
    try:
        with tempfile.TemporaryDirectory(prefix="ganon-book-") as tmp:
            source = Path(tmp) / f"{stem}.ipynb"
            nbformat.write(nb, str(source))
            papermill.execute_notebook(
                str(source),
                str(output),
                parameters=dict(params),
                kernel_name=kernel_name,
                cwd=str(cwd),
                progress_bar=progress,
                request_save_on_cell_execute=True,
                execution_timeout=cell_timeout,
            )
    finally:
        pm_logger.removeFilter(drop)


def _cell_error(stem: str, err: Exception) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, PapermillExecutionError):
        first_line = next((ln for ln in str(err.source).splitlines() if ln.strip()), "")
        return (
            f"notebook {stem}: cell [{err.exec_count}] (cell {err.cell_index}, `{first_line[:80]}`) "
            f"raised {err.ename}: {err.evalue}"
        )
    return f"notebook {stem}: {type(err).__name__}: {err}"


def run_book(
    *,
    root: Path | str = ".",
    profile: str | Path | Profile = "smoke",
    only: Sequence[str] = (),
    force: bool = False,
    keep_going: bool = False,
    data_dir: Path | str | None = None,
    results_dir: Path | str | None = None,
    watch: Sequence[str | Path] = DEFAULT_WATCH,
    kernel_name: str = KERNEL_NAME,
    cell_timeout: int | None = None,
    progress: bool = True,
) -> RunSummary:
    """Execute the toc's notebooks under ``profile`` into ``book/generated/``; raise on a failing cell.

    A notebook is skipped when its key (source, profile, parameters and every file under ``watch``;
    plus the results folder for notebooks whose metadata sets ``ganon.reads_results``) matches the
    last successful run. ``data_dir`` (or ``$GANON_DATA_DIR``) overrides the profile's data folder.
    """
    import jupytext

    root = Path(root).resolve()
    prof = profile if isinstance(profile, Profile) else load_profile(profile, root=root)
    stems = toc_notebooks(root)
    selected = _select(stems, only)
    generated = root / GENERATED_DIR
    generated.mkdir(parents=True, exist_ok=True)
    data = _under(root, data_dir or os.environ.get("GANON_DATA_DIR") or prof.data_dir)
    results = _under(root, results_dir) if results_dir else root / "runs" / "book" / prof.name / "results"
    results.mkdir(parents=True, exist_ok=True)
    record_path = generated / RUN_RECORD_FILE
    hashes_path = generated / HASHES_FILE
    hashes = _read_json(hashes_path)
    previous = _read_json(record_path)
    record: dict[str, Any] = {
        "profile_name": prof.name,
        "profile": prof.model_dump(),
        "started": _now(),
        "finished": None,
        "command": sys.argv,
        "git_commit": _git_commit(root),
        "hardware": hardware_info(),
        "versions": package_versions(),
        "notebooks": {s: e for s, e in previous.get("notebooks", {}).items() if s in stems},
    }
    watched = tree_digest(root, watch)
    repository_url = _repository_url(root)
    outcomes: list[NotebookResult] = []
    failures: list[str] = []
    any_ran = False
    logger.info("book run: profile %s, %d of %d notebooks, results in %s", prof.name, len(selected),
                len(stems), _shown_path(results, root))

    for index, stem in enumerate(selected, start=1):
        tag = f"[{index}/{len(selected)}] {stem}"
        source = root / NOTEBOOKS_DIR / f"{stem}.py"
        output = generated / f"{stem}.ipynb"
        if not source.is_file():
            logger.warning("%s: no source %s; writing a placeholder page", tag, _shown_path(source, root))
            _placeholder(stem, output, source, root)
            hashes.pop(stem, None)
            entry = {"status": "missing", "profile": prof.name, "finished": _now(),
                     "reason": f"no source {_shown_path(source, root)}"}
            record["notebooks"][stem] = entry
            outcomes.append(NotebookResult(stem, "missing", output, reason=entry["reason"]))
            _write_json(record_path, record)
            _write_json(hashes_path, hashes)
            continue

        nb = jupytext.read(str(source))
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        params = prof.parameters(
            stem, root=root, data_dir=data, results_dir=results, samples_dir=root / "samples",
            run_record=record_path, repository_url=repository_url,
        )
        components = {
            "source": _sha256(source.read_bytes()),
            "profile": _json_digest(prof.model_dump()),
            "parameters": _json_digest(params),
            "watched": watched,
        }
        reads_results = bool((nb.metadata.get("ganon") or {}).get("reads_results", False))
        if reads_results:
            components["results"] = tree_digest(results, ["."])
        key = _key(components)
        stored = hashes.get(stem)
        reasons = _changed(stored, components)
        if force:
            reasons = ["--force"]
        elif reads_results and any_ran:
            reasons = reasons or ["an earlier notebook ran in this run"]
        if stored and stored.get("key") == key and output.is_file() and not force and not (reads_results and any_ran):
            logger.info("%s: up to date, skipped", tag)
            entry = dict(record["notebooks"].get(stem, {}))
            entry.update({"status": "skipped", "key": key})
            entry.setdefault("profile", prof.name)
            record["notebooks"][stem] = entry
            outcomes.append(NotebookResult(stem, "skipped", output, entry.get("wall_s"), "up to date"))
            continue

        reason = ", ".join(reasons) or "output missing"
        logger.info("%s: running (%s)", tag, reason)
        hashes.pop(stem, None)
        _write_json(hashes_path, hashes)
        record["notebooks"][stem] = {"status": "running", "profile": prof.name, "started": _now(),
                                     "reason": reason}
        _write_json(record_path, record)
        start = time.perf_counter()
        error: str | None = None
        try:
            _execute(nb, stem=stem, output=output, params=params, cwd=root, kernel_name=kernel_name,
                     cell_timeout=cell_timeout, progress=progress)
        except Exception as err:  # noqa: BLE001 -- any failure is reported with the notebook's name
            error = _cell_error(stem, err)
        wall = round(time.perf_counter() - start, 2)
        _finish_output(output, source, root)
        any_ran = True
        entry = {**record["notebooks"][stem], "wall_s": wall, "finished": _now(), "key": key}
        if error is None:
            logger.info("%s: done in %.1f s", tag, wall)
            entry["status"] = "ran"
            hashes[stem] = {"key": key, "components": components, "profile": prof.name,
                            "finished": entry["finished"]}
            outcomes.append(NotebookResult(stem, "ran", output, wall, reason))
        else:
            logger.error("%s: FAILED after %.1f s: %s (partial output kept in %s)", tag, wall, error,
                         _shown_path(output, root))
            entry.update({"status": "failed", "error": error})
            failures.append(f"{error} (partial output: {_shown_path(output, root)})")
            outcomes.append(NotebookResult(stem, "failed", output, wall, reason, error))
        record["notebooks"][stem] = entry
        _write_json(record_path, record)
        _write_json(hashes_path, hashes)
        if error is not None and not keep_going:
            break

    record["finished"] = _now()
    _write_json(record_path, record)
    summary = RunSummary(prof.name, tuple(outcomes), record_path)
    if failures:
        raise BookRunError("book run failed:\n  " + "\n  ".join(failures), summary=summary)
    logger.info("book run finished: %s", ", ".join(f"{r.stem} {r.status}" for r in outcomes) or "nothing")
    return summary


# --------------------------------------------------------------------------------------------------
# Building the HTML

_WARNING_LINE = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b|Sphinx error|Extension error")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _jupyter_book_command(root: Path, *, nitpicky: bool) -> list[str]:
    # This interpreter's Jupyter Book, never whatever `jupyter-book` the PATH finds first.
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(root),
           "--all", "-W", "--keep-going"]
    return cmd + (["-n"] if nitpicky else [])


def build_book(
    *,
    root: Path | str = ".",
    nitpicky: bool = True,
    allow_failed: bool = False,
    echo: Callable[[str], Any] | None = None,
) -> Path:
    """Run ``jupyter-book build --all -W --keep-going`` (and ``-n``); any warning fails. Returns index.html.

    Refuses to build when a notebook's last run failed (its partial output is in the book) unless
    ``allow_failed``. ``echo`` receives every output line (default: written to stdout as it comes).
    """
    root = Path(root).resolve()
    write = echo or (lambda line: (sys.stdout.write(line + "\n"), sys.stdout.flush()))
    record = _read_json(root / GENERATED_DIR / RUN_RECORD_FILE)
    failed = [s for s in toc_notebooks(root)
              if record.get("notebooks", {}).get(s, {}).get("status") in {"failed", "running"}]
    if failed and not allow_failed:
        raise BookBuildError(
            f"{_shown_path(root / GENERATED_DIR, root)}: the last run of {', '.join(failed)} did not finish; "
            "rerun `ganon book run` (or build with --allow-failed to inspect the partial output)"
        )
    cmd = _jupyter_book_command(root, nitpicky=nitpicky)
    logger.info("building the book: %s", " ".join(cmd[3:]))
    start = time.perf_counter()
    warnings: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=15)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, bufsize=1) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = _ANSI.sub("", raw.rstrip("\n"))
            write(line)
            if _WARNING_LINE.search(line):
                warnings.append(line)
        code = proc.wait()
    wall = time.perf_counter() - start
    index = root / "_build" / "html" / "index.html"
    if code != 0 or warnings:
        listed = "\n  ".join(warnings[:50] or ["(no warning line; the output ended with:)", *tail])
        raise BookBuildError(
            f"jupyter-book build of {root} failed (exit {code}, {len(warnings)} warning lines, {wall:.0f} s):"
            f"\n  {listed}"
        )
    if not index.is_file():
        raise BookBuildError(f"{index}: not produced by the build")
    logger.info("book built in %.1f s: %s", wall, index.as_uri())
    return index


# --------------------------------------------------------------------------------------------------
# The reproduction report: the paper's tables and figures beside ours


@dataclass(frozen=True)
class ResultSpec:
    """One table or figure of the paper, the notebook that regenerates it, and its main column."""

    name: str
    kind: Literal["table", "figure"]
    title: str
    notebook: str | None
    main_value: str | None = None
    note: str = ""
    from_table: str | None = None


RESULTS: tuple[ResultSpec, ...] = (
    ResultSpec("table1", "table", "Table 1: identity distance, original vs anonymized (WIDER)",
               "4_1_anonymization", "cosine_distance"),
    ResultSpec("table2", "table", "Table 2: emotion probability distance per class",
               "4_2_expression", "mean_probability_distance"),
    ResultSpec("table3", "table", "Table 3: Wilcoxon tests against DeepPrivacy2 and CIAGAN",
               "4_2_expression", "Z"),
    ResultSpec("table4", "table", "Table 4: emotion classifiers trained on anonymized data",
               "4_2_expression", "f1"),
    ResultSpec("table5", "table", "Table 5: CelebA attribute classifier", "4_3_attributes", "f1"),
    ResultSpec("table6", "table", "Table 6: attributes removed by anonymization", "4_3_attributes",
               "removed_fraction"),
    ResultSpec("figure1", "figure", "Figure 1: privacy-preservation concepts", None,
               note="a diagram of related work, not a result"),
    ResultSpec("figure2", "figure", "Figure 2: the GANonymization pipeline", None,
               note="a diagram; Section 3's notebooks show every stage on real photos instead"),
    ResultSpec("figure3", "figure", "Figure 3: anonymized WIDER faces", "4_1_anonymization"),
    ResultSpec("figure4", "figure", "Figure 4: anonymized AffectNet faces", "4_2_expression"),
    ResultSpec("figure5", "figure", "Figure 5: anonymized CK+ faces", "4_2_expression"),
    ResultSpec("figure6", "figure", "Figure 6: anonymized FACES faces", "4_2_expression"),
    ResultSpec("figure7", "figure", "Figure 7: emotion probability distance per class",
               "4_2_expression", from_table="table2"),
    ResultSpec("figure8", "figure", "Figure 8: anonymized CelebA faces", "4_3_attributes"),
    ResultSpec("figure9", "figure", "Figure 9: attributes removed by anonymization",
               "4_3_attributes", from_table="table6"),
    ResultSpec("figure10", "figure", "Figure 10: confusion matrices of the emotion classifiers",
               "4_2_expression"),
    ResultSpec("figure11", "figure", "Figure 11: confusion matrices of the attribute classifier",
               "4_3_attributes"),
)
_SPECS = {spec.name: spec for spec in RESULTS}
FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")


@dataclass(frozen=True)
class Comparison:
    """A paper table beside ours; ``beside`` is long: keys, quantity, ours, paper, difference, within_rounding."""

    spec: ResultSpec
    paper: Any  # pandas.DataFrame
    ours: Any | None = None
    beside: Any | None = None
    absent_reason: str | None = None

    @property
    def regenerated(self) -> bool:
        return self.ours is not None


def prepare_results(results_dir: Path | str, *, dataset: str, samples_dir: Path | str) -> Path:
    """A notebook's first step: create its results folder and, for the samples profile, the samples."""
    results = Path(results_dir)
    results.mkdir(parents=True, exist_ok=True)
    if dataset == "samples":
        from ganon.data.samples import ensure_samples

        ensure_samples(samples_dir)
    return results


def record_absent(results_dir: Path | str, name: str, reason: str) -> Path:
    """For section notebooks: say why ``name`` (e.g. ``"table4"``) is not produced in this profile."""
    if name not in _SPECS:
        raise KeyError(f"unknown result {name!r}; known: {', '.join(_SPECS)}")
    path = Path(results_dir) / f"{name}.absent.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reason.strip() + "\n", encoding="utf-8")
    return path


def load_run_record(path: Path | str = GENERATED_DIR / RUN_RECORD_FILE) -> dict[str, Any]:
    """The run record written by ``run_book`` (empty dict when there is none)."""
    return _read_json(Path(path))


def _absent_reason(spec: ResultSpec, *, results_dir: Path, record: Mapping[str, Any]) -> str:
    note = Path(results_dir) / f"{spec.name}.absent.txt"
    if note.is_file():
        return note.read_text(encoding="utf-8").strip()
    if spec.notebook is None:
        return spec.note
    entry = record.get("notebooks", {}).get(spec.notebook)
    profile = record.get("profile_name", "?")
    if entry is None:
        return f"the notebook {spec.notebook} was not run in profile {profile}"
    status = entry.get("status")
    if status == "missing":
        return f"the notebook {spec.notebook} has not been written yet"
    if status == "failed":
        return f"the notebook {spec.notebook} failed: {entry.get('error', 'unknown error')}"
    if status == "running":
        return f"the notebook {spec.notebook} did not finish"
    return f"the notebook {spec.notebook} ran in profile {entry.get('profile', profile)} but wrote no {spec.name}"


def _read_ours(path: Path, keys: Sequence[str]) -> Any:
    import pandas as pd

    return pd.read_csv(path, dtype={key: str for key in keys})


def compare_table(
    name: str, *, results_dir: Path | str, record: Mapping[str, Any] | None = None
) -> Comparison:
    """The paper's ``name`` beside ``results_dir/<name>.csv`` (long format of
    :func:`ganon.evaluation.tables.beside_paper`), or the reason ours is absent."""
    from ganon.evaluation.reference import TABLES, paper_table
    from ganon.evaluation.tables import beside_paper

    spec = _SPECS[name]
    paper = paper_table(name)
    path = Path(results_dir) / f"{name}.csv"
    if not path.is_file():
        reason = _absent_reason(spec, results_dir=Path(results_dir), record=record or {})
        return Comparison(spec, paper, absent_reason=reason)
    ours = _read_ours(path, TABLES.get(name).keys)
    try:
        beside = beside_paper(ours, name)
    except (KeyError, ValueError) as err:
        raise ValueError(f"{path}: cannot be compared with the paper's {name}: {err}") from err
    return Comparison(spec, paper, ours, beside)


def figure_file(results_dir: Path | str, name: str) -> Path | None:
    """Our image for figure ``name`` in ``results_dir`` (``figure3.png`` etc.), if a notebook wrote one."""
    for suffix in FIGURE_SUFFIXES:
        path = Path(results_dir) / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def report_overview(results_dir: Path | str, record: Mapping[str, Any]) -> Any:
    """One row per table and figure: regenerated or not, rows compared, mean |difference|, or why absent."""
    import pandas as pd

    rows = []
    for spec in RESULTS:
        row: dict[str, Any] = {"result": spec.title.split(":")[0], "regenerated by": spec.notebook or "",
                               "status": "", "rows compared": None, "mean |ours - paper|": None, "note": ""}
        if spec.kind == "table":
            cmp = compare_table(spec.name, results_dir=results_dir, record=record)
            if cmp.regenerated:
                main = cmp.beside[cmp.beside["quantity"] == spec.main_value]
                both = main[main["ours"].notna() & main["paper"].notna()]
                row.update({"status": "compared", "rows compared": len(both),
                            "mean |ours - paper|": round(float(both["difference"].abs().mean()), 4)
                            if len(both) else None,
                            "note": f"{spec.main_value}: {int(both['within_rounding'].sum())} of {len(both)} "
                                    "equal up to rounding"})
            else:
                row.update({"status": "not regenerated", "note": cmp.absent_reason})
        else:
            mine = figure_file(results_dir, spec.name)
            from_table = spec.from_table and (Path(results_dir) / f"{spec.from_table}.csv").is_file()
            if mine is not None or from_table:
                row.update({"status": "regenerated",
                            "note": mine.name if mine is not None else f"plotted from {spec.from_table}"})
            else:
                row.update({"status": "not regenerated",
                            "note": _absent_reason(spec, results_dir=Path(results_dir), record=record)})
        rows.append(row)
    return pd.DataFrame(rows)


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
    notebooks = pd.DataFrame([
        {"notebook": stem, "status": entry.get("status"), "profile": entry.get("profile"),
         "wall time [s]": entry.get("wall_s"), "expected GPU hours": hours.get(stem)}
        for stem, entry in (record.get("notebooks") or {}).items()
    ])
    return {
        "profile": pd.DataFrame({"value": [str(v) for v in flat.values()]}, index=list(flat)),
        "hardware": pd.DataFrame({"value": [str(v) for v in hardware.values()]}, index=list(hardware)),
        "notebooks": notebooks,
        "versions": pd.DataFrame({"version": [v or "not installed" for v in (record.get("versions") or {}).values()]},
                                 index=list(record.get("versions") or {})),
    }


def _details(summary: str, html: str) -> str:
    return f"<details><summary>{summary}</summary>\n{html}\n</details>"


def show_table(frame: Any, *, index: bool = False, caption: str | None = None) -> None:
    """Display a DataFrame in full (no truncated cells), blanks for missing values, 4 decimals."""
    from IPython.display import HTML, Markdown, display

    if caption:
        display(Markdown(caption))
    shown = frame.astype(object).where(frame.notna(), "")
    display(HTML(shown.to_html(index=index, float_format=lambda v: f"{v:.4g}", classes="dataframe ganon-table",
                               border=0)))


def comparison_view(cmp: Comparison) -> Any:
    """The comparison as shown: keys, quantity (if several), the paper as printed, ours, difference."""
    frame = cmp.beside.drop(columns=["paper"]).rename(
        columns={"paper_printed": "paper", "within_rounding": "within rounding"})
    keys = [c for c in frame.columns if c not in {"quantity", "paper", "ours", "difference", "within rounding"}]
    columns = [*keys, "quantity", "paper", "ours", "difference", "within rounding"]
    if frame["quantity"].nunique() == 1:
        columns.remove("quantity")
    return frame[columns]


def comparison_summary(cmp: Comparison) -> Any:
    """Per quantity: rows with both values, mean and largest |difference|, rows equal up to rounding."""
    import pandas as pd

    rows = []
    for quantity, group in cmp.beside.groupby("quantity", sort=False):
        both = group[group["ours"].notna() & group["paper"].notna()]
        rows.append({"quantity": quantity, "rows compared": len(both),
                     "mean |difference|": both["difference"].abs().mean(),
                     "largest |difference|": both["difference"].abs().max(),
                     "within rounding": int(both["within_rounding"].sum())})
    return pd.DataFrame(rows)


def show_comparison(cmp: Comparison, *, max_rows: int = 40) -> None:
    """Display one table comparison in a notebook, or the reason it is absent plus the paper's values.

    Comparisons longer than ``max_rows`` show a per-quantity summary and fold the full table away.
    """
    from IPython.display import HTML, Markdown, display

    from ganon.evaluation.tables import to_html

    if cmp.regenerated:
        display(Markdown(f"**{cmp.spec.title}.** The paper's value as printed beside ours; `difference` is "
                         "ours minus the paper, `within rounding` whether ours prints as the paper's value."))
        view = comparison_view(cmp)
        if len(view) > max_rows:
            display(HTML(to_html(comparison_summary(cmp))))
            display(HTML(_details(f"All {len(view)} rows", to_html(view))))
        else:
            display(HTML(to_html(view)))
    else:
        display(Markdown(f"**{cmp.spec.title}.** Not regenerated in this profile: {cmp.absent_reason}."))
        display(HTML(_details(f"The paper's values ({len(cmp.paper)} rows)",
                              cmp.paper.to_html(index=False, na_rep="", border=0))))


def show_figure(fig: Any) -> None:
    """Display a Matplotlib figure as a PNG output (no pyplot state involved)."""
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    display(Image(data=buffer.getvalue(), format="png"))


def show_figures(results_dir: Path | str, record: Mapping[str, Any]) -> None:
    """Display our example and confusion-matrix figures (3-6, 8, 10, 11) or why each is absent."""
    from IPython.display import Image, Markdown, display

    for spec in RESULTS:
        if spec.kind != "figure" or spec.notebook is None or spec.from_table is not None:
            continue
        path = figure_file(results_dir, spec.name)
        if path is None:
            reason = _absent_reason(spec, results_dir=Path(results_dir), record=record)
            display(Markdown(f"**{spec.title}.** Not regenerated in this profile: {reason}."))
        else:
            display(Markdown(f"**{spec.title}** (ours, `{path.name}`)."))
            display(Image(filename=str(path)) if path.suffix != ".svg" else _svg(path))


def _svg(path: Path) -> Any:
    from IPython.display import SVG

    return SVG(filename=str(path))


def plot_emotion_distances(cmp: Comparison) -> Any:
    """Figure 7 redrawn: mean probability distance per emotion and dataset, paper (solid) and ours (hatched)."""
    import numpy as np
    from matplotlib.figure import Figure

    frames = [("paper", cmp.paper)] + ([("ours", cmp.ours)] if cmp.ours is not None else [])
    datasets = list(dict.fromkeys(cmp.paper["dataset"]))
    methods = list(dict.fromkeys(cmp.paper["method"]))
    series = [(method, source, frame) for method in methods for source, frame in frames
              if (frame["method"] == method).any()]  # only bars that have values
    fig = Figure(figsize=(11, 3.4), layout="constrained")
    axes = fig.subplots(1, len(datasets), sharey=True, squeeze=False)[0]
    colors = dict(zip(methods, ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")))
    width = 0.8 / len(series)
    for ax, dataset in zip(axes, datasets):
        emotions = list(dict.fromkeys(cmp.paper.loc[cmp.paper["dataset"] == dataset, "emotion"]))
        x = np.arange(len(emotions))
        for bar, (method, source, frame) in enumerate(series):
            sub = frame[(frame["dataset"] == dataset) & (frame["method"] == method)]
            values = sub.set_index("emotion")["mean_probability_distance"].reindex(emotions)
            ax.bar(x + (bar - (len(series) - 1) / 2) * width, values.to_numpy(dtype=float), width,
                   color=colors[method], hatch="//" if source == "ours" else None,
                   edgecolor="white" if source == "ours" else None,
                   label=f"{method} ({source})" if dataset == datasets[0] else None)
        ax.set_xticks(x, emotions, rotation=45, ha="right")
        ax.set_title(dataset)
    axes[0].set_ylabel("mean |Δp| (lower is better)")
    fig.legend(loc="outside right center", fontsize="small")
    return fig


def plot_attribute_removal(cmp: Comparison) -> Any:
    """Figure 9 redrawn: fraction of detected CelebA attributes removed, paper beside ours."""
    import numpy as np
    from matplotlib.figure import Figure

    paper = cmp.paper.set_index("attribute")["removed_fraction"]
    fig = Figure(figsize=(7, 9), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(paper))
    if cmp.ours is not None:
        ours = cmp.ours.set_index("attribute")["removed_fraction"].reindex(paper.index)
        ax.barh(y - 0.2, paper.to_numpy(), 0.4, label="paper", color="#7570b3")
        ax.barh(y + 0.2, ours.to_numpy(dtype=float), 0.4, label="ours", color="#1b9e77")
        ax.legend()
    else:
        ax.barh(y, paper.to_numpy(), 0.7, label="paper", color="#7570b3")
    ax.set_yticks(y, paper.index, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("fraction of images whose attribute was removed")
    ax.set_xlim(0, 1)
    return fig
