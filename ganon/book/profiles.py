"""Profiles: named ways to run the whole book (``profiles/<name>.yaml``), validated when loaded.

Each backend slot must name a backend that ``ganon.backends`` registers for its kind, and the landmark
style a registered rendering, so a typo in a profile fails at load time with the valid names listed,
not hours later inside a notebook. (The classifier preset is checked where it is used: its registry
imports Lightning, too slow for loading a profile.)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ganon.book.paths import PROFILES_DIR, shown_path, under

__all__ = ["DatasetSource", "ModelChoice", "Profile", "ProfileError", "Sizes", "load_profile"]

#: Model slot of a profile -> the backend kind (``ganon.backends.KINDS``) whose names it takes.
BACKEND_SLOTS: dict[str, str] = {
    "detector": "detector",
    "segmenter": "segmenter",
    "identity": "identity",
    "emotion": "emotion",
    "attributes": "attributes",
}


class ProfileError(ValueError):
    """A profile file is missing or does not validate; the message names the file."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelChoice(_Strict):
    """Which backend runs each role, by registry name (detector, segmenter, ... as in ganon's registries)."""

    detector: str
    segmenter: str
    landmark_style: str = "authors"
    #: Generator weights: a model shipped in ganon/weights_data, a weights manifest name or a file path.
    generator: str
    identity: str
    #: Further recognizers that Table 1 is measured with, side by side with ``identity``.
    identity_models: list[str] = Field(default_factory=list)
    emotion: str
    attributes: str
    #: Recipe of the classifiers the paper profile trains (a ``CLASSIFIER_PRESETS`` name).
    classifier: str = "paper"
    #: ImageNet start of the ConvNeXt classifiers that the paper profile trains: a weights manifest name
    #: (resolved in ganon's cache), a file path, or None to let timm fetch it from the Hugging Face hub.
    classifier_backbone: str | None = None

    @field_validator(*BACKEND_SLOTS)
    @classmethod
    def _registered_backend(cls, name: str, info: ValidationInfo) -> str:
        from ganon import backends

        known = backends.names(BACKEND_SLOTS[info.field_name])
        if name not in known:
            raise ValueError(f"unknown {info.field_name} backend {name!r}; available: {', '.join(known)}")
        return name

    @field_validator("identity_models")
    @classmethod
    def _registered_identities(cls, names: list[str]) -> list[str]:
        from ganon import backends

        unknown = sorted(set(names) - set(backends.names("identity")))
        if unknown:
            raise ValueError(f"unknown identity_models {unknown}; available: {', '.join(backends.names('identity'))}")
        return names

    @field_validator("landmark_style")
    @classmethod
    def _registered_style(cls, name: str) -> str:
        from ganon.pipeline.landmarks import RENDER_STYLES

        if name not in RENDER_STYLES:
            raise ValueError(f"unknown landmark_style {name!r}; available: {', '.join(RENDER_STYLES.names())}")
        return name


class Sizes(_Strict):
    """How much work a profile does: image size, how many images per split, epochs, batches."""

    image_size: int = Field(512, gt=0)
    max_images: int | None = Field(None, gt=0, description="per dataset split; None = all")
    batch_size: int = Field(gt=0)
    gan_epochs: int = Field(ge=0)
    classifier_max_epochs: int = Field(ge=0)
    num_workers: int = Field(0, ge=0)


class DatasetSource(_Strict):
    """One dataset of the paper: its manifest in ``data_manifests/`` and where its files lie."""

    manifest: str
    data_dir: str = Field(description="relative to the profile's data_dir unless absolute")


class Profile(_Strict):
    """A named way to run the whole book (``profiles/<name>.yaml``); its values become notebook parameters."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str
    device: Literal["cpu", "cuda"]
    seed: int = 0
    dataset: Literal["samples", "paper"]
    data_dir: str = "data"
    datasets: dict[str, DatasetSource] = Field(default_factory=dict)
    #: A labelled dataset that stands in for a paper dataset absent from this profile, by the paper
    #: dataset's key (``faces: openpeople``); its rows are set beside that dataset's rows of the paper.
    stand_in_datasets: dict[Literal["affectnet", "ckplus", "faces", "celeba", "wider"], Literal["openpeople"]] = Field(
        default_factory=dict)
    models: ModelChoice
    sizes: Sizes
    #: Planning estimate per notebook stem, shown next to the measured wall time in the report.
    expected_gpu_hours: dict[str, float] = Field(default_factory=dict)
    #: Extra or overriding parameters for one notebook, by stem (dicts merge into the profile's).
    notebooks: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _datasets_match_source(self) -> Profile:
        if self.dataset == "paper" and not self.datasets:
            raise ValueError("dataset 'paper' needs a 'datasets' mapping (name -> manifest, data_dir)")
        if self.dataset == "samples" and self.datasets:
            raise ValueError("dataset 'samples' takes no 'datasets' mapping")
        if set(self.stand_in_datasets) & set(self.datasets):
            raise ValueError(f"stand_in_datasets {sorted(set(self.stand_in_datasets) & set(self.datasets))} "
                             "are real datasets of this profile")
        return self

    def parameters(
        self,
        stem: str,
        *,
        root: Path,
        data_dir: Path,
        results_dir: Path,
        samples_dir: Path,
        run_record: Path,
        repository_url: str = "",
    ) -> dict[str, Any]:
        """The papermill parameters for one notebook; paths are relative to ``root`` when inside it."""
        datasets = {
            name: {
                "manifest": source.manifest,
                "data_dir": shown_path(under(data_dir, source.data_dir), root),
            }
            for name, source in sorted(self.datasets.items())
        }
        params: dict[str, Any] = {
            "profile": self.name,
            "device": self.device,
            "seed": self.seed,
            "dataset": self.dataset,
            "models": self.models.model_dump(),
            "sizes": self.sizes.model_dump(),
            "datasets": datasets,
            "stand_in_datasets": dict(sorted(self.stand_in_datasets.items())),
            "data_dir": shown_path(data_dir, root),
            "samples_dir": shown_path(samples_dir, root),
            "results_dir": shown_path(results_dir, root),
            "run_record": shown_path(run_record, root),
            "repository_url": repository_url,
        }
        return _deep_merge(params, self.notebooks.get(stem, {}))


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_profile(profile: str | Path, *, root: Path | str = ".") -> Profile:
    """Load ``profiles/<name>.yaml`` (or a YAML path) and validate it; the name must match the file."""
    root = Path(root)
    path = Path(profile)
    if path.suffix not in {".yaml", ".yml"}:
        path = root / PROFILES_DIR / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / PROFILES_DIR).glob("*.yaml"))
        raise ProfileError(f"{path}: no such profile; available: {', '.join(known) or 'none'}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        result = Profile.model_validate(data)
    except (yaml.YAMLError, ValidationError) as err:
        raise ProfileError(f"{path}: invalid profile: {err}") from err
    if result.name != path.stem:
        raise ProfileError(f"{path}: profile name {result.name!r} differs from the file name {path.stem!r}")
    return result
