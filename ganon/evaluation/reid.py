"""Re-identification attacks: rank the identities of a gallery for every probe face (issue 13).

A distance above a recognizer's threshold does not make a face anonymous: an attacker only needs the
right identity to come first among the candidates (Hanisch et al. 2023, "A False Sense of Privacy").
Folders hold one sub-folder per identity; every image contributes its largest face. An attacker is a
scikit-learn style estimator, ``fit(embeddings, identities)`` then ``decision_scores(embeddings)``
(higher = more likely): ``nearest-neighbour`` ranks identities by their closest gallery image,
``linear-probe`` is a logistic regression trained on embeddings of anonymized images (the "trained
parrot"). A probe in which the recognizer finds no face counts as a random guess (its expected
hits, ``k / n``, and rank, ``(n + 1) / 2``), never as a miss that would flatter the anonymizer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ganon.backends.identity import IdentityModel
from ganon.evaluation.identity import list_images
from ganon.imageio import ImageReadError, read_image
from ganon.registry import Registry

__all__ = [
    "ATTACKERS", "PROBE_COLUMNS", "SUMMARY_COLUMNS", "Attacker", "EmbeddedSet", "LinearProbeAttacker",
    "NearestNeighbourAttacker", "attack", "embed_identity_folder", "identity_folder", "rank_of_truth",
    "summarize_reid", "top_k_curve",
]

logger = logging.getLogger(__name__)

#: The summary CSV of ``ganon evaluate reid``: the issue's columns first, then which attacker and lost faces.
SUMMARY_COLUMNS = ("probe_set", "backend", "n_probes", "n_identities", "rank1", "rank5", "chance",
                   "mean_rank", "attacker", "n_no_face")
#: The per-probe CSV.
PROBE_COLUMNS = ("probe_set", "backend", "attacker", "identity", "path", "face_found", "rank", "predicted",
                 "n_identities")


def identity_folder(root: Path | str) -> list[tuple[str, Path]]:
    """(identity, image) for every image below ``root/<identity>/``, sorted; only loose images: an error."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder (expected one sub-folder per identity)")
    loose = [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    pairs = [(path.relative_to(root).parts[0], path) for path in list_images(root) if path.parent != root]
    if not pairs:
        raise ValueError(f"{root}: no images in identity sub-folders (<root>/<identity>/<image>)"
                         + (f"; found {len(loose)} files directly in it" if loose else ""))
    if loose:
        logger.warning("%s: ignored %d files outside the identity sub-folders, e.g. %s", root, len(loose),
                       loose[0].name)
    return pairs


@dataclass(frozen=True)
class EmbeddedSet:
    """Embeddings of one identity-folder tree; rows of NaN where the recognizer found no face."""

    name: str
    identities: np.ndarray
    paths: tuple[str, ...]
    embeddings: np.ndarray

    @property
    def found(self) -> np.ndarray:
        return ~np.isnan(self.embeddings).any(axis=1)

    def __len__(self) -> int:
        return len(self.paths)

    def select(self, mask: np.ndarray) -> EmbeddedSet:
        paths = tuple(np.asarray(self.paths)[mask])
        return EmbeddedSet(self.name, self.identities[mask], paths, self.embeddings[mask])


def embed_identity_folder(root: Path | str, model: IdentityModel, *, name: str | None = None,
                          cache: dict[str, np.ndarray | None] | None = None,
                          progress: bool = False) -> EmbeddedSet:
    """Embed every image of an identity-folder tree; an unreadable image is logged and counts as no face.

    ``cache`` (path -> embedding) lets several scenarios share the embeddings of one tree.
    """
    root = Path(root)
    items = identity_folder(root)
    cache = {} if cache is None else cache
    vectors: list[np.ndarray | None] = []
    for _, path in tqdm(items, desc=name or root.name, unit="img", disable=not progress):
        key = str(path)
        if key not in cache:
            try:
                cache[key] = model.embed(read_image(path).rgb)
            except (ImageReadError, OSError) as error:
                logger.error("%s: cannot read (%s); counted as a probe without a face", path, error)
                cache[key] = None
        vectors.append(cache[key])
    dim = next((v.shape[0] for v in vectors if v is not None), 1)
    matrix = np.full((len(items), dim), np.nan, dtype=np.float64)
    for row, vector in enumerate(vectors):
        if vector is not None:
            matrix[row] = vector
    missing = int(sum(v is None for v in vectors))
    if missing:
        logger.info("%s: %s found no face in %d of %d images", root, model.name, missing, len(items))
    identities = np.array([identity for identity, _ in items])
    return EmbeddedSet(name or root.name, identities, tuple(str(p) for _, p in items), matrix)


class Attacker(Protocol):
    """Learns identities from labelled embeddings; scores each identity for new ones (higher: likelier)."""

    name: str
    classes_: np.ndarray

    def fit(self, embeddings: np.ndarray, identities: np.ndarray) -> Attacker: ...

    def decision_scores(self, embeddings: np.ndarray) -> np.ndarray: ...


def _unit(embeddings: np.ndarray) -> np.ndarray:
    return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)


ATTACKERS: Registry = Registry("attacker")


@ATTACKERS.register("nearest-neighbour")
class NearestNeighbourAttacker:
    """Scores an identity by minus the smallest distance from the probe to any of its gallery images."""

    name = "nearest-neighbour"

    def __init__(self, *, metric: str = "cosine") -> None:
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be cosine or euclidean, got {metric!r}")
        self.metric = metric

    def fit(self, embeddings: np.ndarray, identities: np.ndarray) -> NearestNeighbourAttacker:
        self._gallery = np.asarray(embeddings, dtype=np.float64)
        self._identities = np.asarray(identities)
        self.classes_ = np.unique(self._identities)
        return self

    def distances(self, embeddings: np.ndarray) -> np.ndarray:
        """(probes, gallery images) distances in this attacker's metric."""
        probes = np.asarray(embeddings, dtype=np.float64)
        if self.metric == "cosine":
            return 1.0 - _unit(probes) @ _unit(self._gallery).T
        return np.linalg.norm(probes[:, None, :] - self._gallery[None, :, :], axis=2)

    def decision_scores(self, embeddings: np.ndarray) -> np.ndarray:
        distances = self.distances(embeddings)
        return np.stack([-distances[:, self._identities == c].min(axis=1) for c in self.classes_], axis=1)


@ATTACKERS.register("linear-probe")
class LinearProbeAttacker:
    """Multinomial logistic regression on unit-length embeddings: an attacker trained on anonymized faces."""

    name = "linear-probe"

    def __init__(self, *, C: float = 10.0, max_iter: int = 5000, seed: int = 0) -> None:
        self.C, self.max_iter, self.seed = C, max_iter, seed

    def fit(self, embeddings: np.ndarray, identities: np.ndarray) -> LinearProbeAttacker:
        from sklearn.linear_model import LogisticRegression

        identities = np.asarray(identities)
        if len(np.unique(identities)) < 2:
            raise ValueError("a trained attacker needs images of at least two identities")
        self._model = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)
        self._model.fit(_unit(np.asarray(embeddings, dtype=np.float64)), identities)
        self.classes_ = self._model.classes_
        return self

    def decision_scores(self, embeddings: np.ndarray) -> np.ndarray:
        return self._model.predict_proba(_unit(np.asarray(embeddings, dtype=np.float64)))


def rank_of_truth(scores: np.ndarray, classes: np.ndarray, truth: Iterable[str]) -> np.ndarray:
    """1-based rank of each probe's true identity among ``classes`` (ties share the mean rank)."""
    ranks = []
    index = {c: i for i, c in enumerate(classes)}
    for row, identity in zip(scores, truth, strict=True):
        true = row[index[identity]]
        ranks.append(1.0 + float((row > true).sum()) + 0.5 * float((row == true).sum() - 1))
    return np.asarray(ranks)


def attack(gallery: EmbeddedSet, probes: EmbeddedSet, attacker: Attacker, *, backend: str,
           probe_set: str | None = None) -> pd.DataFrame:
    """Fit ``attacker`` on the gallery's faces and rank every probe: one row per probe (``PROBE_COLUMNS``).

    Probes of identities the gallery lacks are left out (closed-set identification) with a warning.
    """
    usable = gallery.select(gallery.found)
    attacker.fit(usable.embeddings, usable.identities)
    classes = attacker.classes_
    known = np.isin(probes.identities, classes)
    if not known.all():
        logger.warning("%s: %d probes of identities not in the gallery are left out, e.g. %s", probes.name,
                       int((~known).sum()), probes.identities[~known][0])
    probes = probes.select(known)
    found = probes.found
    ranks = np.full(len(probes), np.nan)
    predicted = np.full(len(probes), None, dtype=object)
    if found.any():
        scores = attacker.decision_scores(probes.embeddings[found])
        ranks[found] = rank_of_truth(scores, classes, probes.identities[found])
        predicted[found] = classes[np.argmax(scores, axis=1)]
    return pd.DataFrame({
        "probe_set": probe_set or probes.name, "backend": backend, "attacker": attacker.name,
        "identity": probes.identities, "path": list(probes.paths), "face_found": found, "rank": ranks,
        "predicted": predicted, "n_identities": len(classes),
    }, columns=list(PROBE_COLUMNS))


_KEYS = ("probe_set", "backend", "attacker")


def _hits(ranks: pd.Series, k: int, n: int) -> float:
    """Share of probes with rank <= k; a probe without a face adds k / n (a random guess)."""
    guessed = ranks.isna()
    return float(((ranks <= k) & ~guessed).sum() + guessed.sum() * min(k, n) / n) / len(ranks)


def summarize_reid(per_probe: pd.DataFrame) -> pd.DataFrame:
    """One row per probe set, backend and attacker (``SUMMARY_COLUMNS``)."""
    rows = []
    for (probe_set, backend, attacker), group in per_probe.groupby(list(_KEYS), sort=False):
        n = int(group["n_identities"].iloc[0])
        ranks = group["rank"].astype(float)
        rows.append({"probe_set": probe_set, "backend": backend, "n_probes": len(group), "n_identities": n,
                     "rank1": _hits(ranks, 1, n), "rank5": _hits(ranks, 5, n), "chance": 1.0 / n,
                     "mean_rank": float(ranks.fillna((n + 1) / 2).mean()), "attacker": attacker,
                     "n_no_face": int(ranks.isna().sum())})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def top_k_curve(per_probe: pd.DataFrame) -> pd.DataFrame:
    """Identification rate at every k = 1..n for each probe set, backend and attacker, with chance (k / n)."""
    rows = []
    for (probe_set, backend, attacker), group in per_probe.groupby(list(_KEYS), sort=False):
        n = int(group["n_identities"].iloc[0])
        ranks = group["rank"].astype(float)
        rows.extend({"probe_set": probe_set, "backend": backend, "attacker": attacker, "k": k,
                     "rate": _hits(ranks, k, n), "chance": k / n} for k in range(1, n + 1))
    return pd.DataFrame(rows)
