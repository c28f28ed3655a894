"""The reproduction report as data: every table and figure of the paper, ours beside it, and a status.

``reproduction_table`` gives one row per result (``table1`` ... ``figure11``) with a status:
``compared`` (ours matched at least one non-trivial row of the paper's), ``not comparable`` (ours
exists but no row matches), ``regenerated`` (a figure we drew) or ``not regenerated`` (with the reason).
A result recorded absent (``<name>.absent.txt``, see :class:`ganon.reproduce.ResultStore`) is not
regenerated whatever other file of that name lies in the folder. ``write_reproduction`` stores it as
``reproduction.csv`` in the results folder.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganon.book.paths import REPORT_FILE
from ganon.evaluation.reference import PaperResult, paper_result, paper_table, result_names
from ganon.reproduce.result import Result
from ganon.reproduce.store import ResultStore

__all__ = [
    "REPORT_COLUMNS",
    "STATUSES",
    "Comparison",
    "compare_table",
    "compare_tables",
    "figure_file",
    "prepare_results",
    "record_absent",
    "report_overview",
    "reproduction_table",
    "write_reproduction",
]

REPORT_COLUMNS: tuple[str, ...] = ("result", "status", "rows_compared", "mean_abs_difference", "note")
STATUSES: tuple[str, ...] = ("regenerated", "compared", "not comparable", "not regenerated")
FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")


@dataclass(frozen=True)
class Comparison:
    """A paper table beside ours; ``beside`` is long: keys, quantity, ours, paper, difference,
    within_rounding."""

    spec: PaperResult
    paper: Any  # pandas.DataFrame
    ours: Any | None = None
    beside: Any | None = None
    absent_reason: str | None = None
    #: Why ours, although written, cannot be put beside the paper's (e.g. a key column is missing).
    problem: str | None = None

    @property
    def regenerated(self) -> bool:
        return self.ours is not None and self.problem is None

    def matched(self) -> Any:
        """Rows of the main quantity where both ours and the paper's value exist, trivial matches left out."""
        main = self.beside[self.beside["quantity"] == self.spec.main_value]
        both = main[main["ours"].notna() & main["paper"].notna()]
        if not self.spec.trivial:
            return both
        trivial = both["within_rounding"].astype(bool) & (both["paper"] == 0)
        for key, value in self.spec.trivial:
            trivial &= both[key].astype(str) == value
        return both[~trivial]


def prepare_results(results_dir: Path | str, *, dataset: str, samples_dir: Path | str) -> Path:
    """A notebook's first step: create its results folder and, for the samples profile, the samples."""
    results = Path(results_dir)
    results.mkdir(parents=True, exist_ok=True)
    if dataset == "samples":
        from ganon.data.samples import ensure_samples

        ensure_samples(samples_dir)
    return results


def record_absent(results_dir: Path | str, name: str, reason: str) -> Path:
    """For section notebooks: say why ``name`` (e.g. ``"table4"``) is not produced in this profile.

    Any file that name had in the folder (an older table or figure) is removed, so it cannot pass for new.
    """
    paper_result(name)  # an unknown name lists the known ones
    return ResultStore(results_dir).absent(name, reason)


def _notebook_reason(spec: PaperResult, record: Mapping[str, Any]) -> str:
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
    ran_in = entry.get("profile", profile)
    return f"the notebook {spec.notebook} ran in profile {ran_in} but wrote no {spec.name}"


def _stale(spec: PaperResult, path: Path, record: Mapping[str, Any]) -> str | None:
    """Why the file ``path`` of ``spec`` is left over from an earlier run, or None when it may be current.

    It is stale when the notebook that writes it did not finish its last run, or when it is older than
    the start of that run (the notebook ran but did not rewrite it). Without a run record, no judgement.
    """
    entry = record.get("notebooks", {}).get(spec.notebook or "")
    if not entry:
        return None
    if entry.get("status") in {"failed", "running", "missing"}:
        return f"{_notebook_reason(spec, record)} (an older {path.name} is left in the folder)"
    started = entry.get("started")
    if started and path.stat().st_mtime < _dt.datetime.fromisoformat(started).timestamp() - 1:
        return (f"{path.name} is older than the last run of {spec.notebook} ({started}), "
                "which did not rewrite it")
    return None


def missing_reason(spec: PaperResult, store: ResultStore, record: Mapping[str, Any]) -> str | None:
    """Why ``spec`` has no current result in ``store``: its absent record, a file left over from an
    earlier run, or what the run record says; None when the result is there and current."""
    recorded = store.absent_reason(spec.name)
    if recorded is not None:
        return recorded
    path = store.root / f"{spec.name}.csv" if spec.kind == "table" else figure_file(store.root, spec.name)
    if path is None or not path.is_file():
        return _notebook_reason(spec, record)
    return _stale(spec, path, record)


def compare_table(
    name: str, *, results_dir: Path | str, record: Mapping[str, Any] | None = None
) -> Comparison:
    """The paper's ``name`` beside ``results_dir/<name>.csv`` (long format of
    :func:`ganon.evaluation.tables.beside_paper`), or the reason ours is absent."""
    import pandas as pd

    from ganon.evaluation.tables import beside_paper

    spec = paper_result(name)
    paper = paper_table(name)
    store = ResultStore(results_dir)
    reason = missing_reason(spec, store, record or {})
    if reason is not None:
        return Comparison(spec, paper, absent_reason=reason)
    path = store.root / f"{name}.csv"
    try:
        ours = pd.read_csv(path, dtype={key: str for key in spec.keys})
        beside = beside_paper(ours, name)
    except (KeyError, ValueError) as err:  # pandas' parser errors are ValueErrors too
        raise ValueError(f"{path}: cannot be compared with the paper's {name}: {err}") from err
    return Comparison(spec, paper, ours, beside)


def compare_tables(results_dir: Path | str, record: Mapping[str, Any] | None = None) -> dict[str, Comparison]:
    """Every paper table beside ours (:func:`compare_table`); a table of ours that cannot be compared
    comes back with its ``problem`` instead of raising, so the report still shows the others."""
    import pandas as pd

    comparisons: dict[str, Comparison] = {}
    for name in result_names(("table",)):
        try:
            comparisons[name] = compare_table(name, results_dir=results_dir, record=record)
        except ValueError as err:
            problem = str(err).replace(str(Path(results_dir)), "").lstrip("/")
            comparisons[name] = Comparison(paper_result(name), paper_table(name), pd.DataFrame(),
                                           problem=problem)
    return comparisons


def figure_file(results_dir: Path | str, name: str) -> Path | None:
    """Our image for figure ``name`` in ``results_dir`` (``figure3.png`` etc.), if a notebook wrote one."""
    for suffix in FIGURE_SUFFIXES:
        path = Path(results_dir) / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def _table_row(cmp: Comparison) -> dict[str, Any]:
    import pandas as pd

    spec = cmp.spec
    if cmp.problem is not None:
        return {"status": "not comparable", "note": cmp.problem}
    if not cmp.regenerated:
        return {"status": "not regenerated", "note": cmp.absent_reason}
    both = cmp.matched()
    if both.empty:
        keys = ", ".join(spec.keys)
        return {"status": "not comparable", "rows_compared": 0,
                "note": f"none of our {len(cmp.ours)} rows matches a row of the paper's by {keys}"
                        + (" (trivial rows left out)" if spec.trivial else "")}
    stand_ins = sorted({part for text in both.get("stand_in", pd.Series(dtype=str)) for part in str(text).split("; ")
                        if part})
    return {"status": "compared", "rows_compared": len(both),
            "mean_abs_difference": round(float(both["difference"].abs().mean()), 4),
            "note": f"{spec.main_value}: {int(both['within_rounding'].sum())} of {len(both)} "
                    "equal up to rounding" + (f"; stand-ins: {', '.join(stand_ins)}" if stand_ins else "")}


def _figure_row(
    spec: PaperResult, results_dir: Path, record: Mapping[str, Any], tables: Mapping[str, Comparison]
) -> dict[str, Any]:
    store = ResultStore(results_dir)
    reason = missing_reason(spec, store, record)
    if reason is None:
        return {"status": "regenerated", "note": figure_file(results_dir, spec.name).name}
    drawn = tables.get(spec.drawn_from or "")
    if store.absent_reason(spec.name) is None and drawn is not None and drawn.regenerated:
        return {"status": "regenerated", "note": f"drawn by the report from our {spec.drawn_from}"}
    return {"status": "not regenerated", "note": reason}


def reproduction_table(results_dir: Path | str, record: Mapping[str, Any] | None = None) -> Any:
    """One row per table and figure of the paper (columns :data:`REPORT_COLUMNS`), in the paper's order."""
    import pandas as pd

    results_dir, record = Path(results_dir), record or {}
    tables = compare_tables(results_dir, record)
    rows = {name: _table_row(cmp) for name, cmp in tables.items()}
    for name in result_names(("figure",)):
        rows[name] = _figure_row(paper_result(name), results_dir, record, tables)
    frame = pd.DataFrame([{"result": name, **row} for name, row in rows.items()],
                         columns=list(REPORT_COLUMNS))
    frame["rows_compared"] = frame["rows_compared"].astype("Int64")
    frame["mean_abs_difference"] = frame["mean_abs_difference"].astype(float)
    frame["note"] = frame["note"].fillna("").astype(str)
    return frame


def write_reproduction(results_dir: Path | str, record: Mapping[str, Any] | None = None) -> tuple[Path, Any]:
    """Write ``reproduction.csv`` into ``results_dir`` (atomically) and return its path and the frame."""
    frame = reproduction_table(results_dir, record)
    store = ResultStore(results_dir)
    store.save(Result(name=Path(REPORT_FILE).stem, table=frame))
    return store.root / REPORT_FILE, frame


def report_overview(results_dir: Path | str, record: Mapping[str, Any] | None = None,
                    *, table: Any | None = None) -> Any:
    """The reproduction table as the report shows it: paper labels, the notebook, readable column names."""
    frame = reproduction_table(results_dir, record) if table is None else table
    specs: Sequence[PaperResult] = [paper_result(name) for name in frame["result"]]
    view = frame.rename(columns={"rows_compared": "rows compared",
                                 "mean_abs_difference": "mean |ours - paper|"})
    view.insert(1, "regenerated by", [spec.notebook or "" for spec in specs])
    view["result"] = [spec.label for spec in specs]
    return view
