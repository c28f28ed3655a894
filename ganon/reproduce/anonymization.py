"""Section 4.1: Table 1 (identity distance per method) and Figure 3 (the faces of every method).

Both results share one folder of paired crops in ``workdir/table1_faces``: each detected face
aligned and segmented (the paper's "original"), its GANonymization crop and the classical
baselines applied to the segmented original. Table 1 is measured with every recognizer the profile
lists (``models.identity_models``, the profile's ``identity`` first), each with its share of pairs
beyond its own threshold. In the smoke profile the faces are the sample photos plus openpeople's
close-up photos, whose known identities also show how each recognizer treats true matches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ganon.reproduce import REPRODUCERS
from ganon.reproduce.common import (
    MISSING,
    OPENPEOPLE_DIR,
    DataUnavailable,
    SourceFaces,
    anonymizer_for,
    openpeople_photos,
    paired_crops,
    provenance,
)
from ganon.reproduce.result import Result, Settings

__all__ = ["EXTERNAL", "FIGURE3_COLUMNS", "TABLE1_ROWS", "figure3", "identity_models", "table1", "table1_faces"]

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


def identity_models(settings: Settings) -> list[str]:
    """The recognizers Table 1 is measured with: the profile's ``identity``, then ``identity_models``."""
    return list(dict.fromkeys([settings.models["identity"], *(settings.models.get("identity_models") or [])]))


def _source(settings: Settings, workdir: Path) -> SourceFaces:
    from ganon.reproduce.common import sample_faces, source_dataset

    if settings.dataset != "samples":
        return source_dataset(settings, "wider", "WIDER FACE", splits=("val",))
    samples = sample_faces(settings, with_frames=False)
    people = openpeople_photos(settings, Path(workdir) / OPENPEOPLE_DIR)
    photos = samples.table.assign(relative="samples/" + samples.table["relative"].astype(str), dataset="samples")
    table = pd.concat([photos, people.table.assign(dataset="openpeople")], ignore_index=True)
    return SourceFaces("samples+openpeople", table, f"{samples.description} and {people.description}")


def table1_faces(settings: Settings, workdir: Path) -> tuple[Any, SourceFaces]:
    """The paired crops of Section 4.1 in ``workdir/table1_faces`` (made once per run), and their source."""
    from ganon import backends
    from ganon.evaluation.baselines import BASELINES
    from ganon.pipeline.segment import apply_mask

    source = _source(settings, Path(workdir))
    segmenter = backends.build("segmenter", settings.models["segmenter"])
    detector = backends.build("detector", settings.models["detector"])

    def segmented(stage: Any) -> Any:
        return apply_mask(stage.aligned.image, segmenter(stage.aligned.image, stage.landmarks))

    crops = paired_crops(source, settings, Path(workdir) / FACES_DIR, original=segmented,
                         original_name=f"segmented:{settings.models['segmenter']}",
                         baselines={name: name for name in BASELINES.names()},
                         make_anonymizer=lambda: anonymizer_for(settings, detector=detector))
    return crops, source


def _table1_rows(summary: pd.DataFrame, recognizers: pd.DataFrame, note: str = "", stand_in: str = "") -> pd.DataFrame:
    """The paper's rows in its order: the default recognizer's columns, then every recognizer side by side."""
    from ganon.evaluation.reference import paper_table

    measured = summary.set_index("method")
    wide = recognizers.set_index("method")
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
        rows.append({"method": method, "kernel": kernel, "cosine_distance": m["mean"],
                     "fraction_above_threshold": m["fraction_above_threshold"], "std": m["std"],
                     "n": m["n"], "n_no_face": m["n_no_face"], "backend": m["backend"],
                     "metric": m["metric"], "threshold": m["threshold"], **wide.loc[mine].to_dict(), "note": note,
                     "stand_in": stand_in})
    table = pd.DataFrame(rows)
    return table[[c for c in table.columns if c != "note"] + ["note"]]


@REPRODUCERS.register("table1")
def table1(settings: Settings, *, workdir: Path) -> Result:
    """Table 1: mean identity distance between each original face and its version by every method.

    ``cosine_distance`` is the profile's ``identity`` model (the column compared with the paper); every
    recognizer of ``identity_models(settings)`` adds ``<name>_distance`` and ``<name>_beyond_threshold``
    (share of pairs beyond its own threshold). ``frames["per_face"]`` keeps one row per face, method
    and recognizer; a face the recognizer no longer finds is counted in ``n_no_face`` and left out of
    the mean. ``frames["verification"]`` gives, for faces with known identities (openpeople), each
    recognizer's share beyond its threshold over same-person and different-people pairs of originals.
    """
    from ganon import backends
    from ganon.evaluation.anonymization import side_by_side, verification_shares
    from ganon.evaluation.baselines import BASELINES
    from ganon.evaluation.identity import identity_distances, summarize_identity

    try:
        models = {name: backends.build("identity", name) for name in identity_models(settings)}
        crops, source = table1_faces(settings, workdir)
    except (*MISSING, DataUnavailable) as error:
        return Result.absent("table1", str(error).splitlines()[0], **provenance(settings))
    methods = ["Original", "GANonymization", *BASELINES.names()]
    faces = crops.dataset_table(source.table)
    labelled = faces[faces["dataset"] == "openpeople"] if "dataset" in faces else faces.iloc[:0]
    per_face, summaries, verification = [], {}, []
    for name, model in models.items():
        cache: dict = {}
        part = pd.concat(
            [identity_distances(crops.pairs(method) if method != "Original" else _self_pairs(crops), model,
                                method_name=method, original_cache=cache, progress=False) for method in methods],
            ignore_index=True)
        per_face.append(part)
        summaries[name] = summarize_identity(part)
        if not labelled.empty:
            embeddings = [cache.get(Path(path)) for path in labelled["path"]]
            verification.append(verification_shares(embeddings, list(labelled["subject"]), model))
    default = identity_models(settings)[0]
    note = "" if default == "facenet512" else f"identity: {', '.join(models)} in place of Facenet512"
    note += f"; faces: {source.description}" if settings.dataset == "samples" else ""
    stand_in = "" if default == "facenet512" else f"{', '.join(models)} for Facenet512"
    table = _table1_rows(summaries[default], side_by_side(summaries), note.lstrip("; "), stand_in)
    frames = {"per_face": pd.concat(per_face, ignore_index=True)}
    if verification:
        frames["verification"] = pd.concat(verification, ignore_index=True)
    return Result("table1", table=table, frames=frames,
                  provenance=provenance(settings, source=source.description, identity=default,
                                        identity_models=list(models), threshold=models[default].threshold,
                                        thresholds={n: m.threshold for n, m in models.items()},
                                        faces=int(crops.faces["image_id"].notna().sum()), photos=len(source.table)))


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
