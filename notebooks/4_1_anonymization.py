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
# # 4.1 Anonymization
#
# How well does GANonymization hide who someone is? The paper {cite:p}`hellmann2024ganonymization`
# answers with a face-recognition model: embed the original face and its anonymized version, and
# measure the cosine distance between the two embeddings (their Eq. 1, one minus the cosine of the
# angle). The recognition model is Facenet512 {cite:p}`schroff2015facenet` from the DeepFace framework
# {cite:p}`serengil2020lightface`, for which a distance above 0.3 counts as "not the same person". The
# faces are those of the WIDER FACE validation split {cite:p}`yang2016wider` (22,738 faces after
# extraction and segmentation), and GANonymization is compared with two other GAN anonymizers,
# DeepPrivacy2 {cite:p}`hukkelas2023deepprivacy2` and CIAGAN {cite:p}`maximov2020ciagan`, and with
# pixelation and Gaussian blur at two strengths each.
#
# The paper's result (Table 1): a mean distance of 0.7145 for GANonymization, 0.8119 for DeepPrivacy2,
# 0.9280 for CIAGAN, 0.8791 and 0.6651 for pixelation "8 × 8" and "16 × 16", and 0.0102 and 0.0725 for
# blur "9 × 9" and "17 × 17". Everything except blur ends up above the threshold on average.
#
# This chapter recomputes that table with the profile's data and models, writes it to the results
# folder for {doc}`5_reproduction_report`, and draws the paper's Figure 3 (example faces of every
# method) from the same faces.

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
from ganon import book

results = book.prepare_results(results_dir, dataset=dataset, samples_dir=samples_dir)

# %% tags=["remove-cell"]
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ganon import visualize
from ganon.backends.detectors import build_detector
from ganon.backends.identity import ModelUnavailableError, build_identity_model
from ganon.data.datasets.base import read_dataset
from ganon.data.samples import sample_photos
from ganon.evaluation.baselines import BASELINES, build_baseline
from ganon.evaluation.figures import identity_distance_bars
from ganon.evaluation.identity import identity_distances, pair_by_relative_path, summarize_identity
from ganon.evaluation.reference import paper_table
from ganon.imageio import read_image, write_image
from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer
from ganon.pipeline.segment import apply_mask, build_segmenter
from ganon.pipeline.synthesize import Synthesizer
from ganon.weights import WeightsNotFoundError, resolve_weights

#: Table 1's rows for the methods ganon runs itself: method, kernel (as the paper's CSV writes them).
TABLE1_ROWS = {"Original": ("Original", ""), "GANonymization": ("GANonymization", ""),
               "pixelate-8x8": ("Pixelation", "8x8"), "pixelate-16x16": ("Pixelation", "16x16"),
               "blur-9x9": ("Blur", "9x9"), "blur-17x17": ("Blur", "17x17")}
#: The other anonymizers of the paper, which ganon does not run.
EXTERNAL = {"DeepPrivacy2": "DeepPrivacy2 is a separate project with its own models and is not run by ganon",
            "CIAGAN": "CIAGAN is a separate project with its own models and is not run by ganon"}

# %% [markdown]
# ## What this profile measures with
#
# Every ingredient comes from the profile: the faces (`dataset`), the detector, the segmenter, the
# generator and the identity model (`models`). When one of them is not available on this machine,
# the chapter says which and why, and the reproduction report shows the paper's table alone.

# %%
problems: list[str] = []
if dataset == "samples":
    inputs = sample_photos(samples_dir)[: sizes["max_images"]]
    source = f"the first {len(inputs)} sample photos"
else:
    try:
        wider = read_dataset("wider-face", datasets["wider"]["data_dir"], splits=("val",))
        inputs = [Path(p) for p in wider["path"]][: sizes["max_images"]]
        source = f"{len(inputs)} WIDER FACE validation photos"
    except (KeyError, FileNotFoundError) as error:
        inputs, source = [], "none"
        problems.append(f"WIDER FACE is not available: {str(error).splitlines()[0]}")
try:
    weights = resolve_weights(models["generator"])
except WeightsNotFoundError as error:
    weights = None
    problems.append(f"the generator {models['generator']!r} is not available: {str(error).split(';')[0]}")
try:
    identity = build_identity_model(models["identity"])
except ModelUnavailableError as error:
    identity = None
    problems.append(f"the identity model {models['identity']!r} is not available: {error}")
try:
    detector = build_detector(models["detector"])
    segmenter = build_segmenter(models["segmenter"])
except RuntimeError as error:
    problems.append(str(error))
print("faces from:", source)
print("identity model:", identity if identity is not None else "missing")
print("generator:", weights if weights is not None else "missing")
for problem in problems:
    print("missing:", problem)

# %% [markdown]
# ## Anonymizing every face
#
# Each photo goes through the stages of Section 3: the faces are detected and aligned (3.1), each
# aligned face is segmented (3.2) to give the "original" of Table 1, as the paper prepared WIDER, and
# GANonymization paints a new face from the landmarks (3.3, 3.4). The paper's form of output is used:
# the synthesized square, not the face put back into the photo, and a face without landmarks gets
# the generator's average face. The classical baselines (`ganon.evaluation.baselines`) are applied
# to the segmented original. Every version of every face is written as a PNG below the results
# folder, so the evaluation can be repeated with `ganon evaluate identity`.
#
# Pixelation needs a reading of the paper's "kernel sized 8 × 8": `ganon` divides the face into a
# grid of 8 × 8 (or 16 × 16) cells, because only that reading gives the paper's order, where "8 × 8"
# hides more than "16 × 16"; blocks of 8 or 16 pixels would give the opposite order (see
# {doc}`../differences`). Blur uses OpenCV's Gaussian kernel of 9 × 9 and 17 × 17 pixels.

# %%
faces_dir = results / "table1_faces"
examples: list[dict[str, np.ndarray]] = []
if not problems:
    shutil.rmtree(faces_dir, ignore_errors=True)
    synthesizer = Synthesizer.from_file(weights, device=device, batch_size=sizes["batch_size"])
    paper_mode = AnonymizeConfig.paper(resolution=sizes["image_size"], detector=models["detector"])
    anonymizer = Anonymizer(synthesizer, paper_mode, detector=detector)
    baselines = {name: build_baseline(name) for name in BASELINES.names()}
    for path in inputs:
        image = read_image(path).rgb
        stages = anonymizer.stages(image)
        crops = anonymizer.assemble(image, stages).crops
        for index, (stage, synthetic) in enumerate(zip(stages, crops)):
            original = apply_mask(stage.aligned.image, segmenter(stage.aligned.image, stage.landmarks))
            versions = {"Original": original, "GANonymization": synthetic,
                        **{name: baseline(original) for name, baseline in baselines.items()}}
            for method, face in versions.items():
                write_image(faces_dir / method / f"{path.stem}_{index}.png", face)
            if index == 0 and len(examples) < 6:
                examples.append(versions)
    print(f"{sum(1 for _ in (faces_dir / 'Original').glob('*.png'))} faces from {len(inputs)} photos")

# %% [markdown]
# ## Measuring identity
#
# `ganon.evaluation.identity` pairs each original with its anonymized versions by file name, embeds
# both with the identity model and computes the cosine distance. A face that the identity model cannot
# find at all in the anonymized image gets no distance; it is counted separately (`n_no_face`),
# because it cannot be re-identified either, but it also says nothing about how similar the new face
# is.

# %%
if not problems:
    cache: dict = {}
    per_face = pd.concat([identity_distances(pair_by_relative_path(faces_dir / "Original", faces_dir / method),
                                             identity, method_name=method, original_cache=cache, progress=False)
                          for method in ["Original", "GANonymization", *BASELINES.names()]], ignore_index=True)
    per_face.to_csv(results / "table1_per_face.csv", index=False)
    summary = summarize_identity(per_face)
    measured = summary.set_index("method")
    ours_for = {row: method for method, row in TABLE1_ROWS.items()}
    rows = []
    for method, kernel in zip(paper_table("table1")["method"], paper_table("table1")["kernel"].fillna("")):
        mine = ours_for.get((method, kernel))
        if mine is None:  # a method ganon does not run
            rows.append({"method": method, "kernel": kernel, "cosine_distance": np.nan, "note": EXTERNAL[method]})
            continue
        m = measured.loc[mine]
        rows.append({"method": method, "kernel": kernel, "cosine_distance": m["mean"], "std": m["std"],
                     "n": m["n"], "n_no_face": m["n_no_face"], "fraction_above_threshold": m["fraction_above_threshold"],
                     "backend": m["backend"], "metric": m["metric"], "threshold": m["threshold"], "note": ""})
    table1 = pd.DataFrame(rows)
    table1.to_csv(results / "table1.csv", index=False)
    (results / "table1.absent.txt").unlink(missing_ok=True)
    book.show_table(table1.drop(columns=["backend", "metric"]))
else:
    reason = "; ".join(problems)
    for name in ("table1", "figure3"):
        (results / f"{name}.csv").unlink(missing_ok=True)
        (results / f"{name}.png").unlink(missing_ok=True)
        book.record_absent(results, name, reason)
    print("Table 1 and Figure 3 are not regenerated in this profile:", reason)

# %% [markdown]
# ## Beside the paper
#
# The same comparison as in the reproduction report: the paper's value as printed, ours, and the
# difference.

# %%
book.show_comparison(book.compare_table("table1", results_dir=results))

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Table 1 as bars, the paper's: mean Facenet512 cosine distances on WIDER FACE with its threshold of 0.3. Bars above the dashed line are drawn solid: on average those faces are no longer recognized as the original.", "name": "fig-4-1-bars-paper"}}
paper_bars = identity_distance_bars(paper_table("table1"), threshold=0.3)
paper_bars.axes[0].set_title("paper (Facenet512, WIDER FACE)")
book.show_figure(paper_bars)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Table 1 as bars, ours: the mean distance of this profile's identity model between each original face and its anonymized version, with that model's threshold. Bars above the dashed line are drawn solid.", "name": "fig-4-1-bars"}}
if not problems:
    ours_bars = identity_distance_bars(table1.dropna(subset=["cosine_distance"]), threshold=identity.threshold)
    ours_bars.axes[0].set_title(f"ours ({identity.name}, {source})")
    book.show_figure(ours_bars)

# %% [markdown]
# How to read our numbers. In the `smoke` profile they come from a handful of sample photos and from
# dlib's face descriptor {cite:p}`king2009dlib` instead of Facenet512. dlib's distances are on another
# scale: its usual threshold of 0.6 on the Euclidean distance corresponds to a cosine distance of
# about 0.08 (see `ganon.backends.identity`), so compare which methods end up above the threshold and
# their order, not the raw values. The baselines behave alike on any data: blur barely moves the
# embedding, and pixelation moves it so far that, on small crops like these, dlib often finds no face
# at all in the result; such faces are counted in `n_no_face`, not in the mean. GANonymization's row depends entirely on the
# generator the profile names (see its model card in {doc}`3_4_resynthesis`): an untrained or small
# generator paints something that the identity model may not even recognise as a face, which shows
# up in `n_no_face` rather than as a distance.
#
# ## Figure 3: the faces
#
# The paper's Figure 3 shows WIDER faces anonymized by each method. Here are the first faces of our
# input photos, each version exactly as it was measured above.

# %%
columns = ["Original", "GANonymization", "DeepPrivacy2", "CIAGAN", "pixelate-8x8", "pixelate-16x16", "blur-9x9",
           "blur-17x17"]  # the paper's order
titles = [f"{method} {kernel.replace('x', '×')}".strip() for method, kernel in
          (TABLE1_ROWS.get(c, (c, "")) for c in columns)]
if examples:
    figure3 = visualize.face_grid([[versions.get(c) for c in columns] for versions in examples], col_titles=titles,
                                  size=1.6, missing="not run by ganon")
    figure3.savefig(results / "figure3.png", dpi=110)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Our Figure 3: one face per row, segmented as in the paper's evaluation, and its versions by every method of Table 1. DeepPrivacy2 and CIAGAN are separate projects that ganon does not run, so their columns are empty.", "name": "fig-4-1-figure3"}}
if examples:
    book.show_figure(figure3)
else:
    print("Figure 3 is not regenerated in this profile:", "; ".join(problems))

# %% [markdown]
# ## How this differs from the paper and the authors' code
#
# - **Identity model.** The paper names Facenet512; the evaluation script the authors released used
#   VGG-Face without detection or alignment. The `paper` profile follows the paper; `smoke` uses dlib,
#   whose distances and threshold are on another scale (see {doc}`../differences`).
# - **Faces.** The `smoke` profile measures on the sample photos, not on WIDER FACE. The `paper`
#   profile reads WIDER's validation split through its manifest and takes `sizes["max_images"]`
#   photos (all of them when it is unset).
# - **Other anonymizers.** DeepPrivacy2 and CIAGAN are not run by `ganon`; their rows keep the
#   paper's values only.
# - **Pixelation and blur.** The paper does not say what "kernel sized 8 × 8" means; `ganon` takes
#   the reading that reproduces the paper's order and names it (`pixelate(..., mode="grid")`).
# - **Faces that disappear.** A face that the identity model no longer finds is counted in
#   `n_no_face` and left out of the mean, instead of silently dropping out of the table.
#
# ```{admonition} Try this
# :class: tip
# - Use blocks instead of a grid: `build_baseline("pixelate-8x8", mode="block")`. Does the order of
#   8 × 8 and 16 × 16 flip, as {doc}`../differences` says?
# - Blur much harder, `build_baseline("blur-9x9", kernel=51)`: how large must the kernel be before
#   dlib's distance passes its threshold?
# - Measure with dlib's own Euclidean distance, `build_identity_model("dlib", metric="euclidean")`,
#   and compare the fraction above its threshold of 0.6 with the cosine version.
# - Skip dlib's detector with `build_identity_model("dlib", assume_aligned=True)`: faces that were
#   counted in `n_no_face` now get a distance. Is that fairer?
# ```
