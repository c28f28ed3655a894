"""``ganon evaluate``: the paper's evaluations (Section 4) from the command line.

``identity`` measures how far anonymized faces moved from their originals (Table 1); ``baseline``
writes a folder anonymized with one of Table 1's classical baselines; ``crops`` writes paired face
crops (original, GANonymization, baselines) for the next two; ``emotion`` measures how much
of the expression survives (Tables 2 and 3, Figure 7); ``attributes`` which attributes are removed
(Table 6, Figure 9, and Table 5's report when labels are given).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer
from tqdm.auto import tqdm

from ganon.registry import UnknownNameError

logger = logging.getLogger(__name__)

evaluate_app = typer.Typer(
    name="evaluate",
    help="The paper's evaluations: identity (Table 1), baselines, emotion (Tables 2-3), attributes (Table 6); "
         "and video (temporal measures).",
    no_args_is_help=True,
)


def _fail(error: BaseException | str) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=1)


@evaluate_app.command("identity")
def identity(
    original: Path = typer.Option(..., "--original", help="Folder of original face images."),
    anonymized: list[Path] = typer.Option(
        ..., "--anonymized", help="Folder of anonymized versions (same relative paths); repeatable."
    ),
    name: list[str] | None = typer.Option(
        None, "--name", help="Method name for each --anonymized folder, in order (default: folder name)."
    ),
    backend: str = typer.Option(
        "dlib", "--backend", "-b", help="Identity model: dlib (offline) or facenet512 (paper)."
    ),
    metric: str | None = typer.Option(
        None,
        "--metric",
        help="dlib only: cosine (default, the paper's Eq. 1) or euclidean (dlib's own, threshold 0.6).",
    ),
    assume_aligned: bool = typer.Option(
        False,
        "--assume-aligned",
        help="Take each whole image as the face (no detection), like DeepFace's 'skip'.",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Per-image CSV; the summary goes to <out stem>_summary.csv."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing CSV files."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Cosine (or euclidean) identity distance between originals and each anonymized version."""
    import pandas as pd

    from ganon.backends.identity import ModelUnavailableError, build_identity_model
    from ganon.evaluation.identity import identity_distances, pair_by_relative_path, summarize_identity

    names = list(name or [])
    if names and len(names) != len(anonymized):
        raise _fail(f"--name was given {len(names)} times for {len(anonymized)} --anonymized folders")
    names = names or [folder.resolve().name for folder in anonymized]
    if len(set(names)) != len(names):
        raise _fail(f"method names must be unique, got {names}; use --name")
    summary_path = out.with_name(f"{out.stem}_summary.csv")
    for path in (out, summary_path):
        if path.exists() and not overwrite:
            raise _fail(f"{path}: exists; refusing to overwrite (use --overwrite)")

    options: dict[str, object] = {"assume_aligned": assume_aligned}
    if metric is not None:
        options["metric"] = metric
    try:
        model = build_identity_model(backend, **options)
    except (UnknownNameError, ModelUnavailableError, ValueError, TypeError) as error:
        raise _fail(error) from None

    tables = []
    cache: dict = {}
    try:
        for method, folder in zip(names, anonymized, strict=True):
            pairs = pair_by_relative_path(original, folder)
            if not pairs.pairs:
                raise _fail(f"{folder}: no image shares a relative path with {original}")
            tables.append(
                identity_distances(pairs, model, method_name=method, original_cache=cache, progress=progress)
            )
    except (OSError, ValueError) as error:
        raise _fail(error) from None

    per_image = pd.concat(tables, ignore_index=True)
    summary = summarize_identity(per_image)
    out.parent.mkdir(parents=True, exist_ok=True)
    per_image.to_csv(out, index=False)
    summary.to_csv(summary_path, index=False)
    typer.echo(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    typer.echo(f"per image: {out}\nsummary:   {summary_path}")


@evaluate_app.command("baseline")
def baseline(
    name: str = typer.Argument(..., help="pixelate-8x8, pixelate-16x16, blur-9x9 or blur-17x17."),
    input_dir: Path = typer.Argument(..., help="Folder of face images (walked recursively)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder; mirrors the input tree, never overwrites."
    ),
    pixelate_mode: str | None = typer.Option(
        None, "--pixelate-mode", help="pixelate only: grid (default, N x N cells) or block (N-pixel cells)."
    ),
    suffix: str = typer.Option(".png", "--suffix", help="Output format; PNG keeps the cells exact."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Anonymize a folder with one of Table 1's classical baselines."""
    from ganon.batch import PlanError, plan_outputs
    from ganon.evaluation.baselines import build_baseline
    from ganon.imageio import read_image, write_image

    if not input_dir.is_dir():
        raise _fail(f"{input_dir}: not a folder")
    try:
        method = build_baseline(name, **({"mode": pixelate_mode} if pixelate_mode else {}))
        jobs = plan_outputs([input_dir], out, suffix=suffix)
    except (UnknownNameError, PlanError, TypeError, ValueError) as error:
        raise _fail(error) from None
    existing = [job.target for job in jobs if job.target.exists()]
    if existing:
        raise _fail(f"{existing[0]}: exists ({len(existing)} targets in all); refusing to overwrite")
    failures = 0
    for job in tqdm(jobs, desc=name, unit="img", disable=not progress):
        try:
            image = read_image(job.source)
            job.target.parent.mkdir(parents=True, exist_ok=True)
            write_image(job.target, method(image.rgb))
        except (OSError, ValueError) as error:
            failures += 1
            typer.echo(f"error: {error}", err=True)
    typer.echo(f"{name}: {len(jobs) - failures} of {len(jobs)} images written to {out}")
    if failures:
        raise typer.Exit(code=1)


@evaluate_app.command("crops")
def crops(
    inputs: list[Path] = typer.Argument(..., help="Photos or folders of photos (walked recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="New folder: original/, ganonymization/, one per baseline."),
    weights: str = typer.Option(..., "--weights", "-w", help="Generator weights (path or shipped model name)."),
    baseline: list[str] | None = typer.Option(
        None, "--baseline", "-b", help="Also apply a baseline to each original crop, e.g. blur-9x9; repeatable."
    ),
    resolution: int = typer.Option(512, "--resolution", "--size", min=16,
                                   help="Side of the aligned face crops in pixels (the paper: 512); --size is its old name."),
    detector: str = typer.Option("retinaface-mobilenet", "--detector",
                                 help="Face detector (the paper's: retinaface-resnet50, paper environment only)."),
    on_miss: str = typer.Option(
        "average", "--on-miss", help="Face without landmarks: average (the paper's generator input) or blur."
    ),
    max_images: int | None = typer.Option(None, "--max-images", min=1, help="Only the first N photos (sorted)."),
    device: str = typer.Option("cpu", "--device", help="torch device of the generator."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Faces per generator batch."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a folder this command wrote before."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Paired face crops (original, GANonymization, baselines) for the emotion and attribute evaluations.

    Each detected face is aligned once and written as the original crop, as GANonymization's crop and
    as each --baseline applied to the original crop, all at the same relative path.
    """
    from ganon.evaluation.baselines import build_baseline
    from ganon.evaluation.identity import list_images
    from ganon.evaluation.paired import write_paired_crops
    from ganon.imageio import IMAGE_SUFFIXES
    from ganon.backends.errors import BackendUnavailableError
    from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer
    from ganon.weights import WeightsNotFoundError

    images: list[Path] = []
    for item in inputs:
        if item.is_dir():
            images.extend(list_images(item))
        elif item.is_file() and item.suffix.lower() in IMAGE_SUFFIXES:
            images.append(item)
        else:
            raise _fail(f"{item}: neither an image file nor a folder")
    images = sorted(dict.fromkeys(images))[:max_images]
    # Face ids are paths relative to the folder that holds every input (a given folder itself if only one).
    root = Path(os.path.commonpath([str((i if i.is_dir() else i.parent).resolve()) for i in inputs]))
    if not images:
        raise _fail(f"no images in {', '.join(str(i) for i in inputs)}")
    if on_miss not in ("average", "blur"):
        raise _fail(f"--on-miss must be average or blur, got {on_miss!r}")
    try:
        methods = {name: build_baseline(name) for name in (baseline or [])}
        config = AnonymizeConfig.paper(resolution=resolution, detector=detector, on_miss=on_miss)
        anonymizer = Anonymizer.from_weights(weights, config, device=device, batch_size=batch_size)
        result = write_paired_crops(images, anonymizer, out, baselines=methods, root=root, overwrite=overwrite,
                                    progress=progress)  # fmt: skip
    except (UnknownNameError, BackendUnavailableError, WeightsNotFoundError, FileExistsError, OSError,
            ValueError) as error:
        raise _fail(error) from None
    counts = result.faces["status"].value_counts().to_dict()
    typer.echo(f"{len(images)} photos, {sum(result.faces['image_id'].notna())} faces "
               f"({', '.join(f'{k} {v}' for k, v in counts.items())})")  # fmt: skip
    for name, folder in {"Original": result.original, **result.methods}.items():
        typer.echo(f"  {name}: {folder}")


def _method_pairs(original: Path, specs: list[str]) -> dict:
    """``NAME=DIR`` specs -> method -> Pairing; a clear exit on a missing folder or a method without pairs."""
    from ganon.evaluation.identity import pair_by_relative_path
    from ganon.evaluation.paired import parse_method_dirs

    if not original.is_dir():
        raise _fail(f"{original}: not a folder (--original)")
    try:
        folders = parse_method_dirs(specs)
    except ValueError as error:
        raise _fail(f"--anonymized {error}") from None
    pairs = {}
    for method, folder in folders.items():
        if not folder.is_dir():
            raise _fail(f"{folder}: not a folder (--anonymized {method}={folder})")
        try:
            pairing = pair_by_relative_path(original, folder)
        except (OSError, ValueError) as error:
            raise _fail(error) from None
        if not pairing.pairs:
            raise _fail(f"{folder}: no image shares a relative path (without suffix) with {original}")
        pairs[method] = pairing
    return pairs


def _claim_outputs(out: Path, names: list[str], overwrite: bool) -> dict[str, Path]:
    """Output paths in ``out``; refuses to replace any of them unless ``overwrite``."""
    paths = {name: out / name for name in names}
    existing = [p for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise _fail(f"{existing[0]}: exists; refusing to overwrite (use --overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    for path in existing:
        path.unlink()
    return paths


def _classifier(spec: str, registry: object, checkpoint_name: str, role: str) -> object:
    """A registered model by name, or the paper's ConvNeXt from a ganon classifier checkpoint file."""
    from ganon.backends.errors import BackendUnavailableError
    from ganon.registry import Registry

    assert isinstance(registry, Registry)
    path = Path(spec).expanduser()
    try:
        if path.is_file():
            return registry.get(checkpoint_name)(checkpoint=path)
        if spec in registry and spec != checkpoint_name:
            return registry.get(spec)()
    except (BackendUnavailableError, OSError, ImportError, ValueError, TypeError) as error:
        raise _fail(f"{spec}: cannot load the {role} model ({error})") from None
    names = ", ".join(n for n in registry.names() if n != checkpoint_name)
    raise _fail(f"{spec}: neither the name of a {role} model ({names}) nor a classifier checkpoint file")


@evaluate_app.command("emotion")
def emotion(
    original: Path = typer.Option(..., "--original", help="Folder of original face crops (walked recursively)."),
    anonymized: list[str] = typer.Option(
        ..., "--anonymized", help="NAME=DIR: a method's anonymized crops at the same relative paths; repeatable."
    ),
    model: str = typer.Option("fer", "--model", "-m", help="Emotion model: fer (offline) or a ConvNeXt checkpoint."),
    dataset: str = typer.Option("samples", "--dataset", help="Dataset name written into the tables."),
    reference: str = typer.Option(
        "GANonymization", "--reference", help="The method the others are tested against (Table 3)."
    ),
    face_check: str | None = typer.Option(
        None, "--face-check", help="Record whether a detector finds a face: haar (fer's) or dlib-hog."
    ),
    drop_no_face: bool = typer.Option(
        False, "--drop-no-face", help="Leave out pairs where --face-check finds no face on either side."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for the CSV files and figure7.png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace earlier outputs in --out."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Emotion probability distances (Table 2), Shapiro-Wilk, Wilcoxon tests (Table 3) and Figure 7."""
    from ganon.backends.emotion import EMOTION_MODELS
    from ganon.evaluation.expression import ExpressionEvaluation

    pairs = _method_pairs(original, anonymized)
    classifier = _classifier(model, EMOTION_MODELS, "convnext", "emotion")
    try:
        evaluation = ExpressionEvaluation(classifier, dataset=dataset, reference=reference, face_check=face_check,
                                          drop_no_face=drop_no_face, progress=progress)  # fmt: skip
        result = evaluation.run(pairs)
    except (UnknownNameError, ValueError, OSError) as error:
        raise _fail(error) from None
    names = ["distances.csv", "images.csv", "counts.csv", "table2.csv", "normality.csv", "figure7.png"]
    testable = reference in pairs and len(pairs) > 1
    paths = _claim_outputs(out, names + (["table3.csv"] if testable else []), overwrite)
    result.distances.to_csv(paths["distances.csv"], index=False)
    result.images.to_csv(paths["images.csv"], index=False)
    result.counts().to_csv(paths["counts.csv"], index=False)
    table2 = result.table2()
    table2.to_csv(paths["table2.csv"], index=False)
    result.normality().to_csv(paths["normality.csv"], index=False)
    result.figure7().savefig(paths["figure7.png"], dpi=120)
    if testable:
        result.table3().to_csv(paths["table3.csv"], index=False)
    else:
        typer.echo(f"note: no Table 3: it needs --reference {reference!r} and at least one other method", err=True)
    typer.echo(result.counts().to_string(index=False))
    typer.echo(table2.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    typer.echo(f"written to {out}")


@evaluate_app.command("attributes")
def attributes(
    original: Path = typer.Option(..., "--original", help="Folder of original face crops (walked recursively)."),
    anonymized: list[str] = typer.Option(
        ..., "--anonymized", help="NAME=DIR: a method's anonymized crops at the same relative paths; repeatable."
    ),
    model: str = typer.Option(
        "age-gender", "--model", "-m", help="Attribute model: age-gender (offline) or a CelebA ConvNeXt checkpoint."
    ),
    labels: Path | None = typer.Option(
        None, "--labels", help="CSV with image_id and one 0/1 column per attribute: adds table5.csv."
    ),
    threshold: float = typer.Option(0.5, "--threshold", help="An attribute is present above this probability."),
    figure_method: str | None = typer.Option(
        None, "--figure-method", help="Method drawn in figure9.png (default: the first --anonymized)."
    ),
    face_check: str | None = typer.Option(
        None, "--face-check", help="Record whether a detector finds a face: dlib-hog (age-gender's) or haar."
    ),
    drop_no_face: bool = typer.Option(
        False, "--drop-no-face", help="Leave out pairs where --face-check finds no face on either side."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for the CSV files and figure9.png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace earlier outputs in --out."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Fraction of detected attributes removed by each method (Table 6, Figure 9); Table 5 with --labels."""
    import pandas as pd

    from ganon.backends.attributes import ATTRIBUTE_MODELS
    from ganon.evaluation.attribute_removal import AttributeRemovalEvaluation

    pairs = _method_pairs(original, anonymized)
    label_table = None
    if labels is not None:
        if not labels.is_file():
            raise _fail(f"{labels}: no such file (--labels)")
        label_table = pd.read_csv(labels, dtype={"image_id": str})
        if "image_id" not in label_table.columns:
            raise _fail(f"{labels}: needs an image_id column, has {list(label_table.columns)}")
        label_table = label_table.set_index("image_id")
    shown = figure_method or next(iter(pairs))
    if shown not in pairs:
        raise _fail(f"--figure-method {shown!r} is not among {list(pairs)}")
    classifier = _classifier(model, ATTRIBUTE_MODELS, "celeba-convnext", "attribute")
    try:
        evaluation = AttributeRemovalEvaluation(classifier, threshold=threshold, face_check=face_check,
                                                drop_no_face=drop_no_face, progress=progress)  # fmt: skip
        result = evaluation.run(pairs)
        report = result.report(label_table) if label_table is not None else None
    except (UnknownNameError, KeyError, ValueError, OSError) as error:
        raise _fail(error) from None
    names = ["predictions.csv", "images.csv", "counts.csv", "table6.csv", "figure9.png"]
    paths = _claim_outputs(out, names + (["table5.csv"] if report is not None else []), overwrite)
    result.predictions.to_csv(paths["predictions.csv"], index=False)
    result.images.to_csv(paths["images.csv"], index=False)
    result.counts().to_csv(paths["counts.csv"], index=False)
    removal = result.removal()
    removal.to_csv(paths["table6.csv"], index=False)
    result.figure9(shown).savefig(paths["figure9.png"], dpi=120)
    if report is not None:
        report.to_csv(paths["table5.csv"], index=False)
    typer.echo(result.counts().to_string(index=False))
    typer.echo(removal.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    typer.echo(f"written to {out}")


@evaluate_app.command("video")
def video(
    original: Path = typer.Argument(..., help="The original video."),
    anonymized: Path = typer.Argument(..., help="Its anonymized version (same frames)."),
    stride: int = typer.Option(4, "--stride", min=1, help="Measure identity on every N-th frame."),
    json_path: Path | None = typer.Option(None, "--json", "--out", help="Write the measures here as JSON."),
) -> None:
    """Temporal measures: face flicker, leaked frames, identity drift, distance to the original, expression."""
    import json

    from ganon.evaluation.video import VideoEvalConfig, VideoLengthError, evaluate_video
    from ganon.video.io import VideoReadError

    try:
        measures = evaluate_video(original, anonymized, VideoEvalConfig(stride=stride)).to_dict()
    except (VideoReadError, VideoLengthError) as error:
        raise _fail(error) from None
    text = json.dumps({"original": str(original), "anonymized": str(anonymized), **measures}, indent=2)
    if json_path is not None:
        from ganon.imageio import write_bytes_atomic

        write_bytes_atomic(json_path, (text + "\n").encode(), overwrite=True)
    typer.echo(text)


def register(app: typer.Typer) -> None:
    app.add_typer(evaluate_app, name="evaluate")
