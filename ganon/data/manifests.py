"""Typed records for ``data_manifests/``: one YAML per weight file and per dataset.

A manifest says where a thing comes from (URL or installed package), how to check it (sha256 or
trust-on-first-use), under which terms it may be used, and which part of the paper needs it. The
YAML files are the single source of truth; this module only validates and looks them up.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ganon.registry import UnknownNameError

#: Where the manifests live in a source checkout; ``GANON_MANIFESTS`` overrides it.
DEFAULT_MANIFESTS = Path(__file__).resolve().parents[2] / "data_manifests"

_NAME = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"
_SHA256 = r"^[0-9a-f]{64}$"
_MD5 = r"^[0-9a-f]{32}$"

WeightKind = Literal[
    "generator", "detector", "landmarks", "segmenter", "identity", "emotion", "attributes",
    "backbone", "face-synthesis",
]
WeightFormat = Literal[
    "authors-ckpt", "lightning-ckpt", "keras-h5", "onnx", "onnx-in-python", "tflite", "mediapipe-task",
    "dlib-dat", "torch-pth", "torch-tar", "safetensors",
]
Sha256Policy = Literal["pinned", "trust-on-first-use"]


class ManifestError(ValueError):
    """A manifest file is missing, unreadable or does not validate; the message names the file."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackageSource(_Frozen):
    """A file shipped inside a PyPI distribution: ``package: name==version``, ``path`` as in its RECORD."""

    package: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+$")
    path: str

    @property
    def project(self) -> str:
        return self.package.split("==", 1)[0]

    @property
    def version(self) -> str:
        return self.package.split("==", 1)[1]

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in Path(value).parts:
            raise ValueError(f"package path must be relative to the install root, got {value!r}")
        return value


class ReportedHash(_Frozen):
    """A sha256 that someone else published for the file but that nobody here could check."""

    sha256: str = Field(pattern=_SHA256)
    size_bytes: int | None = None
    reported_by: str


class WeightManifest(_Frozen):
    """One weight file: provenance, integrity policy, licence, and the paper section that uses it."""

    name: str = Field(pattern=_NAME)
    title: str
    section: str = Field(pattern=r"^\d+(\.\d+)*$", description="paper section that uses it")
    role: str
    kind: WeightKind
    format: WeightFormat
    url: str | None = None
    mirrors: tuple[str, ...] = ()
    source: PackageSource | None = None
    filename: str
    size_bytes: int | None = Field(default=None, gt=0)
    size_exact: bool = False
    sha256: str | None = Field(default=None, pattern=_SHA256)
    sha256_policy: Sha256Policy
    sha256_prefix: str | None = Field(default=None, pattern=r"^[0-9a-f]{6,63}$")
    reported: ReportedHash | None = None
    licence: str
    access: str | None = None
    homepage: str | None = None
    citation: str
    notes: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def offline(self) -> bool:
        """True when the file ships inside an installable package (no download from elsewhere)."""
        return self.source is not None

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(https?|file)://", value):
            raise ValueError(f"url must start with https://, http:// or file://, got {value!r}")
        return value

    @field_validator("filename")
    @classmethod
    def _plain_filename(cls, value: str) -> str:
        if "/" in value or value in {"", ".", ".."}:
            raise ValueError(f"filename must be a plain file name, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WeightManifest:
        if (self.url is None) == (self.source is None):
            raise ValueError("give exactly one of 'url' (download) or 'source' (file inside a package)")
        if self.sha256_policy == "pinned" and self.sha256 is None:
            raise ValueError("sha256_policy 'pinned' needs a sha256")
        if self.sha256_policy == "trust-on-first-use" and self.sha256 is not None:
            raise ValueError("a known sha256 must use sha256_policy 'pinned'")
        if self.source is not None and self.sha256 is None:
            raise ValueError("a file inside a pinned package can be hashed offline: give its sha256")
        if self.sha256 is not None and self.sha256_prefix and not self.sha256.startswith(self.sha256_prefix):
            raise ValueError("sha256_prefix contradicts sha256")
        if self.size_exact and self.size_bytes is None:
            raise ValueError("size_exact needs size_bytes")
        if self.source is not None and Path(self.source.path).name != self.filename:
            raise ValueError("filename must be the last part of source.path")
        return self


class DatasetFile(_Frozen):
    """A file or folder that the official layout must (or may) contain, relative to the dataset root."""

    path: str
    kind: Literal["file", "dir"] = "file"
    required: bool = True
    alternatives: tuple[str, ...] = ()
    sha256: str | None = Field(default=None, pattern=_SHA256)
    md5: str | None = Field(default=None, pattern=_MD5)
    size_bytes: int | None = None
    description: str = ""


class DatasetArchive(_Frozen):
    """A file as distributed (zip, tar), with the checksum its publisher or a well-known loader gives."""

    filename: str
    url: str | None = None
    md5: str | None = Field(default=None, pattern=_MD5)
    sha256: str | None = Field(default=None, pattern=_SHA256)
    checksum_source: str | None = None


class SplitRule(_Frozen):
    """How samples are assigned to train/val(/test): the official split, or a seeded subject-disjoint one."""

    kind: Literal["official", "seeded-subject-disjoint"]
    description: str
    seed: int | None = None
    val_fraction: float | None = Field(default=None, gt=0, lt=1)
    group_by: str | None = None

    @model_validator(mode="after")
    def _seeded_has_parameters(self) -> SplitRule:
        if self.kind == "seeded-subject-disjoint":
            missing = [k for k in ("seed", "val_fraction", "group_by") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a seeded split needs {', '.join(missing)}")
        return self


class PaperCounts(_Frozen):
    """What the paper reports for the dataset, after its own face extraction and filtering."""

    section: str
    total_images: int | None = None
    train: int | None = None
    val: int | None = None
    notes: str = ""


class DatasetManifest(_Frozen):
    """One dataset: where to get it, its terms, its on-disk layout, labels, split rule and sizes."""

    name: str = Field(pattern=_NAME)
    title: str
    section: str = Field(pattern=r"^\d+(\.\d+)*$")
    role: str
    homepage: str
    access: str
    licence: str
    citation: str
    reader: str
    layout: str
    files: tuple[DatasetFile, ...]
    archives: tuple[DatasetArchive, ...] = ()
    task: Literal["detection", "single-label", "multi-label"]
    label_map: dict[int, str] = Field(default_factory=dict)
    label_codes: dict[str, int] = Field(default_factory=dict)
    annotations: dict[str, dict[str, str]] = Field(default_factory=dict)
    split: SplitRule
    official_counts: dict[str, int] = Field(default_factory=dict)
    paper: PaperCounts
    notes: str = ""

    @model_validator(mode="after")
    def _labels_consistent(self) -> DatasetManifest:
        if self.label_map and sorted(self.label_map) != list(range(len(self.label_map))):
            raise ValueError("label_map indices must be 0..K-1")
        if len(set(self.label_map.values())) != len(self.label_map):
            raise ValueError("label_map names must be unique")
        bad = {code: idx for code, idx in self.label_codes.items() if idx not in self.label_map}
        if bad:
            raise ValueError(f"label_codes point to unknown class indices: {bad}")
        if self.task != "detection" and not self.label_map:
            raise ValueError(f"a {self.task} dataset needs a label_map")
        return self

    @property
    def class_names(self) -> list[str]:
        return [self.label_map[i] for i in range(len(self.label_map))]


def manifests_dir() -> Path:
    """The manifests folder: ``$GANON_MANIFESTS`` if set, else ``<repo>/data_manifests``."""
    override = os.environ.get("GANON_MANIFESTS")
    return Path(override).expanduser().resolve() if override else DEFAULT_MANIFESTS


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ManifestError(f"{path}: cannot read manifest: {error}") from error
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: a manifest must be a YAML mapping")
    return data


@functools.lru_cache(maxsize=None)
def _load(kind: str, root: Path, name: str) -> WeightManifest | DatasetManifest:
    path = root / kind / f"{name}.yaml"
    if not path.is_file():
        available = _names(kind, root)
        raise UnknownNameError(
            f"unknown {kind[:-1]} manifest {name!r} (looked for {path}); available: "
            f"{', '.join(available) or 'none'}"
        )
    data = _read_yaml(path)
    model = WeightManifest if kind == "weights" else DatasetManifest
    try:
        manifest = model.model_validate(data)
    except ValueError as error:
        raise ManifestError(f"{path}: invalid {kind[:-1]} manifest:\n{error}") from error
    if manifest.name != name:
        raise ManifestError(f"{path}: 'name: {manifest.name}' must match the file name {name!r}")
    return manifest


def _names(kind: str, root: Path) -> list[str]:
    folder = root / kind
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_weight(name: str) -> WeightManifest:
    """The validated manifest ``data_manifests/weights/<name>.yaml``."""
    return _load("weights", manifests_dir(), name)  # type: ignore[return-value]


def load_dataset(name: str) -> DatasetManifest:
    """The validated manifest ``data_manifests/datasets/<name>.yaml``."""
    return _load("datasets", manifests_dir(), name)  # type: ignore[return-value]


def list_weights() -> list[str]:
    """Names of all weight manifests, sorted."""
    return _names("weights", manifests_dir())


def list_datasets() -> list[str]:
    """Names of all dataset manifests, sorted."""
    return _names("datasets", manifests_dir())


def load_any(name: str) -> WeightManifest | DatasetManifest:
    """A weight or dataset manifest by name (names are unique across both kinds)."""
    if name in list_weights():
        return load_weight(name)
    if name in list_datasets():
        return load_dataset(name)
    raise UnknownNameError(
        f"unknown manifest {name!r}; weights: {', '.join(list_weights()) or 'none'}; "
        f"datasets: {', '.join(list_datasets()) or 'none'}"
    )
