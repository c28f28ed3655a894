"""Identity evaluation (Section 4.1): how far each anonymized face moved from its original.

Originals and anonymized versions are paired by relative path (ignoring the file suffix), each pair
is embedded with an ``IdentityModel`` and the distance is compared with the model's threshold. A
pair whose anonymized image has no detectable face is kept and flagged (``face_in_anonymized``
False, distance NaN), never dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ganon.backends.identity import IdentityModel
from ganon.imageio import IMAGE_SUFFIXES, read_image

__all__ = [
    "ImagePair",
    "Pairing",
    "identity_distances",
    "list_images",
    "pair_by_relative_path",
    "summarize_identity",
]

logger = logging.getLogger(__name__)

#: Columns of the per-image table returned by ``identity_distances``.
DISTANCE_COLUMNS = (
    "method",
    "relative_path",
    "distance",
    "above_threshold",
    "face_in_original",
    "face_in_anonymized",
    "backend",
    "metric",
    "threshold",
    "original",
    "anonymized",
)


def list_images(root: Path | str) -> list[Path]:
    """Image files below ``root`` (by suffix, hidden entries skipped), recursively, in sorted order."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


class ImagePair(NamedTuple):
    """One original and its anonymized version; ``rel`` is the relative path without suffix."""

    rel: str
    original: Path
    anonymized: Path


@dataclass(frozen=True)
class Pairing:
    """Matched pairs (a sequence of ``ImagePair``) plus the files that found no partner."""

    pairs: tuple[ImagePair, ...]
    unmatched_original: tuple[Path, ...] = field(default=())
    unmatched_anonymized: tuple[Path, ...] = field(default=())

    def __iter__(self) -> Iterator[ImagePair]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> ImagePair:
        return self.pairs[index]


def _index_by_stem(root: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in list_images(root):
        key = path.relative_to(root).with_suffix("").as_posix()
        if key in index:
            raise ValueError(
                f"{root}: {index[key].name} and {path.name} differ only in suffix; cannot pair them"
            )
        index[key] = path
    return index


def pair_by_relative_path(original_dir: Path | str, anonymized_dir: Path | str) -> Pairing:
    """Pair images of two trees by relative path without suffix (``a/b.jpg`` <-> ``a/b.png``).

    Files without a partner are logged as a warning and listed in the result.
    """
    originals = _index_by_stem(Path(original_dir))
    anonymized = _index_by_stem(Path(anonymized_dir))
    common = sorted(originals.keys() & anonymized.keys())
    pairing = Pairing(
        pairs=tuple(ImagePair(key, originals[key], anonymized[key]) for key in common),
        unmatched_original=tuple(originals[k] for k in sorted(originals.keys() - anonymized.keys())),
        unmatched_anonymized=tuple(anonymized[k] for k in sorted(anonymized.keys() - originals.keys())),
    )
    for label, files, other in (
        ("original", pairing.unmatched_original, anonymized_dir),
        ("anonymized", pairing.unmatched_anonymized, original_dir),
    ):
        if files:
            shown = ", ".join(str(p) for p in files[:5]) + (" ..." if len(files) > 5 else "")
            logger.warning("%d %s file(s) have no partner in %s: %s", len(files), label, other, shown)
    return pairing


def identity_distances(
    pairs: Sequence[ImagePair] | Pairing,
    model: IdentityModel,
    *,
    method_name: str,
    original_cache: dict[Path, np.ndarray | None] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per pair: distance between original and anonymized embeddings, and face flags.

    ``original_cache`` (path -> embedding) lets several methods share the originals' embeddings.
    ``above_threshold`` is None where a distance could not be measured.
    """
    cache = original_cache if original_cache is not None else {}
    rows = []
    for rel, original, anonymized in tqdm(list(pairs), desc=method_name, unit="img", disable=not progress):
        if original not in cache:
            cache[original] = model.embed(read_image(original).rgb)
        reference = cache[original]
        embedding = model.embed(read_image(anonymized).rgb)
        distance = np.nan
        if reference is not None and embedding is not None:
            distance = model.distance(reference, embedding)
        rows.append(
            {
                "method": method_name,
                "relative_path": rel,
                "distance": distance,
                "above_threshold": None if np.isnan(distance) else bool(distance > model.threshold),
                "face_in_original": reference is not None,
                "face_in_anonymized": embedding is not None,
                "backend": model.name,
                "metric": model.metric,
                "threshold": model.threshold,
                "original": str(original),
                "anonymized": str(anonymized),
            }
        )
    return pd.DataFrame(rows, columns=list(DISTANCE_COLUMNS))


def summarize_identity(df: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean and std of the distance, n measured, fraction above threshold, faces lost.

    ``n_no_face`` counts pairs whose original has a face but whose anonymized image has none (for a
    detector-based backend that is itself a sign of anonymization, or of a broken output);
    ``n_no_face_original`` counts pairs that could not be measured because the original has no face.
    ``fraction_not_reidentified`` counts a lost face as not re-identified:
    (above + n_no_face) / (n + n_no_face).
    """
    records = []
    for method, group in df.groupby("method", sort=False):
        measured = group["distance"].dropna()
        above = int((measured > group["threshold"].loc[measured.index]).sum())
        n, n_no_face = len(measured), int((group["face_in_original"] & ~group["face_in_anonymized"]).sum())
        records.append(
            {
                "method": method,
                "mean": float(measured.mean()) if n else np.nan,
                "std": float(measured.std(ddof=1)) if n > 1 else np.nan,
                "n": n,
                "fraction_above_threshold": above / n if n else np.nan,
                "n_no_face": n_no_face,
                "fraction_not_reidentified": (above + n_no_face) / (n + n_no_face)
                if n + n_no_face
                else np.nan,
                "n_no_face_original": int((~group["face_in_original"]).sum()),
                "backend": group["backend"].iloc[0],
                "metric": group["metric"].iloc[0],
                "threshold": float(group["threshold"].iloc[0]),
            }
        )
    return pd.DataFrame(records)
