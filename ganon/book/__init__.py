"""Drive the companion book: run the section notebooks under a profile, build the HTML, report the results.

One module per job: :mod:`~ganon.book.profiles` (what a profile may say), :mod:`~ganon.book.toc` (the
chapters and the repository setting), :mod:`~ganon.book.pairing` (the notebooks Colab opens),
:mod:`~ganon.book.runner` (papermill, skipping unchanged notebooks), :mod:`~ganon.book.record` (machine
and versions), :mod:`~ganon.book.build` (Jupyter Book), :mod:`~ganon.book.report` (the paper's results
beside ours, as data) and :mod:`~ganon.book.display` (what the notebooks call to show them). The names
below are re-exported so that notebooks write ``from ganon import book`` and ``book.show_table(...)``.
"""

from __future__ import annotations

from ganon.book.build import BookBuildError, build_book
from ganon.book.display import (
    comparison_summary,
    comparison_view,
    model_card_summary,
    show_comparison,
    show_figure,
    show_figures,
    show_table,
    shown_text,
)
from ganon.book.pairing import pair_notebooks
from ganon.book.paths import GENERATED_DIR, REPORT_FILE
from ganon.book.profiles import DatasetSource, ModelChoice, Profile, ProfileError, Sizes, load_profile
from ganon.book.record import hardware_info, load_run_record, package_versions, run_record_tables
from ganon.book.report import (
    Comparison,
    compare_table,
    compare_tables,
    figure_file,
    prepare_results,
    record_absent,
    report_overview,
    reproduction_table,
    write_reproduction,
)
from ganon.book.runner import DEFAULT_WATCH, BookRunError, NotebookResult, RunSummary, run_book, tree_digest
from ganon.book.toc import (
    Repository,
    colab_url,
    find_root,
    repository,
    stem_title,
    toc_entries,
    toc_notebooks,
)

__all__ = [
    "DEFAULT_WATCH",
    "GENERATED_DIR",
    "REPORT_FILE",
    "BookBuildError",
    "BookRunError",
    "Comparison",
    "DatasetSource",
    "ModelChoice",
    "NotebookResult",
    "Profile",
    "ProfileError",
    "Repository",
    "RunSummary",
    "Sizes",
    "build_book",
    "colab_url",
    "compare_table",
    "compare_tables",
    "comparison_summary",
    "comparison_view",
    "figure_file",
    "find_root",
    "hardware_info",
    "load_profile",
    "load_run_record",
    "model_card_summary",
    "package_versions",
    "pair_notebooks",
    "prepare_results",
    "record_absent",
    "report_overview",
    "repository",
    "reproduction_table",
    "run_book",
    "run_record_tables",
    "show_comparison",
    "show_figure",
    "show_figures",
    "show_table",
    "shown_text",
    "stem_title",
    "toc_entries",
    "toc_notebooks",
    "tree_digest",
    "write_reproduction",
]
