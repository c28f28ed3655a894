"""Section 4.2: Tables 2-4 and Figures 4-7 and 10, emotional expression after anonymization.

One folder of paired crops per dataset (``workdir/expression_faces/<dataset>``) serves every result;
the paper profile trains one ConvNeXt per dataset and training set (``workdir/classifiers``) and the
inference scenario (Tables 2, 3, Figure 7) runs once per dataset and is reused by the others.
DeepPrivacy2 and CIAGAN are not run by ganon: blur and pixelation stand in as the other methods.
A profile's ``stand_in_datasets`` (smoke: ``{faces: openpeople}``) adds a labelled dataset in place of a
paper dataset: its classes are mapped onto the paper's (``PAPER_CLASSES``), its rows carry
``paper_<key>`` columns naming the paper's rows they are set beside, and its training scenario is a
linear classifier on frozen features (``ganon.evaluation.embedding_classifier``) split by person.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from ganon.reproduce import REPRODUCERS
from ganon.reproduce.common import (
    MISSING,
    DataUnavailable,
    SourceFaces,
    cached,
    openpeople_expressions,
    paired_crops,
    provenance,
    sample_faces,
    source_dataset,
    trained_classifiers,
)
from ganon.reproduce.result import Result, Settings

__all__ = ["PAPER_CLASSES", "PAPER_DATASETS", "PAPER_SLOTS", "STAND_INS", "STAND_IN_TRAIN_DATA", "TRAIN_DATA",
           "class_mapping", "expression_crops", "inference", "stand_in_training", "stand_ins"]

#: The paper's emotion datasets: profile key -> (name in Tables 2-4, its figure of example faces).
PAPER_DATASETS: dict[str, tuple[str, str]] = {"affectnet": ("AffectNet", "figure4"), "ckplus": ("CK+", "figure5"),
                                              "faces": ("FACES", "figure6")}
#: Classical anonymizers that stand in for "another method" beside GANonymization (label -> baseline).
STAND_INS: dict[str, str] = {"Blur 9x9": "blur-9x9", "Pixelation 8x8": "pixelate-8x8"}
#: Which training sets the training scenario uses (the paper: also DeepPrivacy2 and CIAGAN).
TRAIN_DATA: tuple[str, ...] = ("Original", "GANonymization")
NO_LABELS = ("the samples carry no emotion labels; the paper profile trains ConvNeXt classifiers on "
             "AffectNet, CK+ and FACES")
#: A stand-in dataset's expressions -> the paper dataset's class names, per paper dataset key, in the
#: paper's order. openpeople's other ten expressions (surprised, confused, ...) have no FACES class.
PAPER_CLASSES: dict[str, dict[str, dict[str, str]]] = {
    "openpeople": {"faces": {"neutral": "Neutral", "angry": "Anger", "disgusted": "Disgust", "scared": "Fear",
                             "happy": "Happy", "sad": "Sadness"}},
}
#: Which stand-in method's rows are set beside which of the paper's methods (Tables 2-4). Pixelation
#: wipes out the face's detail as DeepPrivacy2 replaces the whole face; the mild blur keeps the face's
#: layout as CIAGAN keeps its landmarks. Only the form of the comparison carries over, not the values.
PAPER_SLOTS: dict[str, str] = {"Pixelation 8x8": "DeepPrivacy2", "Blur 9x9": "CIAGAN"}
#: The training sets of the training scenario on a stand-in dataset (small linear classifiers, seconds each).
STAND_IN_TRAIN_DATA: tuple[str, ...] = ("Original", "GANonymization", *STAND_INS)


def stand_ins(settings: Settings) -> dict[str, str]:
    """Our dataset name -> the paper's dataset it stands in for (``{"openpeople": "FACES"}``) in this profile."""
    return {reader: PAPER_DATASETS[key][0] for key, reader in settings.stand_in_datasets.items()
            if key in PAPER_DATASETS}


def class_mapping(settings: Settings) -> pd.DataFrame:
    """The class mapping of every stand-in: ``dataset, expression, paper_dataset, paper_class``."""
    rows = []
    for key, reader in sorted(settings.stand_in_datasets.items()):
        if key not in PAPER_DATASETS:
            continue
        for expression, paper_class in PAPER_CLASSES.get(reader, {}).get(key, {}).items():
            rows.append({"dataset": reader, "expression": expression, "paper_dataset": PAPER_DATASETS[key][0],
                         "paper_class": paper_class})
    return pd.DataFrame(rows, columns=["dataset", "expression", "paper_dataset", "paper_class"])


def _stand_in_source(settings: Settings, workdir: Path, key: str, reader: str) -> SourceFaces:
    classes = PAPER_CLASSES.get(reader, {}).get(key)
    if classes is None:
        raise DataUnavailable(f"{reader} has no class mapping onto {PAPER_DATASETS[key][0]}")
    return openpeople_expressions(settings, Path(workdir) / "stand_ins" / reader, classes=classes, name=reader)


def _sources(settings: Settings, workdir: Path) -> tuple[dict[str, SourceFaces], list[str]]:
    if settings.dataset == "samples":
        sources, problems = {"samples": sample_faces(settings)}, []
        for key, reader in settings.stand_in_datasets.items():
            if key in PAPER_DATASETS:
                try:
                    sources[reader] = _stand_in_source(settings, workdir, key, reader)
                except (DataUnavailable, *MISSING) as error:
                    problems.append(f"{reader} (for {PAPER_DATASETS[key][0]}) is not available: "
                                    f"{str(error).splitlines()[0]}")
        return sources, problems
    sources, problems = {}, []
    for key, (name, _) in PAPER_DATASETS.items():
        try:
            sources[name] = source_dataset(settings, key, name)
        except (DataUnavailable, *MISSING) as error:
            problems.append(f"{name} is not available: {str(error).splitlines()[0]}")
    return sources, problems


def expression_crops(settings: Settings, workdir: Path) -> tuple[dict[str, Any], dict[str, SourceFaces], list[str]]:
    """Paired crops per dataset (made once per run), their sources, and why any dataset is missing."""
    sources, problems = _sources(settings, workdir)
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
        classes = _stand_in_classes(settings, name)
        stamp = {"crops": (Path(paired.root) / "stamp.json").read_text(encoding="utf-8"),
                 "emotion": settings.models["emotion"], "classes": classes, **stamp_extra}
        out[name] = cached(Path(workdir) / "expression_faces" / f"{name.lower()}_inference.pkl", stamp,
                           lambda model=model, pairs=pairs, name=name, classes=classes: _only(
                               ExpressionEvaluation(model, dataset=name).run(pairs), classes))
    return out, problems


def _stand_in_classes(settings: Settings, name: str) -> list[str] | None:
    """The paper classes a stand-in dataset is measured on (the model's other classes are left out)."""
    for key, reader in settings.stand_in_datasets.items():
        if reader == name and key in PAPER_DATASETS:
            return list(dict.fromkeys(PAPER_CLASSES.get(reader, {}).get(key, {}).values())) or None
    return None


def _only(result: Any, classes: list[str] | None) -> Any:
    """``result`` with the distances of ``classes`` only (the paper dataset's classes); None keeps all."""
    if classes is None:
        return result
    kept = [c for c in result.classes if c in classes]
    missing = sorted(set(classes) - set(kept))
    if missing:
        raise ValueError(f"{result.dataset}: the emotion model {result.model} has no class {missing}")
    distances = result.distances[result.distances["emotion"].isin(kept)].reset_index(drop=True)
    return dataclasses.replace(result, classes=tuple(kept), distances=distances)


def _beside_paper_keys(table: pd.DataFrame, settings: Settings, *, method: str | None = None,
                       comparison: str | None = None) -> pd.DataFrame:
    """Stand-in rows get ``paper_dataset`` and ``paper_<method column>`` naming the paper's row they are set beside."""
    names = stand_ins(settings)
    if not names:
        return table
    table = table.copy()
    ours = table["dataset"].isin(list(names))
    table["paper_dataset"] = table["dataset"].map(names).where(ours)
    if method is not None:
        table[f"paper_{method}"] = table[method].map(lambda m: PAPER_SLOTS.get(m, m)).where(ours)
    if comparison is not None:
        table[f"paper_{comparison}"] = table[comparison].map(_paper_comparison).where(ours)
    return table


def _paper_comparison(label: str) -> str:
    reference, _, other = label.partition(" vs ")
    return f"{reference} vs {PAPER_SLOTS.get(other, other)}"


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
                      stand_ins=STAND_INS, stand_in_datasets=stand_ins(settings), paper_slots=PAPER_SLOTS,
                      measured_pairs={n: int((r.images["status"] == "measured").sum())
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
    table = _beside_paper_keys(table, settings, method="method")
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
    table = _beside_paper_keys(table, settings, comparison="comparison")
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
    names = stand_ins(settings)
    if not names:
        return Result("figure7", figure=mean_distance_bars(table), provenance=_details(settings, results))
    # A stand-in shares one panel with the paper's dataset: the paper's bars solid, ours hatched.
    from ganon.evaluation.reference import paper_table

    panels = {ours: f"{paper} (paper) / {ours} (ours)" for ours, paper in names.items()}
    paper = paper_table("table2")
    paper = paper[paper["dataset"].isin(list(names.values()))]
    paper = paper.assign(dataset=paper["dataset"].map({p: panels[o] for o, p in names.items()}))
    table = table.assign(dataset=table["dataset"].map(lambda d: panels.get(d, d)))
    return Result("figure7", figure=mean_distance_bars(table, paper=paper), provenance=_details(settings, results))


def _faces_figure(figure: str, settings: Settings, workdir: Path) -> Result:
    from ganon import visualize

    try:
        crops, sources, problems = expression_crops(settings, workdir)
    except MISSING as error:
        return _absent(figure, settings, str(error).splitlines()[0])
    wanted = next(name for name, fig in PAPER_DATASETS.values() if fig == figure)
    standing = {paper: ours for ours, paper in stand_ins(settings).items()}
    # The samples stand in for AffectNet's figure, a labelled stand-in for its dataset's; CK+ (posed, like
    # FACES) without one of its own borrows the FACES stand-in and shows its other validation person.
    pick = 0
    if settings.dataset == "samples" and figure == "figure4":
        name = "samples"
    elif wanted == "CK+" and wanted not in standing and "FACES" in standing:
        name, pick = standing["FACES"], 1
    else:
        name = standing.get(wanted, wanted)
    if name not in crops:
        missing = [p for p in problems if p.startswith((wanted, name))]
        return _absent(figure, settings, "; ".join(missing) or f"{wanted} is not part of the {settings.profile} profile")
    columns = ["GANonymization", *STAND_INS]
    titles = None
    if name in standing.values():
        rows, titles = _per_class_examples(crops[name], sources[name], columns, pick=pick)
    else:
        rows = visualize.paired_examples(crops[name], columns, n=5 if len(set(crops) - set(standing.values())) == 1 else 3)
    if not rows:
        return _absent(figure, settings, f"no face of {name} was anonymized")
    grid = visualize.face_grid(rows, col_titles=["Original", *columns], row_titles=titles, size=1.6)
    return Result(figure, figure=grid, provenance=provenance(
        settings, dataset_shown=name, stands_in_for=wanted if name != wanted else None, stand_ins=STAND_INS,
        source=sources[name].description, face_status=crops[name].faces["status"].value_counts().to_dict()))


def _per_class_examples(paired: Any, source: SourceFaces, columns: list[str], *,
                        pick: int = 0) -> tuple[list[list[Any]], list[str]]:
    """One row per class (the paper's order) of one validation person: the original crop, then each method's.

    ``pick`` chooses among the validation people in sorted order (wrapping), so two figures can show two people.
    """
    from ganon.imageio import read_image

    table = _faces_table(paired, source)
    val = table.loc[table["split"] == "val", "subject"]
    people = sorted(set(val if len(val) else table["subject"]))
    person = people[pick % len(people)]
    rows, titles = [], []
    for emotion in source.table.attrs.get("classes", ()):
        face = table[(table["subject"] == person) & (table["emotion"] == emotion)]
        if face.empty:
            continue
        image_id = face["image_id"].iloc[0]
        cells = [read_image(face["path"].iloc[0]).rgb]
        for method in columns:
            crop = Path(paired.methods[method]) / f"{image_id}.png"
            cells.append(read_image(crop).rgb if crop.is_file() else None)
        rows.append(cells)
        titles.append(f"{emotion} ({person})")
    return rows, titles


def _faces_table(paired: Any, source: SourceFaces) -> pd.DataFrame:
    """The stand-in's table on its original crops, the main face of each crop only."""
    table = paired.dataset_table(source.table)
    return table[table["face_index"] == 0].reset_index(drop=True)


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


def stand_in_training(settings: Settings, paired: Any, source: SourceFaces) -> list[Any]:
    """The training scenario on a stand-in: a linear classifier on HOG features per training set.

    Trained on the training people's crops of each set (original, or a method's crops of the same faces),
    graded on the original crops of the validation people, who are never trained on.
    """
    from ganon.evaluation.embedding_classifier import EmbeddingClassifierConfig, train_and_report

    table = _faces_table(paired, source)
    train, test = table[table["split"] == "train"], table[table["split"] == "val"]
    overlap = set(train["subject"]) & set(test["subject"])
    if overlap:
        raise ValueError(f"{source.name}: people {sorted(overlap)} are in both the training and the test split")
    config = EmbeddingClassifierConfig(seed=settings.seed)
    classes = list(source.table.attrs["classes"])
    reports = []
    for data in STAND_IN_TRAIN_DATA:
        rows = train
        if data != "Original":
            paths = [Path(paired.methods[data]) / f"{i}.png" for i in train["image_id"]]
            rows = train.assign(path=[str(p) for p in paths])[[p.is_file() for p in paths]]
        reports.append(train_and_report(rows, test, classes, dataset=source.name, train_data=data, config=config))
    return reports


def training_scenario(settings: Settings, workdir: Path) -> tuple[list[Any], list[str]]:
    """Table 4's reports: each dataset's classifiers, trained per training set, graded on original validation crops."""
    from ganon.evaluation.training_scenario import evaluate_classifier

    crops, sources, problems = expression_crops(settings, workdir)
    reports = []
    names = stand_ins(settings)
    for name, paired in crops.items():
        if name in names:
            stamp = {"crops": (Path(paired.root) / "stamp.json").read_text(encoding="utf-8"),
                     "train_data": STAND_IN_TRAIN_DATA, "seed": settings.seed, "classifier": "hog-logistic"}
            reports += cached(Path(workdir) / "classifiers" / name / "reports.pkl", stamp,
                              lambda paired=paired, source=sources[name]: stand_in_training(settings, paired, source))
            continue
        if name == "samples":
            continue
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

    if settings.dataset == "samples" and not stand_ins(settings):
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
    table = _beside_paper_keys(table, settings, method="train_data")
    return Result("table4", table=table, provenance=_training_details(settings))


def _training_details(settings: Settings) -> dict[str, Any]:
    extra: dict[str, Any] = {"train_data": TRAIN_DATA}
    if stand_ins(settings):
        extra.update(stand_in_datasets=stand_ins(settings), stand_in_train_data=STAND_IN_TRAIN_DATA,
                     paper_slots=PAPER_SLOTS, stand_in_classifier="logistic regression on HOG features (64 px grey)")
    return provenance(settings, **extra)


@REPRODUCERS.register("figure10")
def figure10(settings: Settings, *, workdir: Path) -> Result:
    """Figure 10: the confusion matrix of every emotion classifier of Table 4 on the original validation crops."""
    from ganon.evaluation.training_scenario import confusion_figure

    reports, absent = _training_or_absent("figure10", settings, workdir)
    if absent is not None:
        return absent
    return Result("figure10", figure=confusion_figure(reports), provenance=_training_details(settings))
