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
# ---

# %% [markdown]
# # 9.9 Title of the section
#
# Copy this file to `notebooks/<section>_<topic>.py` and list `book/generated/<section>_<topic>` in
# `_toc.yml`. Start with an overview in prose: what the paper's section does, what this chapter shows,
# and what a reader should look at. Cite with {cite:p}`hellmann2024ganonymization`; link pages with
# {doc}`../differences`. Notebooks narrate and call `ganon`; anything worth reusing goes into the package.

# %% tags=["parameters", "remove-cell"]
# Defaults for running the file by hand (smoke). `ganon book run` injects the profile's values after
# this cell; these are all the names it injects.
profile = "smoke"
device = "cpu"
seed = 0
dataset = "samples"
models = {"detector": "retinaface-mobilenet", "segmenter": "mediapipe-head", "landmark_style": "authors",
          "generator": "ganon-synth-128", "identity": "dlib", "emotion": "fer", "attributes": "age-gender"}
sizes = {"image_size": 256, "max_images": 8, "batch_size": 4, "gan_epochs": 1,
         "classifier_max_epochs": 1, "num_workers": 0}
datasets = {}  # paper profile: name -> {"manifest": ..., "data_dir": ...}
stand_in_datasets = {}  # paper dataset key -> a labelled stand-in (smoke: {"faces": "openpeople"})
data_dir = "samples"
samples_dir = "samples"
results_dir = "runs/book/smoke/results"
run_record = "book/generated/run_record.json"
repository_url = "https://github.com/ganon-project/ganon"  # _config.yml repository.url (a test checks)

# %% tags=["remove-cell"]
# On Colab, install the companion from the repository named in _config.yml (injected as repository_url).
import subprocess
import sys

if "google.colab" in sys.modules and repository_url:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    f"ganon[train,eval,book] @ git+{repository_url}"], check=True)

# %% tags=["remove-cell"]
from ganon import book

results = book.prepare_results(results_dir, dataset=dataset, samples_dir=samples_dir)

# %% [markdown]
# ## A step of the method
#
# Short cells that call the package and show the result on a real photo. Name and caption figures in
# the cell metadata, for example
# `# %% tags=["remove-input"] mystnb={"figure": {"caption": "...", "name": "fig-..."}}`.

# %%
# Results that the reproduction report compares with the paper go to results_dir, e.g.
#   table.to_csv(results / "table1.csv", index=False)        # columns as in the paper's CSV
#   fig.savefig(results / "figure3.png")
# and a result this profile cannot produce says why:
#   book.record_absent(results, "table4", "AffectNet is not part of the smoke profile")
print(f"profile {profile}, device {device}, results in {results}")
