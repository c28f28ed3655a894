"""Section 4.1: Table 1 (identity distance per method) and Figure 3 (the faces of every method).

Both results share one folder of paired crops in ``workdir/table1_faces``: each detected face
aligned and segmented (the paper's "original"), its GANonymization crop and the classical
baselines applied to the segmented original.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ganon.reproduce import REPRODUCERS
from ganon.reproduce.common import MISSING, DataUnavailable, SourceFaces, anonymizer_for, paired_crops, provenance
from ganon.reproduce.result import Result, Settings

__all__ = ["EXTERNAL", "FIGURE3_COLUMNS", "TABLE1_ROWS", "figure3", "table1", "table1_faces"]

#: Table 1's rows for the methods ganon runs itself: ganon's method -> (method, kernel) as the paper's CSV writes them.
TABLE1_ROWS: dict[str, tuple[str, str]] = {
    "Original": ("Original", ""), "GANonymization": ("GANonymization", ""),
    "pixelate-8x8": ("Pixelation", "8x8"), "pixelate-16x16": ("Pixelation", "16x16"),
    "blur-9x9": ("Blur", "9x9"), "blur-17x17": ("Blur", "17x17")}
#: The other anonymizers of the paper, which ganon does not run.
EXTERNAL: dict[str, str] = {
    "DeepPrivacy2": "DeepPrivacy2 is a separate project with its own models and is not run by ganon",
    "CIAGAN": "CIAGAN is a separate project with its own models and is not run by ganon"}
#: Figure 3's columns in the paper's order.
FIGURE3_COLUMNS = ("Original", "GANonymization", "DeepPrivacy2", "CIAGAN", "pixelate-8x8", "pixelate-16x16",
                   "blur-9x9", "blur-17x17")
FACES_DIR = "table1_faces"


def _source(settings: Settings) -> SourceFaces:
    from ganon.reproduce.common import sample_faces, source_dataset

    if settings.dataset == "samples":
        return sample_faces(settings, with_frames=False)
    return source_dataset(settings, "wider", "WIDER FACE", splits=("val",))


def table1_faces(settings: Settings, workdir: Path) -> tuple[Any, SourceFaces]:
    """The paired crops of Section 4.1 in ``workdir/table1_faces`` (made once per run), and their source."""
    from ganon import backends
    from ganon.evaluation.baselines import BASELINES
    from ganon.pipeline.segment import apply_mask

    source = _source(settings)
    segmenter = backends.build("segmenter", settings.models["segmenter"])
    detector = backends.build("detector", settings.models["detector"])

    def segmented(stage: Any) -> Any:
        return apply_mask(stage.aligned.image, segmenter(stage.aligned.image, stage.landmarks))

    crops = paired_crops(source, settings, Path(workdir) / FACES_DIR, original=segmented,
                         original_name=f"segmented:{settings.models['segmenter']}",
                         baselines={name: name for name in BASELINES.names()},
                         make_anonymizer=lambda: anonymizer_for(settings, detector=detector))
    return crops, source


def _table1_rows(summary: pd.DataFrame) -> pd.DataFrame:
    from ganon.evaluation.reference import paper_table

    measured = summary.set_index("method")
    ours_for = {row: method for method, row in TABLE1_ROWS.items()}
    paper = paper_table("table1")
    rows = []
    for method, kernel in zip(paper["method"], paper["kernel"].fillna("")):
        mine = ours_for.get((method, kernel))
        if mine is None:
            rows.append({"method": method, "kernel": kernel, "cosine_distance": float("nan"),
                         "note": EXTERNAL[method]})
            continue
        m = measured.loc[mine]
        rows.append({"method": method, "kernel": kernel, "cosine_distance": m["mean"], "std": m["std"],
                     "n": m["n"], "n_no_face": m["n_no_face"],
                     "fraction_above_threshold": m["fraction_above_threshold"], "backend": m["backend"],
                     "metric": m["metric"], "threshold": m["threshold"], "note": ""})
    return pd.DataFrame(rows)


@REPRODUCERS.register("table1")
def table1(settings: Settings, *, workdir: Path) -> Result:
    """Table 1: mean identity distance between each original face and its version by every method.

    ``frames["per_face"]`` keeps one row per face and method; a face the identity model no longer finds
    is counted in ``n_no_face`` and left out of the mean.
    """
    from ganon import backends
    from ganon.evaluation.baselines import BASELINES
    from ganon.evaluation.identity import identity_distances, summarize_identity

    try:
        identity = backends.build("identity", settings.models["identity"])
        crops, source = table1_faces(settings, workdir)
    except (*MISSING, DataUnavailable) as error:
        return Result.absent("table1", str(error).splitlines()[0], **provenance(settings))
    cache: dict = {}
    methods = ["Original", "GANonymization", *BASELINES.names()]
    per_face = pd.concat(
        [identity_distances(crops.pairs(method) if method != "Original" else _self_pairs(crops), identity,
                            method_name=method, original_cache=cache, progress=False) for method in methods],
        ignore_index=True)
    table = _table1_rows(summarize_identity(per_face))
    return Result("table1", table=table, frames={"per_face": per_face},
                  provenance=provenance(settings, source=source.description, identity=identity.name,
                                        threshold=identity.threshold, faces=int(crops.faces["image_id"].notna().sum()),
                                        photos=len(source.table)))


def _self_pairs(crops: Any) -> Any:
    from ganon.evaluation.identity import pair_by_relative_path

    return pair_by_relative_path(crops.original, crops.original)


@REPRODUCERS.register("figure3")
def figure3(settings: Settings, *, workdir: Path) -> Result:
    """Figure 3: the first face of up to six photos, segmented, beside its version by every method of Table 1."""
    from ganon import visualize
    from ganon.imageio import read_image

    try:
        crops, source = table1_faces(settings, workdir)
    except (*MISSING, DataUnavailable) as error:
        return Result.absent("figure3", str(error).splitlines()[0], **provenance(settings))
    folders = {"Original": crops.original, **crops.methods}
    first = crops.faces.dropna(subset=["image_id"])
    first = first[first["face_index"] == 0].drop_duplicates("source").head(6)
    rows = []
    for image_id in first["image_id"]:
        row = []
        for column in FIGURE3_COLUMNS:
            path = folders[column] / f"{image_id}.png" if column in folders else None
            row.append(read_image(path).rgb if path is not None and path.is_file() else None)
        rows.append(row)
    if not rows:
        return Result.absent("figure3", f"no face was found in {source.description}", **provenance(settings))
    titles = [f"{method} {kernel.replace('x', '×')}".strip()
              for method, kernel in (TABLE1_ROWS.get(c, (c, "")) for c in FIGURE3_COLUMNS)]
    figure = visualize.face_grid(rows, col_titles=titles, size=1.6, missing="not run by ganon")
    return Result("figure3", figure=figure,
                  provenance=provenance(settings, source=source.description, faces=list(first["image_id"])))
