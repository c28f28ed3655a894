"""Each method under attack: naive, parrot and trained parrot re-identification; linkability; diversity.

The scenarios follow Hanisch et al. 2023: the *naive* attacker holds the original photos of every
identity (gallery) and ranks them for each anonymized probe; the *parrot* knows the method and
anonymizes the gallery with it first; the *trained parrot* also trains a classifier (a linear probe
on the recognizer's embeddings) on anonymized images of the gallery identities. Beside them: the
linkability of anonymized images to each other (Gomez-Barrero et al. 2017), the share of different
people whom the recognizer calls one (diversity), and what each method costs the expression (the
Section 4.2 distance between the emotion model's outputs on original and anonymized probes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ganon.backends.errors import BackendUnavailableError
from ganon.backends.identity import IdentityModel, ModelUnavailableError
from ganon.evaluation.anonymizers import anonymize_tree, build_method
from ganon.evaluation.linkability import Linkability, false_match_rate, linkability, pair_distances
from ganon.evaluation.reid import (
    EmbeddedSet, LinearProbeAttacker, NearestNeighbourAttacker, attack, identity_folder, summarize_reid,
    top_k_curve,
)
from ganon.imageio import read_image

__all__ = ["METHODS_COMPARED", "SCENARIOS", "AttackConfig", "AttackResult", "openpeople_attack_folders",
           "plot_privacy_utility", "plot_top_k", "run_attacks"]

logger = logging.getLogger(__name__)

METHODS_COMPARED = ("original", "blur-9x9", "blur-17x17", "pixelate-8x8", "pixelate-16x16", "ganon-crops",
                    "ganon-composite", "authors-crops")
SCENARIOS = ("naive", "parrot", "trained-parrot")


@dataclass(frozen=True)
class AttackConfig:
    """Which methods and recognizers to attack with; ``outside`` adds folders of other methods' outputs.

    An outside folder holds anonymized versions of the gallery, probe and train trees under
    ``gallery/``, ``probe/`` and ``train/`` (same relative paths). Methods and backends that cannot
    run here (weights missing) are skipped and listed in ``AttackResult.skipped``.
    """

    methods: tuple[str, ...] = METHODS_COMPARED
    backends: tuple[str, ...] = ("dlib", "sface", "facenet512")
    #: Options per backend, e.g. dlib's ``upsample=0``, enough for faces of 80 px and more and twice as fast.
    backend_options: dict[str, dict] = field(default_factory=lambda: {"dlib": {"upsample": 0}})
    outside: dict[str, str] = field(default_factory=dict)
    weights: str = "ganon-synth-128"
    #: Seed of a coded generator's appearance codes (each image its own code); no effect on un-coded ones.
    seed: int | None = 0
    #: Emotion backend for the expression cost, and its options (``fer`` cuts the face with a Haar cascade).
    emotion: str = "fer"
    emotion_options: dict = field(default_factory=lambda: {"crop": "haar"})
    progress: bool = False


@dataclass
class AttackResult:
    """Tidy tables of one suite run (one row per method, backend, scenario where it applies)."""

    summary: pd.DataFrame
    per_probe: pd.DataFrame
    top_k: pd.DataFrame
    linkability: pd.DataFrame
    local: dict[tuple[str, str], Linkability]
    expression: pd.DataFrame
    skipped: list[str]

    def rank1_table(self) -> pd.DataFrame:
        """Rank-1 accuracy with one row per method and one column per backend and scenario."""
        table = self.summary.pivot_table(index="method", columns=["backend", "scenario"], values="rank1",
                                         sort=False)
        return table.reindex(columns=[c for b in dict.fromkeys(self.summary["backend"]) for c in
                                      ((b, s) for s in SCENARIOS) if c in table.columns])

    def privacy_utility(self, *, scenario: str = "parrot") -> pd.DataFrame:
        """Rank-1 accuracy of one scenario beside each method's expression distance, per backend."""
        rank1 = self.summary[self.summary["scenario"] == scenario][["method", "backend", "rank1", "chance"]]
        return rank1.merge(self.expression, on="method", how="left")


def openpeople_attack_folders(out: Path | str, *, gallery: tuple[str, ...] = ("studio_portrait",),
                              probe: tuple[str, ...] = ("01_happy", "04_surprised"),
                              train: tuple[str, ...] = ("00_neutral", "02_sad"), max_side: int = 640
                              ) -> dict[str, Path]:
    """openpeople's 10 people as three identity-folder trees of originals (``gallery``, ``probe``, ``train``).

    The names are photo stems or expression crops (``NN_expression``) from ``ganon.data.datasets.openpeople``;
    no image is in two trees.
    """
    from ganon.data.datasets.openpeople import OpenPeople

    if len({*gallery, *probe, *train}) != len(gallery) + len(probe) + len(train):
        raise ValueError("an image may belong to only one of gallery, probe and train")
    reader = OpenPeople()
    table = reader.read()
    folders = {}
    for role, names in (("gallery", gallery), ("probe", probe), ("train", train)):
        chosen = table[table["name"].isin(names)]
        missing = sorted(set(names) - set(chosen["name"]))
        if missing:
            raise ValueError(f"openpeople has no images named {missing}")
        folders[role] = Path(out) / role
        reader.materialize(folders[role], frame=chosen, max_side=max_side)
    return folders


def celeba_attack_folders(root: Path | str, out: Path | str, *, n_identities: int = 100, split: str = "test",
                          roles: tuple[tuple[str, int], ...] = (("gallery", 1), ("probe", 1), ("train", 2)),
                          seed: int = 0) -> dict[str, Path]:
    """CelebA identities (``identity_CelebA.txt``) of one official split as three identity-folder trees.

    ``n_identities`` people with enough images for every role are drawn with ``seed``; each person's
    images are shuffled with the same seed and dealt to the roles in order, so no image is in two trees.
    Files are copied unchanged (``<out>/<role>/<identity>/<image_id>``); existing copies are kept.
    """
    import shutil

    from ganon.data.datasets.base import read_dataset

    table = read_dataset("celeba", root)
    table = table[(table["split"] == split) & table["subject"].notna()]
    if table.empty:
        raise ValueError(f"{root}: no {split} image has an identity (identity_CelebA.txt is needed for attacks)")
    need = sum(count for _, count in roles)
    sizes = table.groupby("subject").size()
    eligible = sorted(sizes[sizes >= need].index)
    if len(eligible) < 2:
        raise ValueError(f"{root}: {len(eligible)} {split} identities have the {need} images the roles need; "
                         "attacks need at least 2")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(eligible, size=min(n_identities, len(eligible)), replace=False))
    folders = {role: Path(out) / role for role, _ in roles}
    for subject in chosen:
        rows = table[table["subject"] == subject].sort_values("image_id")
        order = rng.permutation(len(rows))
        start = 0
        for role, count in roles:
            for i in order[start:start + count]:
                source = Path(rows.iloc[i]["path"])
                target = folders[role] / str(subject) / source.name
                if not target.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
            start += count
    logger.info("CelebA %s split: %d identities in %s", split, len(chosen), ", ".join(folders))
    return folders


def profile_attack_folders(datasets: dict, out: Path | str, *, seed: int = 0) -> tuple[dict[str, Path], str]:
    """The profile's attack data and its name: CelebA identities where the profile has CelebA (the paper
    profile), openpeople otherwise, or where the CelebA folder has too few identities (said in the name)."""
    entry = datasets.get("celeba")
    if entry:
        try:
            return celeba_attack_folders(entry["data_dir"], Path(out) / "celeba", seed=seed), "CelebA test identities"
        except ValueError as error:
            logger.warning("attacks fall back to openpeople: %s", error)
            note = f"openpeople (CelebA could not serve: {error})"
            return openpeople_attack_folders(Path(out) / "openpeople"), note
    return openpeople_attack_folders(out), "openpeople"


@dataclass
class _Recognizer:
    """A backend, its face-crop variant and the original face boxes: what the attacker knows.

    An attacker who knows the method knows that it leaves faces where they were. So where the
    recognizer's own detector finds no face in an anonymized image (a pixelated face, say), the face
    is cut from where the pipeline's detector found it in the original, and embedded as a crop; an
    output that is itself a face crop (crops mode) is embedded whole. Only an image without any
    output stays without a face (and counts as a random guess).
    """

    model: IdentityModel
    crop_model: IdentityModel
    margin: float = 0.2
    boxes: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)
    detector: object = None

    def _box(self, original: str) -> np.ndarray | None:
        if original not in self.boxes:
            from ganon.backends.detectors import build_detector

            self.detector = self.detector or build_detector("retinaface-mobilenet")
            found = self.detector.detect(read_image(original).rgb)  # type: ignore[attr-defined]
            self.boxes[original] = max((d.box for d in found), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]),
                                       default=None)
        return self.boxes[original]

    def embed(self, output: str, original: str) -> np.ndarray | None:
        key = (output, original)
        if key in self.cache:
            return self.cache[key]
        image = read_image(output).rgb
        vector = self.model.embed(image)
        if vector is None:
            source = read_image(original).rgb
            box = self._box(original)
            if image.shape[:2] != source.shape[:2]:
                vector = self.crop_model.embed(image)
            elif box is not None:
                x0, y0, x1, y1 = box
                grow = self.margin * max(x1 - x0, y1 - y0)
                height, width = image.shape[:2]
                x0, y0 = int(max(0, x0 - grow)), int(max(0, y0 - grow))
                x1, y1 = int(min(width, x1 + grow)), int(min(height, y1 + grow))
                vector = self.crop_model.embed(np.ascontiguousarray(image[y0:y1, x0:x1]))
        self.cache[key] = vector
        return vector


def _aligned_embeddings(originals: Path, anonymized: pd.DataFrame, recognizer: _Recognizer,
                        name: str) -> EmbeddedSet:
    """Embeddings of a method's outputs in the order of the original tree; no output counts as no face."""
    items = identity_folder(originals)
    outputs = dict(zip(anonymized["source"], anonymized["output"], strict=True))
    vectors = []
    for _, path in items:
        output = outputs.get(str(path))
        vectors.append(None if output is None else recognizer.embed(output, str(path)))
    dim = next((v.shape[0] for v in vectors if v is not None), 1)
    matrix = np.full((len(items), dim), np.nan)
    for row, vector in enumerate(vectors):
        if vector is not None:
            matrix[row] = vector
    return EmbeddedSet(name, np.array([i for i, _ in items]), tuple(str(p) for _, p in items), matrix)


def _expression_costs(probe_dir: Path, outputs: pd.DataFrame, model: object) -> dict[str, float]:
    """Mean |p_anonymized - p_original| of the emotion model over classes and probes; top-class changes."""
    distances, changed = [], []
    for source, output in zip(outputs["source"], outputs["output"], strict=True):
        original = model.predict_proba([read_image(source).rgb])[0]  # type: ignore[attr-defined]
        if output is None:  # nothing left of the face: the expression is lost entirely
            distances.append(float(np.abs(original - 1.0 / len(original)).mean()))
            changed.append(1.0)
            continue
        anonymized = model.predict_proba([read_image(output).rgb])[0]  # type: ignore[attr-defined]
        distances.append(float(np.abs(anonymized - original).mean()))
        changed.append(float(np.argmax(anonymized) != np.argmax(original)))
    return {"expression_distance": float(np.mean(distances)), "emotion_changed": float(np.mean(changed))}


def run_attacks(gallery: Path | str, probe: Path | str, train: Path | str, work: Path | str,
                config: AttackConfig = AttackConfig()) -> AttackResult:
    """Anonymize the three original trees with every method (cached under ``work``) and attack each output."""
    from ganon import backends

    roots = {"gallery": Path(gallery), "probe": Path(probe), "train": Path(train)}
    work = Path(work)
    skipped: list[str] = []
    outputs: dict[str, dict[str, pd.DataFrame]] = {}
    for method_name in (*config.methods, *config.outside):
        outside = config.outside.get(method_name)
        options: dict = {}
        if method_name in ("ganon-crops", "ganon-composite"):
            options = {"weights": config.weights, "seed": config.seed}
        elif method_name == "ganon-seeded-crops":  # its own weights, the suite's seed
            options = {"seed": config.seed}
        try:
            method = None if outside else build_method(method_name, **options)
        except (BackendUnavailableError, ModelUnavailableError) as error:
            skipped.append(f"{method_name}: {_short(error)}")
            logger.warning("attacks: skipping %s (%s)", method_name, _short(error))
            continue
        if method_name == "original":  # no copies: the attacker sees the very files
            outputs[method_name] = {role: _unchanged(root) for role, root in roots.items()}
            continue
        outputs[method_name] = {
            role: anonymize_tree(method if method is not None else str(Path(outside) / role), root,
                                 work / method_name / role, progress=config.progress)
            for role, root in roots.items()
        }
    try:
        emotion = backends.build("emotion", config.emotion, **config.emotion_options)
    except (BackendUnavailableError, ModelUnavailableError) as error:
        skipped.append(f"expression cost ({config.emotion}): {_short(error)}")
        expression = pd.DataFrame(columns=["method", "expression_distance", "emotion_changed"])
    else:
        expression = pd.DataFrame([{"method": m, **_expression_costs(roots["probe"], o["probe"], emotion)}
                                   for m, o in outputs.items()])

    probe_tables, link_rows, local = [], [], {}
    for backend_name in config.backends:
        try:
            options = config.backend_options.get(backend_name, {})
            model = backends.build("identity", backend_name, **options)
            crop_model = backends.build("identity", backend_name, assume_aligned=True, **options)
            recognizer = _Recognizer(model, crop_model)
        except (BackendUnavailableError, ModelUnavailableError, ImportError) as error:
            skipped.append(f"{backend_name}: {_short(error)}")
            logger.warning("attacks: skipping backend %s (%s)", backend_name, _short(error))
            continue
        unchanged = {role: _unchanged(root) for role, root in roots.items()}
        original_sets = {role: _aligned_embeddings(roots[role], unchanged[role], recognizer, role)
                         for role in roots}
        originals = original_sets["gallery"]
        original_pairs = pair_distances(_union(original_sets["probe"], original_sets["train"]),
                                        metric=model.metric)
        original_fmr = false_match_rate(original_pairs[1], model.threshold)
        for method_name, tables in outputs.items():
            sets = {role: _aligned_embeddings(roots[role], tables[role], recognizer, role) for role in roots}
            scenarios = {
                "naive": (originals, NearestNeighbourAttacker(metric=model.metric)),
                "parrot": (sets["gallery"], NearestNeighbourAttacker(metric=model.metric)),
                "trained-parrot": (_union(sets["gallery"], sets["train"]), LinearProbeAttacker()),
            }
            for scenario, (known, attacker) in scenarios.items():
                if not known.found.any() or len(np.unique(known.identities[known.found])) < 2:
                    skipped.append(f"{method_name}/{backend_name}/{scenario}: fewer than two identities "
                                   "have a face")
                    continue
                rows = attack(known, sets["probe"], attacker, backend=backend_name, probe_set=method_name)
                rows.insert(0, "scenario", scenario)
                probe_tables.append(rows)
            linked = _union(sets["probe"], sets["train"])
            mated, non_mated = pair_distances(linked, metric=model.metric)
            if len(mated) and len(non_mated):
                result = linkability(mated, non_mated, bins=20)
                local[(method_name, backend_name)] = result
                link_rows.append({"method": method_name, "backend": backend_name, "d_sys": result.d_sys,
                                  "fmr": false_match_rate(non_mated, model.threshold),
                                  "fmr_original": original_fmr, "n_mated": len(mated),
                                  "n_non_mated": len(non_mated), "threshold": model.threshold})
    per_probe = pd.concat(probe_tables, ignore_index=True) if probe_tables else pd.DataFrame()
    summary, top_k = pd.DataFrame(), pd.DataFrame()
    if len(per_probe):
        keyed = per_probe.assign(probe_set=per_probe["probe_set"] + "|" + per_probe["scenario"])
        summary = _split_key(summarize_reid(keyed))
        top_k = _split_key(top_k_curve(keyed))
    return AttackResult(summary, per_probe, top_k, pd.DataFrame(link_rows), local, expression, skipped)


def _unchanged(root: Path) -> pd.DataFrame:
    """The table ``anonymize_tree`` returns, for a method that leaves every image as it is."""
    paths = [str(path) for _, path in identity_folder(root)]
    return pd.DataFrame({"source": paths, "output": paths, "status": "kept"})


def _short(error: BaseException) -> str:
    """One line on what is missing, without the machine's paths (for a book page)."""
    if isinstance(error, BackendUnavailableError):
        return f"needs {error.missing}"
    return str(error).split(";")[0].split(": ", 1)[-1].split(". ")[0]


def _union(a: EmbeddedSet, b: EmbeddedSet) -> EmbeddedSet:
    dim = max(a.embeddings.shape[1], b.embeddings.shape[1])
    pad = lambda m: m if m.shape[1] == dim else np.full((len(m), dim), np.nan)  # noqa: E731 (all-NaN sets)
    return EmbeddedSet(f"{a.name}+{b.name}", np.concatenate([a.identities, b.identities]), a.paths + b.paths,
                       np.vstack([pad(a.embeddings), pad(b.embeddings)]))


def _split_key(table: pd.DataFrame) -> pd.DataFrame:
    method_scenario = table["probe_set"].str.split("|", n=1, expand=True)
    table = table.drop(columns="probe_set")
    table.insert(0, "scenario", method_scenario[1])
    table.insert(0, "method", method_scenario[0])
    return table


def plot_top_k(top_k: pd.DataFrame, *, backend: str, methods: tuple[str, ...] | None = None):  # noqa: ANN201
    """One panel per scenario: identification rate against k for each method, and chance as a dashed line."""
    import matplotlib.pyplot as plt

    table = top_k[top_k["backend"] == backend]
    methods = methods or tuple(dict.fromkeys(table["method"]))
    scenarios = [s for s in SCENARIOS if s in set(table["scenario"])]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(3.6 * len(scenarios), 3.2), sharey=True,
                             squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        rows = table[table["scenario"] == scenario]
        for index, method in enumerate(methods):
            curve = rows[rows["method"] == method]
            if len(curve):
                ax.plot(curve["k"], curve["rate"], marker=".", color=colours(index % 10), label=method)
        chance = rows.drop_duplicates("k")
        ax.plot(chance["k"], chance["chance"], ls="--", color="grey", label="chance")
        ax.set_title(f"{scenario} ({backend})")
        ax.set_xlabel("k (candidates the attacker may name)")
        ax.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("share of probes identified within k")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_privacy_utility(table: pd.DataFrame, *, scenario: str):  # noqa: ANN201
    """Rank-1 attack accuracy (privacy) against expression distance (utility); lower is better for both."""
    import matplotlib.pyplot as plt

    backends_shown = list(dict.fromkeys(table["backend"]))
    fig, axes = plt.subplots(1, len(backends_shown), figsize=(4.2 * len(backends_shown), 3.6), squeeze=False)
    for ax, backend in zip(axes[0], backends_shown, strict=True):
        rows = table[table["backend"] == backend]
        ax.scatter(rows["expression_distance"], rows["rank1"], color="tab:purple")
        for index, row in enumerate(rows.sort_values("expression_distance").itertuples()):
            ax.annotate(row.method, (row.expression_distance, row.rank1), fontsize=7,
                        xytext=(4, -10 * (index % 3)), textcoords="offset points")  # methods cluster
        ax.axhline(rows["chance"].iloc[0], ls="--", color="grey", label="chance")
        ax.set_xlabel("expression distance (mean |p_anon - p_orig|, fer)")
        ax.set_ylabel(f"rank-1 accuracy, {scenario}")
        ax.set_title(backend)
        ax.set_ylim(-0.02, 1.05)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
