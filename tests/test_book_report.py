"""The reproduction report as data: reproduction.csv from the result files of a real smoke run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from ganon import book
from ganon.evaluation.figures import identity_distance_bars
from ganon.evaluation.reference import paper_table
from ganon.reproduce import Result, ResultStore

REPO = Path(__file__).resolve().parents[1]
SMOKE = Path(__file__).parent / "data" / "smoke_results"
CLI = [sys.executable, "-c", "from ganon.cli import main; main()"]


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    """A copy of the smoke run's results, with our Figures 3, 4 and 8 drawn small."""
    folder = tmp_path / "results"
    shutil.copytree(SMOKE, folder, ignore=shutil.ignore_patterns("README.md"))
    store = ResultStore(folder)
    for name in ("figure3", "figure4", "figure8"):
        store.save(Result(name, figure=identity_distance_bars(paper_table("table1"))))
    return folder


def _report(results: Path, record: Path | None = None) -> tuple[subprocess.CompletedProcess[str], pd.DataFrame]:
    if record is None:  # not the checkout's own book/generated/run_record.json, whatever ran there
        record = results.parent / "empty_record.json"
        record.write_text("{}")
    proc = subprocess.run([*CLI, "book", "report", "--results", str(results), "--record", str(record)],
                          capture_output=True, text=True, timeout=120, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return proc, pd.read_csv(results / "reproduction.csv", keep_default_na=False).set_index("result")


def test_report_of_a_smoke_run_is_written_as_data(results: Path) -> None:
    proc, report = _report(results)
    assert list(report.reset_index().columns) == ["result", "status", "rows_compared", "mean_abs_difference",
                                                  "note"]
    assert list(report.index) == [f"table{i}" for i in range(1, 7)] + [f"figure{i}" for i in range(1, 12)]
    assert set(report["status"]) <= {"regenerated", "compared", "not comparable", "not regenerated"}
    # Table 1: GANonymization and both blurs match; Original (0 against 0) is trivial, DP2/CIAGAN empty
    ours = pd.read_csv(SMOKE / "table1.csv", keep_default_na=False)
    ours = ours.set_index((ours["method"] + " " + ours["kernel"]).str.strip())["cosine_distance"]
    paper = paper_table("table1").set_index("label")["cosine_distance"]
    matched = ["GANonymization", "Blur 9x9", "Blur 17x17"]
    expected = sum(abs(float(ours[label]) - paper[label]) for label in matched) / 3
    row = report.loc["table1"]
    assert (row["status"], int(row["rows_compared"])) == ("compared", 3)
    assert float(row["mean_abs_difference"]) == pytest.approx(expected, abs=1e-4)
    assert report.loc["table6", "status"] == "compared" and int(report.loc["table6", "rows_compared"]) == 2
    # the samples are not AffectNet/CK+/FACES: ours exists, but no row matches the paper's
    for name in ("table2", "table3"):
        assert report.loc[name, "status"] == "not comparable"
        assert report.loc[name, "rows_compared"] == "0" and report.loc[name, "mean_abs_difference"] == ""
    # absent records give the reason
    assert report.loc["table4", "status"] == "not regenerated"
    assert report.loc["table4", "note"] == (SMOKE / "table4.absent.txt").read_text().strip()
    assert report.loc["figure5", "note"] == "CK+ is not part of the smoke profile"
    assert report.loc["figure1", "status"] == "not regenerated" and "diagram" in report.loc["figure1", "note"]
    assert report.loc["figure3", ["status", "note"]].tolist() == ["regenerated", "figure3.png"]
    assert report.loc["figure7", "note"] == "drawn by the report from our table2"
    assert "table1" in proc.stdout and "written:" in proc.stdout


def test_a_result_recorded_absent_never_counts_its_stale_files(results: Path) -> None:
    (results / "figure9.png").write_bytes((results / "figure3.png").read_bytes())
    book.record_absent(results, "figure9", "CelebA is not part of this profile")
    assert not (results / "figure9.png").exists()  # the store cleared the stale sibling
    (results / "table6.csv").rename(results / "kept.csv")
    book.record_absent(results, "table6", "no attribute model")
    (results / "kept.csv").rename(results / "table6.csv")  # a stale table beside its absent record
    report = book.reproduction_table(results).set_index("result")
    assert report.loc["table6", ["status", "note"]].tolist() == ["not regenerated", "no attribute model"]
    assert report.loc["figure9", ["status", "note"]].tolist() == ["not regenerated",
                                                                  "CelebA is not part of this profile"]


def test_files_left_over_from_an_earlier_run_never_count(results: Path) -> None:
    record = {"profile_name": "smoke", "notebooks": {
        "4_1_anonymization": {"status": "ran", "profile": "smoke", "started": "2999-01-01T00:00:00+00:00"},
        "4_2_expression": {"status": "failed", "error": "notebook 4_2_expression: cell [9] raised ValueError"},
        "4_3_attributes": {"status": "ran", "profile": "smoke", "started": "2000-01-01T00:00:00+00:00"},
    }}
    report = book.reproduction_table(results, record).set_index("result")
    # 4.1's files are older than its last run, which did not rewrite them
    assert report.loc["table1", "status"] == "not regenerated"
    assert "older than the last run of 4_1_anonymization" in report.loc["table1", "note"]
    assert report.loc["figure3", "status"] == "not regenerated"
    # a failed 4.2 leaves its old Table 2 and Figure 4: neither counts, and Figure 7 is not drawn from it
    for name in ("table2", "table3", "figure4", "figure7"):
        assert report.loc[name, "status"] == "not regenerated", name
        assert "raised ValueError" in report.loc[name, "note"], name
    assert "an older table2.csv is left" in report.loc["table2", "note"]
    # 4.3 ran after its files were written: they are current
    assert report.loc["table6", "status"] == "compared" and report.loc["figure8", "status"] == "regenerated"


def test_trivial_rows_are_not_matches_and_bad_tables_are_not_comparable(tmp_path: Path) -> None:
    pd.DataFrame({"method": ["Original"], "kernel": [""], "cosine_distance": [0.0]}).to_csv(
        tmp_path / "table1.csv", index=False)
    (tmp_path / "table2.csv").write_text("dataset,mean_probability_distance\nCK+,0.1\n")
    report = book.reproduction_table(tmp_path, {}).set_index("result")
    assert report.loc["table1", "status"] == "not comparable" and report.loc["table1", "rows_compared"] == 0
    assert "trivial rows left out" in report.loc["table1", "note"]
    assert report.loc["table2", "status"] == "not comparable" and "lacks key columns" in report.loc["table2", "note"]
    assert str(tmp_path) not in report.loc["table2", "note"]
    assert report.loc["figure7", "status"] == "not regenerated"  # nothing to draw from
    # an Original row that is not 0 is a real difference and counts
    pd.DataFrame({"method": ["Original"], "kernel": [""], "cosine_distance": [0.2]}).to_csv(
        tmp_path / "table1.csv", index=False)
    row = book.reproduction_table(tmp_path, {}).set_index("result").loc["table1"]
    assert (row["status"], row["rows_compared"], row["mean_abs_difference"]) == ("compared", 1, 0.2)


def test_reasons_come_from_the_run_record_when_nothing_was_written(tmp_path: Path) -> None:
    record = tmp_path / "run_record.json"
    record.write_text(json.dumps({"profile_name": "smoke", "notebooks": {
        "4_2_expression": {"status": "failed", "error": "notebook 4_2_expression: cell [3] raised KeyError"}}}))
    (tmp_path / "results").mkdir()
    _, report = _report(tmp_path / "results", record)
    assert "raised KeyError" in report.loc["table2", "note"] and "raised KeyError" in report.loc["figure4", "note"]
    assert report.loc["table1", "note"] == "the notebook 4_1_anonymization was not run in profile smoke"


def test_report_cli_names_a_missing_folder(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "book", "report", "--results", str(tmp_path / "nowhere")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 2 and "nowhere: no such results folder" in proc.stderr
    proc = subprocess.run([*CLI, "book", "report", "--results", str(tmp_path), "--record", "absent.json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and "absent.json: no such run record" in proc.stderr


@pytest.mark.book
def test_the_report_notebook_writes_reproduction_csv_and_draws_both_figures(results: Path, tmp_path: Path) -> None:
    import jupytext
    import nbformat
    import papermill

    source, output = tmp_path / "report.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(jupytext.read(REPO / "notebooks" / "5_reproduction_report.py"), str(source))
    papermill.execute_notebook(str(source), str(output), kernel_name="python3", cwd=str(REPO), progress_bar=False,
                               parameters={"results_dir": str(results), "run_record": str(tmp_path / "none.json")})
    report = pd.read_csv(results / "reproduction.csv").set_index("result")
    assert report.loc["table1", "status"] == "compared" and len(report) == 17
    cells = nbformat.read(str(output), as_version=4).cells
    shown = [o for c in cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in shown if o.get("output_type") == "error"]
    html = "\n".join(o.get("data", {}).get(kind, "") for o in shown for kind in ("text/html", "text/markdown"))
    assert "Paper Table 1" in html and "figure3.png" in html and str(tmp_path) not in html
    assert "0.6565666" not in html  # numbers print rounded
    assert sum("image/png" in o.get("data", {}) for o in shown) >= 2 + 3  # Figures 7 and 9, ours 3, 4, 8
