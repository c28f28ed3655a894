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
# # 3.4 Re-synthesis
#
# The last stage paints a new face from the landmark drawing of {doc}`3_3_landmarks`. The paper
# {cite:p}`hellmann2024ganonymization` uses pix2pix {cite:p}`isola2017pix2pix`, a conditional GAN for
# paired image-to-image translation, in the PyTorch version of E. Linder-Norén
# {cite:p}`linder2018pytorchgan`. The training pairs come for free: run Sections 3.1 to 3.3 over CelebA
# {cite:p}`liu2015celeba` (202,599 photos), and every face gives a target (the segmented face) and its
# input (the drawing of its landmarks). The generator thus learns to undo the landmark extraction, and
# because the drawing holds no skin, hair or colour, it has to invent them. The paper trains for 25
# epochs with batches of 32, Adam with a learning rate of 0.0002 and betas 0.5 and 0.999, and images
# scaled to [-1, 1] (mean and standard deviation 0.5 per channel).
#
# This chapter describes the two networks and their training objective, points out where the authors'
# training code deviates from pix2pix, introduces the generator this book runs with, and shows every
# stage of the re-synthesis on real photos.

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
import math
import shutil

import numpy as np
import pandas as pd
import torch

from ganon import visualize
from ganon.backends.detectors import build_detector
from ganon.data.samples import sample_photos
from ganon.imageio import read_image
from ganon.pipeline.preprocess import PreprocessConfig, preprocess, read_manifests
from ganon.training.config import get_preset
from ganon.training.fit import export_generator, fit
from ganon.visualize import face_label
from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer
from ganon.pipeline.extract import AlignConfig
from ganon.pipeline.landmarks import render_landmarks
from ganon.pipeline.synthesize import Synthesizer
from ganon.reproduce import method
from ganon.weights import WeightsNotFoundError, resolve_weights

photos = {path.stem: path for path in sample_photos(samples_dir)}
_ = torch.manual_seed(seed)

# %% [markdown]
# ## Two networks
#
# **Generator.** A U-Net: an encoder of eight blocks, each halving the image with a 4 × 4 convolution
# of stride 2 (then instance normalisation and a leaky ReLU), widening from 64 to 512 channels, so
# that a 512-pixel drawing shrinks to a 2 × 2 bottleneck; then a decoder of seven blocks that doubles
# the size again with transposed convolutions, each joined to the encoder block of the same size by a
# skip connection, and an output layer with Tanh. The skips let the output keep the exact positions
# of the input's points, while the bottleneck decides the face's overall look. The five innermost
# blocks use dropout 0.5 while training; at inference the network runs in evaluation mode, so the
# same drawing always gives the same face.
#
# **Discriminator.** A PatchGAN: it sees a face together with the drawing it was made from (six
# channels) and judges each patch of the face separately, giving a 32 × 32 grid of scores for a
# 512-pixel input. Judging patches rather than the whole image pushes the generator towards sharp
# local texture.
#
# `ganon.models.pix2pix` builds both from named presets. `paper` rebuilds the authors' networks
# exactly; the smaller presets keep the design with fewer channels, fewer blocks or fewer pixels, so
# that a generator can be trained on a single GPU in hours or tested on a CPU in seconds.

# %%
presets = method.network_presets()
paper_row = presets.set_index("preset").loc["paper"]
print("paper preset equals the authors' networks (54,404,099 and 2,767,808 parameters):",
      paper_row["generator parameters"] == 54_404_099 and paper_row["discriminator parameters"] == 2_767_808)
count_columns = ["generator parameters", "discriminator parameters"]
book.show_table(presets.assign(**{c: presets[c].map(lambda n: f"{n:,}" if pd.notna(n) else "") for c in count_columns}))

# %% [markdown]
# The paper's generator has 54.4 million parameters (about 218 MB in 32-bit floats); halving the
# channels and dropping one block (`small-128`) leaves about a fifth of them, and `tiny-64`, which
# exists only to test the code, has less than one per cent. All presets are fully convolutional, so a generator also accepts other
# sizes that are multiples of `2 ** depth`, but it only produces good faces near the resolution it
# was trained at.
#
# ## What the networks are trained to do
#
# For a drawing $x$ and its true face $y$, the generator $G$ is trained to fool the discriminator $D$
# and, at the same time, to stay close to the true face pixel by pixel:
#
# $$
# \mathcal{L}_G = \operatorname{mean}\bigl(D(G(x), x) - 1\bigr)^2 + \lambda\,\operatorname{mean}\,\lvert G(x) - y\rvert,
# \qquad \lambda = 100,
# $$
#
# while the discriminator learns to give 1 to real pairs and 0 to generated ones:
#
# $$
# \mathcal{L}_D = \tfrac12\Bigl[\operatorname{mean}\bigl(D(y, x) - 1\bigr)^2 + \operatorname{mean}\,D(G(x), x)^2\Bigr].
# $$
#
# The squared errors are the least-squares GAN loss (LSGAN) of the PyTorch pix2pix that the authors
# built on, rather than the cross-entropy of the original pix2pix paper; the weight 100 on the L1 term
# is that implementation's default. The paper itself names neither; both come from the authors' code
# (see {doc}`../differences`). The L1 term ties the output to the drawing's geometry; the adversarial
# term keeps it from being the blurry average that L1 alone would produce.
#
# **A fault in the authors' training step.** In the authors' code the generator runs twice per batch:
# once for its own update and once more to make the fake face for the discriminator's update. The
# usual pix2pix step makes the fake once and hands a detached copy to the discriminator. Because the
# generator is in training mode, the second run draws new dropout masks, so the discriminator judges a
# different fake than the one the generator was updated on, and each step costs an extra forward pass
# of the largest network. The loss is the same in form; `ganon`'s training (the `ganon train` command)
# makes the fake once, as pix2pix does.
#
# ## Training presets
#
# `ganon.training.config.TRAIN_PRESETS` holds the training settings by name. `paper` is Section 3.4
# as published; the others are what a single smaller GPU or a CPU can afford, with the same loss and
# optimiser. `ganon train --preset NAME` uses them, and every run stores its full configuration and
# seed beside the checkpoints.

# %%
train_presets = method.training_presets()
book.show_table(train_presets)
paper_cfg = get_preset("paper")
book.show_table(visualize.beside_paper({
    "gan_input_height_px": paper_cfg.resolution, "gan_epochs": paper_cfg.epochs, "gan_batch_size": paper_cfg.batch_size,
    "gan_learning_rate": paper_cfg.lr, "gan_adam_beta1": paper_cfg.betas[0], "gan_adam_beta2": paper_cfg.betas[1]}))

# %% [markdown]
# The second table puts the `paper` preset beside the numbers printed in Section 3.4: they agree.
#
# ## Training, run here
#
# Training needs pairs. `ganon.pipeline.preprocess` runs Sections 3.1 to 3.3 over a folder of photos
# and writes, for every face, the segmented face (the target) and its landmark drawing (the input)
# as lossless PNGs, together with a manifest and a train/validation split drawn with the profile's
# seed. `ganon.training.fit` then trains pix2pix on them with PyTorch Lightning and writes
# checkpoints, a log of the losses and, every few hundred steps, a grid of fixed validation faces.
#
# What runs here depends on the profile. In `smoke` the sample photos become pairs at 64 pixels and
# the `cpu-test` preset trains for `sizes["gan_epochs"]` epoch(s): a few steps of a tiny network,
# enough to see every part of the loop work and not nearly enough to paint a face. In `paper` the
# same cell preprocesses CelebA at 512 pixels with the profile's detector and segmenter and trains
# the `paper` preset for 25 epochs on the GPU, resuming from its last checkpoint when the book is
# run again (this is most of the 40 GPU hours the `paper` profile plans for this chapter).

# %%
training_dir = results.parent / "resynthesis"
if dataset == "paper":
    pairs_source, preset = Path(datasets["celeba"]["data_dir"]), "paper"
    pair_config = PreprocessConfig(resolution=512, detector=models["detector"], segmenter=models["segmenter"],
                                   render_style=models["landmark_style"], seed=seed)
else:  # a fresh, seeded miniature run every time
    shutil.rmtree(training_dir, ignore_errors=True)
    pairs_source, preset = Path(samples_dir) / "photos", "cpu-test"
    pair_config = PreprocessConfig(resolution=64, detector=models["detector"], segmenter=models["segmenter"],
                                   render_style=models["landmark_style"], seed=seed)
made = preprocess(pairs_source, training_dir / "pairs", pair_config, workers=max(1, sizes["num_workers"]),
                  progress=False)
print(f"{made.sources} photos: {made.pairs} new pairs, {made.skipped} photos done earlier, "
      f"{made.no_landmarks} faces without landmarks, {made.no_face} photos without a face")

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Training pairs as ganon stores them: the landmark drawing (the generator's input) above the segmented face (its target), at the resolution of the profile's training preset.", "name": "fig-3-4-pairs"}}
stored_pairs = [row for row in read_manifests(training_dir / "pairs") if row["status"] == "ok"]
pair_rows_shown = stored_pairs[:6]
book.show_figure(visualize.face_grid(
    [[read_image(training_dir / "pairs" / row[column]).rgb for row in pair_rows_shown]
     for column in ("landmarks_path", "face_path")],
    col_titles=[face_label(Path(row["source"]).stem) for row in pair_rows_shown],
    row_titles=["input: landmarks", "target: segmented face"], size=1.5))

# %% tags=["remove-output"]
# Lightning's own progress messages and model summary are left out of the book; the next cell sums up.
n_train = sum(row["split"] == "train" for row in stored_pairs)
train_config = get_preset(preset).replace(epochs=max(1, sizes["gan_epochs"]), batch_size=sizes["batch_size"],
                                          num_workers=sizes["num_workers"], render_style=models["landmark_style"],
                                          seed=seed)
steps = math.ceil(n_train / train_config.batch_size) * train_config.epochs
if dataset != "paper":  # a grid at the end of the miniature run
    train_config = train_config.replace(sample_every=steps, val_every=steps)
fitted = fit(training_dir / "pairs", training_dir / "run", train_config,
             accelerator="gpu" if device == "cuda" else "cpu",
             resume=(training_dir / "run" / "ckpt" / "last.ckpt").is_file(), progress=False,
             command=["notebook", "3_4_resynthesis", f"profile={profile}"])
trained_weights, trained_card = export_generator(fitted.checkpoint, training_dir / f"{profile}-trained.safetensors",
                                                 name=f"{profile}-book-run", overwrite=True)

# %%
print(f"{train_config.name}: {n_train} training pairs, {fitted.steps} steps in {fitted.wall_time_s:.0f} s")
book.show_table(visualize.card_table({k: trained_card.get(k) for k in
                                      ("name", "resolution", "parameters", "steps", "epoch", "wall_time_s",
                                       "samples_per_s", "metrics")}))

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The last sample grid of the run above, as ganon's training writes it: for fixed validation faces, the landmark drawing, the generator's output and the true face, side by side.", "name": "fig-3-4-training-grid"}}
grids = visualize.training_grids(fitted.run_dir)
if grids:
    book.show_figure(visualize.show_images([read_image(grids[-1]).rgb], titles=[grids[-1].stem], size=3.6))

# %% [markdown]
# `metrics` are the mean losses over the last logged steps: `g_loss` is the generator's total,
# `g_gan + 100 × g_l1`, so early in training the L1 term dominates it; `d_loss` is the
# discriminator's, the mean of `d_real` and `d_fake`. After a handful of steps the output is still the
# texture of a fresh network. Note also how crowded the authors' plus signs are at 64 pixels: the
# drawing style was designed for 512, and at small sizes the points of eyes and lips merge. The generator that ships with `ganon` went through
# the same loop for much longer; its card below says on what and for how long.
#
# ## The generator used in this book
#
# The profile names the weights (`models["generator"]`): a path, a model that ships with `ganon`, or
# a named asset from `data_manifests/`. The weights file carries its architecture, the landmark style
# it was trained on and a model card saying how it was made. The later chapters use this generator,
# not the one just trained. The table shows the card's key rows; the whole card, with every
# setting, loss and quality figure, is the JSON file beside the weights that its last row names
# (for the default model, `ganon/weights_data/ganon-synth-128.json` in the repository). Its
# `selection_note` matters for reading Chapter 4: the default model's fine-tuning recipe and
# stopping point were chosen on the same sample faces that the later chapters measure.

# %%
try:
    weights = resolve_weights(models["generator"])
except WeightsNotFoundError as error:
    weights, missing_reason = None, str(error)
    print(f"generator {models['generator']!r} is not available: {missing_reason}")
if weights is not None:
    synthesizer = Synthesizer.from_file(weights, device=device, batch_size=sizes["batch_size"])
    print(synthesizer)
    print(f"sha256 {synthesizer.sha256[:16]}…, trained on the '{synthesizer.render_style}' landmark style")
    card = visualize.model_card(weights, synthesizer.card)
    card_file = weights.with_suffix(".json") if weights.with_suffix(".json").is_file() else None
    book.show_table(book.model_card_summary(card, source=card_file))
    if card.get("trained") is False:
        print("This generator is UNTRAINED (random weights): its faces below are noise by design.")

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The generator's own sample grid, if one was kept beside its weights: landmark drawings, its output and the true faces, from the end of its training.", "name": "fig-3-4-model-samples"}}
shipped_grids = sorted(weights.parent.glob(f"{weights.stem}*.png")) if weights is not None else []
if shipped_grids:
    book.show_figure(visualize.show_images([read_image(p).rgb for p in shipped_grids],
                                           titles=[p.stem for p in shipped_grids], size=4.5))
else:
    print("No sample grid is kept beside these weights; the stages below show the generator at work.")

# %% [markdown]
# The card says what this generator was trained on. The published model of the paper was trained on
# CelebA at 512 pixels for 25 epochs; in the `paper` profile it is loaded from the authors'
# checkpoint. A generator trained on fewer faces or at a lower resolution paints less convincing
# faces, but it goes through exactly the same stages.
#
# ## The stages on real photos
#
# `ganon.pipeline.anonymize.Anonymizer` chains the stages of Sections 3.1, 3.3 and 3.4 and keeps every
# intermediate picture: the aligned face, its landmark drawing at the generator's resolution, the
# synthesized face, and the region of the photo that the new face replaces. That region, the filled
# face outline of the mesh, is `ganon`'s addition: the paper's output is the synthesized square itself,
# whereas `ganon` can also blend the new face back into the photo.

# %%
if weights is not None:
    try:
        detector = build_detector(models["detector"])
    except RuntimeError:  # the paper's detector needs the paper environment
        detector = build_detector("retinaface-mobilenet")
    anonymizer = Anonymizer(synthesizer, AnonymizeConfig(align=AlignConfig(resolution=sizes["image_size"])),
                            detector=detector)
    chosen = ["astronaut", "grace_hopper", "portrait_f1_surprise", "portrait_f15_happy", "tom_hanks"]
    grid, labels = method.stage_rows(anonymizer, photos, chosen)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Re-synthesis, one face per row: the aligned face (Section 3.1), its landmark drawing at the generator's resolution (Section 3.3), the face the generator paints from the drawing, and the face outline that marks what replaces the original when the face is put back into the photo.", "name": "fig-3-4-stages"}}
if weights is not None:
    book.show_figure(visualize.face_grid(grid, row_titles=labels, size=2.0, missing="no landmarks",
                                         col_titles=list(visualize.STAGE_TITLES)))
else:
    print(f"No generator, so no pictures: {missing_reason}")

# %% [markdown]
# ### Back into the photo
#
# The paper stops at the synthesized square. `ganon` inverts the alignment of Section 3.1, matches the
# new face's colours to the old one's, and blends it in with a soft edge inside the face outline, so
# that hair, ears and background stay as they were (`ganon.pipeline.composite`).

# %%
if weights is not None:
    group = read_image(photos["group_t1"]).rgb
    result = anonymizer(group)
    print(", ".join(f"face {f.index}: {f.status}" for f in result.faces))

# %% tags=["remove-input"] mystnb={"figure": {"caption": "A group photo before and after anonymization: each detected face is replaced by the synthesized one, blended in inside its face outline.", "name": "fig-3-4-composite"}}
if weights is not None:
    book.show_figure(visualize.show_images([group, result.composite], titles=["original", "anonymized"], size=5.0))

# %% [markdown]
# ### Three properties worth checking
#
# **Determinism.** The generator runs in evaluation mode, so dropout is off and the same drawing gives
# the same face every time. (The original pix2pix kept dropout on at test time as a source of
# randomness; the authors' inference does not.) **The empty canvas.** For a face without landmarks the
# paper feeds a black canvas and gets an "average" face; here is what this generator makes of it.
# **The drawing style.** A generator knows only the style it was trained on; the last panel gives it
# the other style.

# %%
if weights is not None:
    stage = anonymizer.stages(read_image(photos["portrait_f15_happy"]).rgb)[0]
    again = synthesizer([stage.canvas])[0]
    print("same drawing, same face:", bool(np.array_equal(again, stage.synthesized)))
    blank = np.zeros_like(stage.canvas)
    other = "paper" if synthesizer.render_style == "authors" else "authors"
    other_canvas = render_landmarks(stage.landmarks, size=synthesizer.resolution, style=other)
    checks = [stage.synthesized, blank, synthesizer([blank])[0], other_canvas, synthesizer([other_canvas])[0]]

# %% tags=["remove-input"] mystnb={"figure": {"caption": "From left: the synthesized face of one portrait; an empty canvas and what the generator paints from it (the paper's 'average face'); the same portrait's landmarks drawn in the style the generator was not trained on, and the face it paints from them.", "name": "fig-3-4-checks"}}
if weights is not None:
    book.show_figure(visualize.show_images(
        checks, titles=["from its drawing", "empty canvas", "'average face'", f"'{other}' style", "from that style"],
        size=2.3))

# %% [markdown]
# ## How this differs from the paper and the authors' code
#
# - **Output.** The authors' code writes a 512 × 512 head on black for each face. `ganon` can do the
#   same (`AnonymizeConfig(mode="crops")`) and by default puts the face back into the photo.
# - **Faces without landmarks** are obscured and reported by default instead of being replaced by the
#   average face (see {doc}`3_3_landmarks`).
# - **Training** computes the fake once per step (see above), stores training pairs without JPEG
#   loss, segments the targets with the same stage as inference can, and seeds everything it draws at
#   random, including the train/validation split. The book trains in every profile (a miniature run in
#   `smoke`); `ganon preprocess` and `ganon train` do the same from the command line, resumably, and the
#   exported model card records the data, the steps, the losses and the seed.
# - **Inference** loads the generator once for all faces, runs without gradients, in batches, on a
#   CPU or a GPU; the authors' code reloads the checkpoint for every face and assumes a GPU.
#
# ```{admonition} Try this
# :class: tip
# - Train the miniature run longer: in the training cell use `epochs=50` instead of
#   `sizes["gan_epochs"]` and watch the sample grids in `visualize.training_grids(fitted.run_dir)`:
#   when does the output start to follow the landmarks, and when does it start to copy the few
#   training faces?
# - Compare the authors' training step: `train_config.replace(double_forward=True)`. How much longer
#   does a step take?
# - Count the parameters of a preset of your own:
#   `count_parameters(build_generator(GeneratorConfig(width=16, depth=7, resolution=128)))`
#   (`GeneratorConfig` is in `ganon.models.pix2pix`). Which choice costs the most parameters?
# - Give the generator a drawing with the mouth points removed and see what it paints there.
# - Anonymize the group photo with `anonymizer.with_config(mode="crops")` and compare the crops with
#   the composite.
# - Soften or sharpen the seam with `BlendConfig(feather=0.08)` or `BlendConfig(feather=0.01)` from
#   `ganon.pipeline.composite`, passed as `anonymizer.with_config(blend=...)`.
# ```
