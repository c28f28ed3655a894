"""Running the notebooks: papermill executes each toc notebook under a profile unless its inputs are unchanged.

A notebook's key is the digest of its source, the profile, its parameters and every file under the
watched folders (the package and the profiles); notebooks that read the results folder (metadata
``ganon.reads_results``) add that folder's digest. An unchanged key skips the notebook.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ganon.book.paths import (
    GENERATED_DIR,
    HASHES_FILE,
    NOTEBOOKS_DIR,
    REPORT_FILE,
    RUN_RECORD_FILE,
    now,
    read_json,
    shown_path,
    shown_text,
    under,
    write_json,
)
from ganon.book.profiles import Profile, load_profile
from ganon.book.record import git_commit, hardware_info, package_versions
from ganon.book.toc import colab_url, repository, stem_title, toc_notebooks

__all__ = ["DEFAULT_WATCH", "BookRunError", "NotebookResult", "RunSummary", "run_book", "tree_digest"]

logger = logging.getLogger(__name__)

#: Folders whose every file feeds the skip key: the package and the profiles.
DEFAULT_WATCH: tuple[str, ...] = ("ganon", "profiles")
KERNEL_NAME = "python3"
KERNELSPEC = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}


class BookRunError(RuntimeError):
    """A notebook failed (or could not be run); the message names it and the failing cell."""

    def __init__(self, message: str, *, summary: RunSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary



def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_digest(value: Any) -> str:
    return _sha256(json.dumps(value, sort_keys=True, default=str).encode())


def tree_digest(root: Path, folders: Sequence[str | Path], *, exclude: Sequence[str] = ()) -> str:
    """One digest over the path and bytes of every file under ``folders``.

    Hidden files, caches and files named in ``exclude`` (e.g. the report's own output) are skipped.
    """
    digest = hashlib.sha256()
    for folder in folders:
        base = root / folder
        files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []
        for path in files:
            rel = path.relative_to(root)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            if path.suffix in {".pyc", ".pyo"} or path.name in exclude:
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
        f"This section's notebook (`{shown_path(source, root)}`) has not been written yet, so this page "
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
    """Hide papermill's injected cell, add the Colab link, make absolute paths in outputs relative,
    record the source instead of a temp path."""
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
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            _relative_paths(out, root)
    papermill_meta = nb.metadata.get("papermill", {})
    papermill_meta["input_path"] = shown_path(source, root)
    papermill_meta["output_path"] = shown_path(output, root)
    nbformat.write(nb, str(output))


#: Output formats whose text may name files; images and widgets are left alone.
_TEXT_MIMES = ("text/plain", "text/markdown", "text/html")


def _relative_paths(output: Any, root: Path) -> None:
    """Make the absolute paths a cell printed or displayed relative to the book root (or cut them)."""
    if isinstance(output.get("text"), str):
        output["text"] = shown_text(output["text"], root=root)
    data = output.get("data", {})
    for mime in _TEXT_MIMES:
        text = data.get(mime)
        if isinstance(text, list):
            text = "".join(text)
        if isinstance(text, str) and "base64," not in text:
            data[mime] = shown_text(text, root=root)
    if output.get("output_type") == "error":
        output["evalue"] = shown_text(output.get("evalue", ""), root=root)
        output["traceback"] = [shown_text(line, root=root) for line in output.get("traceback", [])]


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
    data = under(root, data_dir or os.environ.get("GANON_DATA_DIR") or prof.data_dir)
    results = under(root, results_dir) if results_dir else root / "runs" / "book" / prof.name / "results"
    results.mkdir(parents=True, exist_ok=True)
    record_path = generated / RUN_RECORD_FILE
    hashes_path = generated / HASHES_FILE
    hashes = read_json(hashes_path)
    previous = read_json(record_path)
    record: dict[str, Any] = {
        "profile_name": prof.name,
        "profile": prof.model_dump(),
        "started": now(),
        "finished": None,
        "command": sys.argv,
        "git_commit": git_commit(root),
        "hardware": hardware_info(),
        "versions": package_versions(),
        "notebooks": {s: e for s, e in previous.get("notebooks", {}).items() if s in stems},
    }
    watched = tree_digest(root, watch)
    repository_url = repository(root).url
    outcomes: list[NotebookResult] = []
    failures: list[str] = []
    any_ran = False
    logger.info("book run: profile %s, %d of %d notebooks, results in %s", prof.name, len(selected),
                len(stems), shown_path(results, root))

    for index, stem in enumerate(selected, start=1):
        tag = f"[{index}/{len(selected)}] {stem}"
        source = root / NOTEBOOKS_DIR / f"{stem}.py"
        output = generated / f"{stem}.ipynb"
        if not source.is_file():
            logger.warning("%s: no source %s; writing a placeholder page", tag, shown_path(source, root))
            _placeholder(stem, output, source, root)
            hashes.pop(stem, None)
            entry = {"status": "missing", "profile": prof.name, "finished": now(),
                     "reason": f"no source {shown_path(source, root)}"}
            record["notebooks"][stem] = entry
            outcomes.append(NotebookResult(stem, "missing", output, reason=entry["reason"]))
            write_json(record_path, record)
            write_json(hashes_path, hashes)
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
            components["results"] = tree_digest(results, ["."], exclude=(REPORT_FILE,))
        key = _key(components)
        stored = hashes.get(stem)
        reasons = _changed(stored, components)
        if force:
            reasons = ["--force"]
        elif reads_results and any_ran:
            reasons = reasons or ["an earlier notebook ran in this run"]
        up_to_date = stored and stored.get("key") == key and output.is_file()
        if up_to_date and not force and not (reads_results and any_ran):
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
        write_json(hashes_path, hashes)
        record["notebooks"][stem] = {"status": "running", "profile": prof.name, "started": now(),
                                     "reason": reason}
        write_json(record_path, record)
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
        entry = {**record["notebooks"][stem], "wall_s": wall, "finished": now(), "key": key}
        if error is None:
            logger.info("%s: done in %.1f s", tag, wall)
            entry["status"] = "ran"
            hashes[stem] = {"key": key, "components": components, "profile": prof.name,
                            "finished": entry["finished"]}
            outcomes.append(NotebookResult(stem, "ran", output, wall, reason))
        else:
            logger.error("%s: FAILED after %.1f s: %s (partial output kept in %s)", tag, wall, error,
                         shown_path(output, root))
            entry.update({"status": "failed", "error": error})
            failures.append(f"{error} (partial output: {shown_path(output, root)})")
            outcomes.append(NotebookResult(stem, "failed", output, wall, reason, error))
        record["notebooks"][stem] = entry
        write_json(record_path, record)
        write_json(hashes_path, hashes)
        if error is not None and not keep_going:
            break

    record["finished"] = now()
    write_json(record_path, record)
    summary = RunSummary(prof.name, tuple(outcomes), record_path)
    if failures:
        raise BookRunError("book run failed:\n  " + "\n  ".join(failures), summary=summary)
    logger.info("book run finished: %s", ", ".join(f"{r.stem} {r.status}" for r in outcomes) or "nothing")
    return summary
