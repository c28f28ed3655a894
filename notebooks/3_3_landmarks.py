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
# # 3.3 Facial landmarks
#
# This stage is where the identity is meant to get lost. The paper {cite:p}`hellmann2024ganonymization`
# looks for an intermediate representation of a face that says little about who it is but enough
# about what the face expresses, and picks facial landmarks: the 478 points of MediaPipe's face mesh
# {cite:p}`kartynnik2019facemesh`. The points are three-dimensional; the paper drops the depth and
# draws each point into a black image, because the generator of Section 3.4 translates images into
# images. Everything the generator will ever know about the original face is in that drawing.
#
# This chapter shows the mesh on real faces and the two ways of drawing it that `ganon` offers, checks
# that the drawings still carry facial expressions (on posed emotions and on a short video), and shows
# what happens when the mesh finds no face.
#
# What to look at: how little of the face survives in the drawing, and the difference between the
# drawing the paper describes and the one the authors' code made.

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
import numpy as np

from ganon import visualize
from ganon.backends.detectors import build_detector
from ganon.backends.face_mesh import FaceMesh
from ganon.data.samples import sample_photos, video_frames
from ganon.pipeline.extract import AlignConfig
from ganon.pipeline.landmarks import N_LANDMARKS, RENDER_STYLES, render_landmarks
from ganon.reproduce import method
from ganon.types import Landmarks

photos = {path.stem: path for path in sample_photos(samples_dir)}
try:
    detector = build_detector(models["detector"])
except RuntimeError:  # the paper's detector needs the paper environment; the stage shown here does not
    detector = build_detector("retinaface-mobilenet")
align = AlignConfig(resolution=sizes["image_size"])
style = models["landmark_style"]


# %% [markdown]
# ## The face mesh
#
# `ganon.pipeline.landmarks.FaceMesh` wraps MediaPipe's face mesh with the settings of the authors'
# code: still images, one face per canvas, refined landmarks around the eyes and lips (this is what
# brings the count from 468 to 478 points) and a detection confidence of 0.5. It returns the points in
# canvas pixels, or `None` when it finds no face.

# %%
mesh = FaceMesh()
canvas = method.aligned_faces(photos["astronaut"], detector, align)[0]
marks = mesh(canvas)
print(f"{len(marks.points)} points (expected {N_LANDMARKS}); x, y in pixels of a {marks.canvas_size}-pixel canvas")
print("first three points (x, y, z):\n", np.round(marks.points[:3], 1))

# %% [markdown]
# ## Two ways to draw the points
#
# The paper says each point becomes one white pixel. The authors' code drew the points with
# MediaPipe's drawing helper instead, asking for dots of radius 0 in light grey; that helper paints
# every point as a small plus sign of five pixels with the value 224. The published generator was
# trained on the plus signs, and a generator only knows the drawing it was trained on, so `ganon`
# keeps both: the style `paper` (what the text says) and `authors` (what the code did). The profile
# chooses one (`models["landmark_style"]`); a `ganon` generator stores the style it was trained with
# and the anonymizer uses that one.

# %%
print("registered styles:", ", ".join(RENDER_STYLES.names()), "| this profile:", style)
drawings, summary = method.style_summary(marks)
book.show_table(summary)

# %%
panels = [visualize.draw_landmarks(canvas, marks, radius=1), drawings["authors"], drawings["paper"],
          visualize.zoom_eye(canvas, marks, scale=8), visualize.zoom_eye(drawings["authors"], marks, scale=8),
          visualize.zoom_eye(drawings["paper"], marks, scale=8)]

# %% tags=["remove-input"] mystnb={"figure": {"caption": "The 478 face-mesh points of one face. Top: drawn over the face, the canvas in the authors' style (five-pixel plus signs of grey 224) and in the paper's style (one white pixel per point). Bottom: the region around one eye magnified eight times, in the photo and in both drawings.", "name": "fig-3-3-styles"}}
book.show_figure(visualize.show_images(
    panels, titles=["mesh on the face", "authors' style", "paper's style", "eye, photo (x8)", "eye, authors' (x8)",
                    "eye, paper's (x8)"], ncols=3, size=3.0))

# %% [markdown]
# Against the paper's own description: the count and dimension of the points agree; the pixels per
# point are those of the style this profile uses (one point drawn alone and counted).

# %%
single = Landmarks(points=marks.points[:1], canvas_size=marks.canvas_size)
book.show_table(visualize.beside_paper({
    "landmark_count": len(marks.points), "landmark_coordinate_dims": marks.points.shape[1],
    "landmark_render_pixels_per_point": int(np.count_nonzero(render_landmarks(single, style=style).any(axis=2)))}))

# %% [markdown]
# Only a few per cent of the canvas are lit, even with the plus signs (see the table). Skin, hair colour,
# the eyes' colour and the background are gone; what remains is the shape of the face outline, eyes,
# brows, nose and lips, and where they sit relative to each other.
#
# ## Do expressions survive?
#
# The point of the drawing is to keep the expression. The four portraits of the sample set show posed
# emotions. Two numbers measured on the mesh summarise what changes between them: the opening of the
# mouth and of the eyes, each divided by the distance between the eyes so that the size of the face
# does not matter (`mouth_opening` and `eye_opening` in `ganon.pipeline.landmarks`).

# %%
portraits = ["portrait_f1_surprise", "portrait_f15_happy", "portrait_f13_anger", "portrait_m7_disgust"]
openings, posed_rows = method.posed_openings(photos, portraits, detector, align, mesh, style)
book.show_table(openings)

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Four posed expressions (surprise, happiness, anger, disgust) and their landmark drawings in the profile's style. The open mouth and wide eyes of surprise and the smile are plain in the drawings, without any of the skin or hair.", "name": "fig-3-3-expressions"}}
book.show_figure(visualize.face_grid(
    posed_rows,
    col_titles=[n.split("_")[-1] for n in portraits], row_titles=["face", "landmarks"], size=2.2))

# %% [markdown]
# The same two numbers over time: the sample video shows one person talking. Every frame goes through
# detection, alignment and the mesh; a speaking mouth opens and closes, and blinks show as dips of the
# eye opening.

# %%
frames = video_frames("wolfgang_langer", samples_dir)
openings_over_time = method.opening_series(frames, detector, align, mesh)
print(f"{len(frames)} frames; mesh found in {int(np.isfinite(openings_over_time['mouth opening']).sum())}")

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Mouth and eye opening, measured on the landmarks of every extracted frame of the sample video (relative to the distance between the eyes). Gaps are frames without a face or without a mesh.", "name": "fig-3-3-video"}}
book.show_figure(visualize.series_plot(openings_over_time,
                                       xlabel="extracted frame", ylabel="opening / eye distance"))

# %% [markdown]
# ## When the mesh finds nothing
#
# The face mesh runs its own face detector on the canvas, which can fail where RetinaFace succeeded:
# on faces seen from the side, on very small or very blurred faces. The paper says that in such a case
# an empty canvas is given to the generator, which then paints an "average" face learned in training.
# The table lists every face of the sample photos for which this happens here.

# %%
misses, missed_faces = method.mesh_misses(photos, detector, align, mesh)
print(f"faces without landmarks: {len(misses)}")
if len(misses):
    book.show_table(misses)
    book.show_figure(visualize.show_images(missed_faces, titles=[f"{p} #{i}" for p, i in zip(misses["photo"], misses["face"])],
                                           size=2.4))

# %% [markdown]
# Feeding an empty canvas hides the failure: the output looks like an anonymized face, but it does not
# show the person's expression, and the photo's owner is not told. `ganon` therefore reports such faces
# and, by default, pixelates and blurs them instead (`AnonymizeConfig(on_miss="blur")`); the authors'
# behaviour is `on_miss="average"`, and `on_miss="error"` stops. See {doc}`3_4_resynthesis` for what the
# generator makes of an empty canvas.
#
# ## How this differs from the paper and the authors' code
#
# - **Drawing.** The paper describes single white pixels; the authors' code drew five-pixel plus
#   signs of grey 224, and the published weights expect those. Both are available by name; see
#   {doc}`../differences`.
# - **JPEG.** The authors stored each training pair (face and drawing side by side) as a JPEG. The
#   compression smears the one-pixel dots into grey blobs with ringing, which the generator then sees
#   in training but never at inference. `ganon` stores pairs without loss.
# - **Points outside the canvas.** As in MediaPipe's drawing helper, points outside the canvas are
#   dropped and coordinates are rounded down to whole pixels; the depth coordinate is not used.
#
# ```{admonition} Try this
# :class: tip
# - Draw the mesh of the surprised face with `render_landmarks(m, style="paper")` at `size=64`: at
#   the resolution of a small generator many points fall on the same pixel. How much of the mouth is
#   left?
# - Thin the mesh out: keep every fourth point, `Landmarks(points=marks.points[::4], canvas_size=marks.canvas_size)`
#   (from `ganon.types`), and compare the drawings. Which parts of the face become ambiguous?
# - Run `FaceMesh(min_detection_confidence=0.2)` on the faces listed above as misses. Are the points it
#   finds plausible?
# - Compare `mouth_opening` between the first and last frames of the video with the frames shown in
#   the plot.
# ```
