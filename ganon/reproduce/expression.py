"""Section 4.2: Tables 2-4 and Figures 4-7 and 10, emotional expression after anonymization.

One folder of paired crops per dataset (``workdir/expression_faces/<dataset>``) serves every result;
the paper profile trains one ConvNeXt per dataset and training set (``workdir/classifiers``) and the
inference scenario (Tables 2, 3, Figure 7) runs once per dataset and is reused by the others.
DeepPrivacy2 and CIAGAN are not run by ganon: blur and pixelation stand in as the other methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ganon.reproduce import REPRODUCERS
from ganon.reproduce.common import (
    MISSING,
    DataUnavailable,
    SourceFaces,
    cached,
    paired_crops,
    provenance,
    sample_faces,
    source_dataset,
    trained_classifiers,
)
from ganon.reproduce.result import Result, Settings

__all__ = ["PAPER_DATASETS", "STAND_INS", "TRAIN_DATA", "expression_crops", "inference"]

#: The paper's emotion datasets: profile key -> (name in Tables 2-4, its figure of example faces).
PAPER_DATASETS: dict[str, tuple[str, str]] = {"affectnet": ("AffectNet", "figure4"), "ckplus": ("CK+", "figure5"),
                                              "faces": ("FACES", "figure6")}
#: Classical anonymizers that stand in for "another method" beside GANonymization (label -> baseline).
STAND_INS: dict[str, str] = {"Blur 9x9": "blur-9x9", "Pixelation 8x8": "pixelate-8x8"}
#: Which training sets the training scenario uses (the paper: also DeepPrivacy2 and CIAGAN).
TRAIN_DATA: tuple[str, ...] = ("Original", "GANonymization")
NO_LABELS = ("the samples carry no emotion labels; the paper profile trains ConvNeXt classifiers on "
             "AffectNet, CK+ and FACES")


def _sources(settings: Settings) -> tuple[dict[str, SourceFaces], list[str]]:
    if settings.dataset == "samples":
        return {"samples": sample_faces(settings)}, []
    sources, problems = {}, []
    for key, (name, _) in PAPER_DATASETS.items():
        try:
            sources[name] = source_dataset(settings, key, name)
        except (DataUnavailable, *MISSING) as error:
            problems.append(f"{name} is not available: {str(error).splitlines()[0]}")
    return sources, problems


def expression_crops(settings: Settings, workdir: Path) -> tuple[dict[str, Any], dict[str, SourceFaces], list[str]]:
    """Paired crops per dataset (made once per run), their sources, and why any dataset is missing."""
    sources, problems = _sources(settings)
    crops = {name: paired_crops(source, settings, Path(workdir) / "expression_faces" / name.lower(),
                                baselines=STAND_INS) for name, source in sources.items()}
    return crops, sources, problems


def _absent(name: str, settings: Settings, reason: str) -> Result:
    return Result.absent(name, reason, **provenance(settings))


def inference(settings: Settings, workdir: Path) -> tuple[dict[str, Any], list[str]]:
    """The inference scenario per dataset (``ExpressionResult``), computed once per run, and what is missing.

    The classifier is the profile's emotion model; in the paper profile it is this dataset's ConvNeXt
    trained on the original crops, and only validation faces are measured.
    """
    from ganon import backends
    from ganon.evaluation.expression import ExpressionEvaluation

    crops, sources, problems = expression_crops(settings, workdir)
    out: dict[str, Any] = {}
    for name, paired in crops.items():
        pairs = paired.all_pairs()
        if settings.models["emotion"] == "convnext":
            checkpoint = trained_classifiers(settings, paired, sources[name], Path(workdir) / "classifiers" / name,
                                             train_data=TRAIN_DATA)["Original"]
            model = backends.build("emotion", "convnext", checkpoint=checkpoint, device=settings.device)
            stamp_extra = {"checkpoint": str(checkpoint), "mtime": checkpoint.stat().st_mtime}
        else:
            model = backends.build("emotion", settings.models["emotion"])
            stamp_extra = {}
        if settings.dataset != "samples":
            val = set(paired.dataset_table(sources[name].table).query("split == 'val'")["image_id"])
            pairs = {m: [p for p in ps if p.rel in val] for m, ps in pairs.items()}
        stamp = {"crops": (Path(paired.root) / "stamp.json").read_text(encoding="utf-8"),
                 "emotion": settings.models["emotion"], **stamp_extra}
        out[name] = cached(Path(workdir) / "expression_faces" / f"{name.lower()}_inference.pkl", stamp,
                           lambda model=model, pairs=pairs, name=name: ExpressionEvaluation(model, dataset=name).run(pairs))
    return out, problems


def _inference_or_absent(name: str, settings: Settings, workdir: Path) -> tuple[dict[str, Any], Result | None]:
    from ganon.training.classifier import PretrainedWeightsError

    try:
        results, problems = inference(settings, workdir)
    except (*MISSING, PretrainedWeightsError) as error:
        return {}, _absent(name, settings, str(error).splitlines()[0])
    if not results:
        return {}, _absent(name, settings, "; ".join(problems) or "no faces could be evaluated")
    return results, None


def _details(settings: Settings, results: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return provenance(settings, datasets=list(results), emotion_model=settings.models["emotion"],
                      stand_ins=STAND_INS, measured_pairs={n: int((r.images["status"] == "measured").sum())
                                                           for n, r in results.items()}, **extra)


@REPRODUCERS.register("table2")
def table2(settings: Settings, *, workdir: Path) -> Result:
    """Table 2: the mean change of each emotion's probability per method and dataset (lower keeps more).

    ``frames["counts"]`` says per dataset and method how many faces were measured, unreadable or skipped.
    """
    results, absent = _inference_or_absent("table2", settings, workdir)
    if absent is not None:
        return absent
    table = pd.concat([r.table2() for r in results.values()], ignore_index=True)
    counts = pd.concat([r.counts().assign(dataset=n) for n, r in results.items()], ignore_index=True)
    return Result("table2", table=table, frames={"counts": counts}, provenance=_details(settings, results))


@REPRODUCERS.register("table3")
def table3(settings: Settings, *, workdir: Path) -> Result:
    """Table 3: Wilcoxon signed-rank tests of GANonymization's change against each other method's, per emotion.

    ``frames["normality"]`` holds the Shapiro-Wilk tests that motivate a rank test.
    """
    results, absent = _inference_or_absent("table3", settings, workdir)
    if absent is not None:
        return absent
    table = pd.concat([r.table3() for r in results.values()], ignore_index=True)
    normality = pd.concat([r.normality() for r in results.values()], ignore_index=True)
    return Result("table3", table=table, frames={"normality": normality}, provenance=_details(settings, results))


@REPRODUCERS.register("figure7")
def figure7(settings: Settings, *, workdir: Path) -> Result:
    """Figure 7: Table 2 as bars, one panel per dataset."""
    from ganon.evaluation.figures import mean_distance_bars

    results, absent = _inference_or_absent("figure7", settings, workdir)
    if absent is not None:
        return absent
    table = pd.concat([r.table2() for r in results.values()], ignore_index=True)
    return Result("figure7", figure=mean_distance_bars(table), provenance=_details(settings, results))


def _faces_figure(figure: str, settings: Settings, workdir: Path) -> Result:
    from ganon import visualize

    try:
        crops, sources, problems = expression_crops(settings, workdir)
    except MISSING as error:
        return _absent(figure, settings, str(error).splitlines()[0])
    wanted = next(name for name, fig in PAPER_DATASETS.values() if fig == figure)
    # The samples stand in for AffectNet's figure; CK+ and FACES need the paper profile.
    name = "samples" if settings.dataset == "samples" and figure == "figure4" else wanted
    if name not in crops:
        missing = [p for p in problems if p.startswith(wanted)]
        return _absent(figure, settings, "; ".join(missing) or f"{wanted} is not part of the {settings.profile} profile")
    columns = ["GANonymization", *STAND_INS]
    rows = visualize.paired_examples(crops[name], columns, n=5 if len(crops) == 1 else 3)
    if not rows:
        return _absent(figure, settings, f"no face of {name} was anonymized")
    grid = visualize.face_grid(rows, col_titles=["Original", *columns], size=1.6)
    return Result(figure, figure=grid, provenance=provenance(
        settings, dataset_shown=name, stand_ins=STAND_INS, source=sources[name].description,
        face_status=crops[name].faces["status"].value_counts().to_dict()))


@REPRODUCERS.register("figure4")
def figure4(settings: Settings, *, workdir: Path) -> Result:
    """Figure 4: AffectNet faces (the sample faces in smoke), original beside every method's version."""
    return _faces_figure("figure4", settings, workdir)


@REPRODUCERS.register("figure5")
def figure5(settings: Settings, *, workdir: Path) -> Result:
    """Figure 5: CK+ faces, original beside every method's version."""
    return _faces_figure("figure5", settings, workdir)


@REPRODUCERS.register("figure6")
def figure6(settings: Settings, *, workdir: Path) -> Result:
    """Figure 6: FACES faces, original beside every method's version."""
    return _faces_figure("figure6", settings, workdir)


def training_scenario(settings: Settings, workdir: Path) -> tuple[list[Any], list[str]]:
    """Table 4's reports: each dataset's classifiers, trained per training set, graded on original validation crops."""
    from ganon.evaluation.training_scenario import evaluate_classifier

    crops, sources, problems = expression_crops(settings, workdir)
    reports = []
    for name, paired in crops.items():
        checkpoints = trained_classifiers(settings, paired, sources[name], Path(workdir) / "classifiers" / name,
                                          train_data=TRAIN_DATA)
        table = paired.dataset_table(sources[name].table)
        stamp = {"checkpoints": {k: [str(v), v.stat().st_mtime] for k, v in checkpoints.items()}}
        reports += cached(Path(workdir) / "classifiers" / name / "reports.pkl", stamp,
                          lambda checkpoints=checkpoints, table=table, name=name: [
                              evaluate_classifier(path, table, dataset=name, train_data=data)
                              for data, path in checkpoints.items()])
    return reports, problems


def _training_or_absent(name: str, settings: Settings, workdir: Path) -> tuple[list[Any], Result | None]:
    from ganon.training.classifier import PretrainedWeightsError

    if settings.dataset == "samples":
        return [], _absent(name, settings, NO_LABELS)
    try:
        reports, problems = training_scenario(settings, workdir)
    except (*MISSING, PretrainedWeightsError) as error:
        return [], _absent(name, settings, f"the classifiers could not be trained: {str(error).splitlines()[0]}")
    if not reports:
        return [], _absent(name, settings, "; ".join(problems) or "no dataset could be trained on")
    return reports, None


@REPRODUCERS.register("table4")
def table4(settings: Settings, *, workdir: Path) -> Result:
    """Table 4: per-class precision, recall and F1 of the classifiers trained on original and anonymized crops."""
    reports, absent = _training_or_absent("table4", settings, workdir)
    if absent is not None:
        return absent
    table = pd.concat([r.report for r in reports], ignore_index=True)
    return Result("table4", table=table, provenance=provenance(settings, train_data=TRAIN_DATA))


@REPRODUCERS.register("figure10")
def figure10(settings: Settings, *, workdir: Path) -> Result:
    """Figure 10: the confusion matrix of every emotion classifier of Table 4 on the original validation crops."""
    from ganon.evaluation.training_scenario import confusion_figure

    reports, absent = _training_or_absent("figure10", settings, workdir)
    if absent is not None:
        return absent
    return Result("figure10", figure=confusion_figure(reports), provenance=provenance(settings, train_data=TRAIN_DATA))
