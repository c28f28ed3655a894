# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   ganon:
#     reads_results: true
# ---

# %% [markdown]
# # Reproduction report
#
# This chapter closes the book. It puts every table and every figure of the paper
# {cite:p}`hellmann2024ganonymization` next to what this companion produced in the profile that
# built the book, and it records how the numbers were made: the profile, the machine, the time each
# notebook took and the versions of the packages. Where a result was not produced, the row says why
# instead of leaving a gap.
#
# How to read the comparisons: each number of a table gets one row, with the paper's value as
# printed, ours as the section notebook wrote it to the results folder, the `difference` (ours minus
# the paper) and `within_rounding`, which says whether ours would print as the paper's value. A
# profile other than `paper` uses other data and smaller models, so its differences show that the
# machinery runs, not whether the paper's claims hold (see {doc}`../running` and
# {doc}`../differences`).

# %% tags=["parameters", "remove-cell"]
# Defaults for running this file by hand; `ganon book run` injects the profile's values after this cell.
profile = "smoke"
results_dir = "runs/book/smoke/results"
run_record = "book/generated/run_record.json"

# %% tags=["remove-cell"]
from ganon import book
from ganon.evaluation.figures import attribute_removal_bars, mean_distance_bars

record = book.load_run_record(run_record)
tables = book.compare_tables(results_dir, record)
reproduction_csv, reproduction = book.write_reproduction(results_dir, record)
frames = book.run_record_tables(record)

# %% [markdown]
# ## How this book was run
#
# The profile's settings, the machine that executed the notebooks and the wall time of each one. For
# the `paper` profile, the planning estimate of GPU hours stands beside the measured time.

# %% tags=["remove-input"]
book.show_table(frames["profile"], index=True)

# %% tags=["remove-input"]
book.show_table(frames["hardware"], index=True)

# %% tags=["remove-input"]
book.show_table(frames["notebooks"])

# %% tags=["remove-input"]
book.show_table(frames["versions"], index=True)

# %% [markdown]
# ## Overview
#
# One row per table and figure of the paper. A table is *compared* when at least one of our rows
# matches a row of the paper's (same dataset, method, class, ...); the rows whose value is zero by
# construction, such as the original image measured against itself, do not count. It is *not
# comparable* when ours exists but no row matches, which is what a profile with other data gives. A
# figure is *regenerated* when this run drew it. Otherwise the row says why the result is missing.
# `rows compared` and `mean |ours - paper|` refer to the table's main column. The same table is
# written as data to `reproduction.csv` in the results folder; `ganon book report --results DIR`
# rewrites it for any results folder without running the book.

# %% tags=["remove-input"]
book.show_table(book.report_overview(results_dir, record, table=reproduction))

# %% [markdown]
# ## Section 4.1: identity
#
# Table 1 measures how far the identity embedding of an anonymized face moves from the original's; the
# paper counts a distance above 0.3 as no longer re-identified.

# %% tags=["remove-input"]
book.show_comparison(tables["table1"])

# %% [markdown]
# ## Section 4.2: expressions
#
# Table 2 is the mean change of the emotion classifier's class probabilities, Table 3 the signed-rank
# tests between methods, and Table 4 the classifiers that were trained on anonymized images.

# %% tags=["remove-input"]
book.show_comparison(tables["table2"])

# %% [markdown]
# {numref}`fig-report-emotion-distance` redraws the paper's Figure 7 from Table 2, with our bars
# beside the paper's on the same axes where this run produced a Table 2.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Paper Figure 7, redrawn from Table 2: the mean change of each emotion's probability (lower is better). Solid bars are the paper's values, hatched bars ours where this run produced them.", "name": "fig-report-emotion-distance"}}
book.show_figure(mean_distance_bars(tables["table2"].ours, paper=True))

# %% tags=["remove-input"]
book.show_comparison(tables["table3"])

# %% tags=["remove-input"]
book.show_comparison(tables["table4"])

# %% [markdown]
# ## Section 4.3: facial attributes
#
# Table 5 reports the CelebA attribute classifier that serves as the measuring instrument, and Table 6
# the share of detected attributes that anonymization removed.

# %% tags=["remove-input"]
book.show_comparison(tables["table5"])

# %% tags=["remove-input"]
book.show_comparison(tables["table6"])

# %% [markdown]
# {numref}`fig-report-attribute-removal` redraws the paper's Figure 9 from Table 6 in the same way.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Paper Figure 9, redrawn from Table 6: the share of images in which a detected CelebA attribute is gone after anonymization, the paper's values (grey) beside ours where this run produced them.", "name": "fig-report-attribute-removal"}}
book.show_figure(attribute_removal_bars(tables["table6"].ours, paper=True))

# %% [markdown]
# ## Figures with example faces and confusion matrices
#
# The paper's Figures 3 to 6 and 8 show anonymized examples, Figures 10 and 11 confusion matrices.
# The section notebooks save ours into the results folder; the ones this run produced follow,
# each under its caption.

# %% tags=["remove-input"]
book.show_figures(results_dir, record)
