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
# # 3.2 Segmentation
#
# The second stage blacks out everything on the face canvas that is not head. The paper
# {cite:p}`hellmann2024ganonymization` motivates it by the re-synthesis of Section 3.4: pix2pix
# produced better faces when its training targets did not contain the many different backgrounds of
# the photos. Every pixel outside the head is therefore set to 0, using a U-Net trained for head
# segmentation (face and hair).
#
# This chapter shows the masks on real faces, what they keep and what they drop, and it looks at a
# question the paper leaves open: does it matter for the landmarks whether the background is still
# there? It matters because the authors' code segments only while it builds training pairs, not
# when it anonymizes (see {doc}`../differences`).
#
# What to look at: hair, ears, glasses and hands near the face, and the line below the chin. The faces
# here are cut with a quarter of the box as extra margin (Section 3.1's `AlignConfig(margin=0.25)`);
# with the paper's tight crop most of the canvas is face anyway, and the masks would have little to
# remove.

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
from ganon import visualize
from ganon.backends.detectors import build_detector
from ganon.backends.face_mesh import FaceMesh
from ganon.data.samples import sample_photos
from ganon.pipeline.extract import AlignConfig
from ganon.pipeline.segment import SEGMENTERS, build_segmenter
from ganon.reproduce import method

photos = {path.stem: path for path in sample_photos(samples_dir)}
try:
    detector = build_detector(models["detector"])
except RuntimeError:  # the paper's detector needs the paper environment; the stage shown here does not
    detector = build_detector("retinaface-mobilenet")
# A quarter of the box as extra context (the paper crops tightly): more background makes the masks' work visible.
align = AlignConfig(resolution=sizes["image_size"], margin=0.25)
mesh = FaceMesh()


# %% [markdown]
# ## The segmenter
#
# The profile names the segmenter (`models["segmenter"]`), built from the registry
# `ganon.pipeline.segment.SEGMENTERS`. `head-unet` is the paper's model; its package and weights are
# not on PyPI, so the `paper` profile needs them installed (see {doc}`../running`). The offline
# `mediapipe-head` builds a head mask from two models that ship with MediaPipe: the person mask of its
# selfie segmentation, cut off a little below the chin so that neck and shoulders go, united with the
# filled outline of the face mesh, so that the face itself is never cut away.

# %%
print("registered segmenters:", ", ".join(SEGMENTERS.names()))
try:
    segmenter = build_segmenter(models["segmenter"])
except RuntimeError as error:
    print(f"{models['segmenter']} is not available here ({error}); showing mediapipe-head instead")
    segmenter = build_segmenter("mediapipe-head")
print("this chapter uses:", segmenter.name)

# %%
chosen = [("astronaut", 0), ("grace_hopper", 0), ("group_t1", 1), ("multi_face", 3), ("image_with_alpha", 0),
          ("portrait_f1_surprise", 0)]
rows = method.segmentation_rows(photos, chosen, detector, align, segmenter, mesh)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Head segmentation of six aligned faces. Columns: the canvas from Section 3.1, the person mask of MediaPipe's selfie segmentation, the filled outline of the face mesh, the head mask (person mask cut below the chin, united with the outline), and the canvas with every pixel outside the mask set to black, which is what Section 3.4 trains on.", "name": "fig-3-2-masks"}}
book.show_figure(visualize.face_grid(rows, row_titles=[visualize.face_label(n, i) for n, i in chosen], size=1.9,
                                     col_titles=["aligned face", "person mask", "face outline", "head mask",
                                                 "segmented"]))

# %% [markdown]
# The one number the paper gives for this stage is the value of the removed pixels; ours is the
# largest value left outside the head masks above:

# %%
outside = method.background_value(rows)
book.show_table(visualize.beside_paper({"segmentation_background_pixel_value": outside}))

# %% [markdown]
# The masks keep hair and ears, as a head segmentation should, and remove the backdrop. They also
# keep whatever covers or touches the head: the cap, the sunglasses and the hand on the forehead stay,
# because to a person segmentation they are part of the person. The line below the chin is straight because the canvas is upright after
# Section 3.1, so "below the chin" is simply a set of rows.
#
# ## Does the background change the landmarks?
#
# The face mesh of {doc}`3_3_landmarks` looks at the whole canvas. If the background influenced where
# it puts its points, then a generator trained on landmarks of segmented faces (as in the authors'
# training) would receive slightly different landmarks at inference, where the authors do not
# segment. The table measures the difference: for each face, the mesh is run on the canvas and on the
# segmented canvas, and the mean distance between the two sets of 478 points is given in pixels and
# relative to the distance between the eyes.

# %%
book.show_table(method.landmark_shift(chosen, rows, mesh))

# %% [markdown]
# The points move by a fraction of a pixel up to a pixel or two on a canvas of this size, a small
# fraction of the distance between the eyes. The mismatch between the authors' training and
# inference therefore changes the generator's input only a little. Where segmentation really matters
# is the target the generator learns to paint: trained on segmented faces, it learns to produce a
# head on black, and that is what the published model outputs (see {doc}`3_4_resynthesis`).
#
# ## How this differs from the paper and the authors' code
#
# - **Model.** The `smoke` profile replaces the head-segmentation U-Net with the MediaPipe-based mask
#   described above. Both keep hair; the U-Net was trained for heads specifically and follows the
#   hairline more closely, while the person mask can include a hat or a raised hand.
# - **Where it is used.** Section 3.2 presents segmentation as a step of the pipeline. In the
#   authors' code it is applied only when training pairs are made; at inference the landmarks come
#   from the unsegmented face. `ganon` keeps segmentation a separate stage, so that both choices can
#   be made explicitly and compared, as above.
# - **Hard mask.** Pixels are kept or set to 0 (threshold 0.5 on the mask), as in the paper. `ganon`
#   does not use this mask when it pastes a face back into a photo; that uses a feathered face
#   outline instead (see {doc}`3_4_resynthesis`).
#
# ```{admonition} Try this
# :class: tip
# - Cut closer to the chin with `build_segmenter("mediapipe-head", chin_margin=0.0)`, or further below
#   it with `chin_margin=0.1`, and look at the neck in the segmented column.
# - Change the threshold of `apply_mask(canvas, head, threshold=0.9)`: soft hair edges disappear first.
# - Run `segmenter(canvas)` without landmarks: you get the plain person mask with neck and shoulders.
# - Segment one of the group-photo faces whose neighbours overlap the canvas: whose hair is kept?
# ```
