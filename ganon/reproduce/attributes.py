"""Section 4.3: Tables 5, 6 and Figures 8, 9, 11, which facial attributes survive anonymization.

One folder of paired crops (``workdir/attribute_faces``) serves every result. The paper profile
trains the 40-attribute ConvNeXt on CelebA per training set (``workdir/classifiers/celeba``). Smoke
measures openpeople's close-up photos, labelled ``Male`` and ``Young`` from their metadata, with
dlib's age and gender networks read as those two attributes (Young: age up to 35, the labels' own
cut-off); its Table 5 grades that pretrained stand-in on the original photos and on each method's
versions of them, since nothing is trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ganon.data.datasets.openpeople import YOUNG_UP_TO
from ganon.reproduce import REPRODUCERS
from ganon.reproduce.common import (
    MISSING,
    OPENPEOPLE_DIR,
    DataUnavailable,
    SourceFaces,
    cached,
    openpeople_photos,
    paired_crops,
    provenance,
    source_dataset,
    trained_classifiers,
)
from ganon.reproduce.result import Result, Settings

__all__ = ["LABELLED", "STAND_INS", "TRAIN_DATA", "attribute_crops", "attribute_removal", "classifier_reports",
           "stand_in_reports"]

#: A classical anonymizer beside GANonymization, as a reference point that ganon runs itself.
STAND_INS: dict[str, str] = {"Blur 9x9": "blur-9x9"}
#: Training sets of the paper profile's attribute classifiers (the paper: also DeepPrivacy2 and CIAGAN).
TRAIN_DATA: tuple[str, ...] = ("Original", "GANonymization")
#: The attributes openpeople's metadata labels, as Tables 5 and 6 print them.
LABELLED: tuple[str, ...] = ("Male", "Young")
#: Options of the smoke stand-in on openpeople: Young is an age below 36, the labels' "range ends by 35".
STAND_IN_OPTIONS: dict[str, dict[str, Any]] = {"age-gender": {"young_below": YOUNG_UP_TO + 1}}
STAND_IN_NOTE = ("{model} (pretrained, not trained here) in place of the CelebA ConvNeXt; "
                 "openpeople close-ups, labels from its metadata")
#: The same, as the reproduction report lists stand-ins ("ours for the paper's").
STAND_IN = "{model} for the CelebA ConvNeXt; openpeople for CelebA"


def attribute_crops(settings: Settings, workdir: Path) -> tuple[Any, SourceFaces]:
    """The paired crops of Section 4.3 (made once per run) and their source photos.

    The paper profile reads CelebA; smoke (``dataset: samples``) openpeople's close-up photos, whose
    people carry attribute labels (the sample photos do not).
    """
    if settings.dataset == "samples":
        source = openpeople_photos(settings, Path(workdir) / OPENPEOPLE_DIR)
    else:
        source = source_dataset(settings, "celeba", "CelebA")
    return paired_crops(source, settings, Path(workdir) / "attribute_faces", baselines=STAND_INS), source


def _absent(name: str, settings: Settings, error: Exception | str) -> Result:
    return Result.absent(name, str(error).splitlines()[0], **provenance(settings))


def _checkpoints(settings: Settings, workdir: Path, crops: Any, source: SourceFaces) -> dict[str, Path]:
    return trained_classifiers(settings, crops, source, Path(workdir) / "classifiers" / "celeba", train_data=TRAIN_DATA)


def classifier_reports(settings: Settings, workdir: Path) -> list[Any]:
    """Table 5's reports: each CelebA classifier graded attribute by attribute on the original validation crops."""
    from ganon.evaluation.training_scenario import evaluate_classifier

    crops, source = attribute_crops(settings, workdir)
    checkpoints = _checkpoints(settings, workdir, crops, source)
    table = crops.dataset_table(source.table)
    stamp = {"checkpoints": {k: [str(v), v.stat().st_mtime] for k, v in checkpoints.items()}}
    return cached(Path(workdir) / "classifiers" / "celeba" / "reports.pkl", stamp,
                  lambda: [evaluate_classifier(path, table, dataset="CelebA", train_data=name)
                           for name, path in checkpoints.items()])


def attribute_removal(settings: Settings, workdir: Path) -> Any:
    """Predicted attributes on every original crop and each method's version (``AttributeResult``), once per run."""
    from ganon import backends
    from ganon.evaluation.attribute_removal import AttributeRemovalEvaluation

    crops, source = attribute_crops(settings, workdir)
    pairs = crops.all_pairs()
    name = settings.models["attributes"]
    if name == "celeba-convnext":
        checkpoint = _checkpoints(settings, workdir, crops, source)["Original"]
        model = backends.build("attributes", name, checkpoint=checkpoint, device=settings.device)
        extra = {"checkpoint": str(checkpoint), "mtime": checkpoint.stat().st_mtime}
    else:
        options = STAND_IN_OPTIONS.get(name, {}) if source.name == "openpeople" else {}
        model, extra = backends.build("attributes", name, **options), {"options": options}
    if settings.dataset != "samples":  # removal is measured on the validation faces
        val = set(crops.dataset_table(source.table).query("split == 'val'")["image_id"])
        pairs = {m: [p for p in ps if p.rel in val] for m, ps in pairs.items()}
    stamp = {"crops": (Path(crops.root) / "stamp.json").read_text(encoding="utf-8"), "attributes": name, **extra}
    return cached(Path(workdir) / "attribute_faces_removal.pkl", stamp,
                  lambda: AttributeRemovalEvaluation(model).run(pairs))


def _removal_or_absent(name: str, settings: Settings, workdir: Path) -> tuple[Any, Result | None]:
    from ganon.training.classifier import PretrainedWeightsError

    try:
        return attribute_removal(settings, workdir), None
    except (*MISSING, DataUnavailable, PretrainedWeightsError) as error:
        return None, _absent(name, settings, error)


def _reports_or_absent(name: str, settings: Settings, workdir: Path) -> tuple[list[Any], Result | None]:
    from ganon.training.classifier import PretrainedWeightsError

    try:
        return classifier_reports(settings, workdir), None
    except (*MISSING, DataUnavailable, PretrainedWeightsError) as error:
        return [], _absent(name, settings, f"the CelebA classifiers could not be trained: {error}")


@REPRODUCERS.register("figure8")
def figure8(settings: Settings, *, workdir: Path) -> Result:
    """Figure 8: five faces spread over the set, original beside GANonymization's and the blurred version."""
    from ganon import visualize

    try:
        crops, source = attribute_crops(settings, workdir)
    except (*MISSING, DataUnavailable) as error:
        return _absent("figure8", settings, error)
    columns = ["GANonymization", *STAND_INS]
    rows = visualize.paired_examples(crops, columns, n=5)
    if not rows:
        return _absent("figure8", settings, f"no face of {source.description} was anonymized")
    figure = visualize.face_grid(rows, col_titles=["Original", *columns], size=1.6)
    return Result("figure8", figure=figure, provenance=provenance(
        settings, source=source.description, face_status=crops.faces["status"].value_counts().to_dict()))


def stand_in_reports(settings: Settings, workdir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The smoke stand-in graded on openpeople's labels: Table 5's rows and Figure 11's confusions.

    Nothing is trained, so the pretrained model (trained on real faces: ``train_data`` "Original")
    is evaluated on the original crops, the paper's "Original" row, and on each method's versions of
    them (``evaluated_on``; those rows have no counterpart in the paper, which trains on anonymized
    faces instead). Only the attributes of ``LABELLED`` are reported; sklearn's averages over two
    attributes are left out (the paper averages over forty).
    """
    from ganon.evaluation.attributes import confusions_per_set
    from ganon.evaluation.paired import ORIGINAL

    removal = attribute_removal(settings, workdir)
    crops, source = attribute_crops(settings, workdir)
    labels = crops.dataset_table(source.table).set_index("image_id")[list(LABELLED)]
    report = removal.report(labels)
    report = report[report["attribute"].isin(LABELLED)].reset_index(drop=True)
    report.insert(1, "train_data", [ORIGINAL if on == ORIGINAL else f"{ORIGINAL}, tested on {on}"
                                    for on in report["evaluated_on"]])
    report["note"] = STAND_IN_NOTE.format(model=removal.model)
    report["stand_in"] = STAND_IN.format(model=removal.model)
    return report, confusions_per_set(removal, labels, LABELLED)


def _stand_in_or_absent(name: str, settings: Settings, workdir: Path) -> tuple[Any, Result | None]:
    try:
        return stand_in_reports(settings, workdir), None
    except (*MISSING, DataUnavailable) as error:
        return None, _absent(name, settings, error)


@REPRODUCERS.register("table5")
def table5(settings: Settings, *, workdir: Path) -> Result:
    """Table 5: precision, recall and F1 per CelebA attribute of each classifier, on the original validation crops.

    Smoke: the pretrained stand-in on openpeople's Male and Young, on the originals and on each
    method's versions (``evaluated_on``; see ``stand_in_reports``).
    """
    if settings.dataset == "samples":
        reports, absent = _stand_in_or_absent("table5", settings, workdir)
        if absent is not None:
            return absent
        return Result("table5", table=reports[0], provenance=provenance(
            settings, source="openpeople", attribute_model=settings.models["attributes"],
            options=STAND_IN_OPTIONS.get(settings.models["attributes"], {}), trained=False))
    reports, absent = _reports_or_absent("table5", settings, workdir)
    if absent is not None:
        return absent
    table = pd.concat([r.report for r in reports], ignore_index=True).rename(columns={"class": "attribute"})
    table["attribute"] = table["attribute"].str.replace("_", " ")
    return Result("table5", table=table, provenance=provenance(settings, train_data=TRAIN_DATA))


@REPRODUCERS.register("figure11")
def figure11(settings: Settings, *, workdir: Path) -> Result:
    """Figure 11: one 2 x 2 confusion matrix per attribute and classifier of Table 5 (smoke: per evaluated set)."""
    from ganon.evaluation.figures import attribute_confusion_grid
    from ganon.evaluation.training_scenario import confusion_figure

    if settings.dataset == "samples":
        reports, absent = _stand_in_or_absent("figure11", settings, workdir)
        if absent is not None:
            return absent
        figure = attribute_confusion_grid(reports[1], cols="evaluated_on")
        return Result("figure11", figure=figure, frames={"confusion": reports[1]},
                      provenance=provenance(settings, source="openpeople", trained=False))
    reports, absent = _reports_or_absent("figure11", settings, workdir)
    if absent is not None:
        return absent
    return Result("figure11", figure=confusion_figure(reports), provenance=provenance(settings, train_data=TRAIN_DATA))


@REPRODUCERS.register("table6")
def table6(settings: Settings, *, workdir: Path) -> Result:
    """Table 6: how often an attribute found on the original is gone after GANonymization.

    ``frames["counts"]`` has the pairs per method, ``frames["all_methods"]`` the rates of every method.
    """
    removal, absent = _removal_or_absent("table6", settings, workdir)
    if absent is not None:
        return absent
    table = removal.table6("GANonymization")
    if settings.dataset == "samples":
        table["note"] = STAND_IN_NOTE.format(model=removal.model)
        table["stand_in"] = STAND_IN.format(model=removal.model)
    return Result("table6", table=table,
                  frames={"counts": removal.counts(), "all_methods": removal.removal()},
                  provenance=provenance(settings, attribute_model=removal.model, threshold=removal.threshold))


@REPRODUCERS.register("figure9")
def figure9(settings: Settings, *, workdir: Path) -> Result:
    """Figure 9: Table 6 as bars, largest removal on top."""
    removal, absent = _removal_or_absent("figure9", settings, workdir)
    if absent is not None:
        return absent
    return Result("figure9", figure=removal.figure9("GANonymization"),
                  provenance=provenance(settings, attribute_model=removal.model, threshold=removal.threshold))
