"""What every paper result comes back as: a tidy table and/or a figure, with its provenance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """The profile's settings a result function needs, exactly the parameters a notebook receives.

    Built from a profile by ``Settings.from_profile`` (the CLI) or from a notebook's injected
    parameters (``Settings(profile=profile, device=device, ...)``).
    """

    profile: str
    device: str = "cpu"
    seed: int = 0
    dataset: str = "samples"
    models: Mapping[str, Any] = field(default_factory=dict)
    sizes: Mapping[str, Any] = field(default_factory=dict)
    datasets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Paper dataset key -> the labelled dataset standing in for it (``{"faces": "openpeople"}``).
    stand_in_datasets: Mapping[str, str] = field(default_factory=dict)
    data_dir: str = "data"
    samples_dir: str = "samples"

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> "Settings":
        """From a notebook's parameter dict (extra keys such as ``results_dir`` are ignored)."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{key: parameters[key] for key in names if key in parameters})

    @classmethod
    def from_profile(cls, profile: str | Path, *, root: str | Path = ".", data_dir: str | Path | None = None) -> "Settings":
        """From ``profiles/<profile>.yaml`` below the book ``root``, exactly as ``ganon book run`` passes them.

        Folders come back absolute (below ``root`` unless absolute already), so the settings work from any
        working directory. ``data_dir`` overrides the profile's, as ``ganon book run --data-dir`` does.
        """
        import os

        from ganon.book import load_profile

        root = Path(root).resolve()
        prof = load_profile(profile, root=root)
        data = root / (data_dir or os.environ.get("GANON_DATA_DIR") or prof.data_dir)
        params = prof.parameters("reproduce", root=root, data_dir=data, results_dir=root / "results",
                                 samples_dir=root / "samples", run_record=root / "run_record.json")

        def absolute(path: str) -> str:
            return str(root / path)

        params["data_dir"], params["samples_dir"] = absolute(params["data_dir"]), absolute(params["samples_dir"])
        params["datasets"] = {name: {**entry, "data_dir": absolute(entry["data_dir"])}
                              for name, entry in params["datasets"].items()}
        return cls.from_parameters(params)


@dataclass
class Result:
    """One table or figure of the paper as this run regenerated it, or why it could not.

    ``table`` is the tidy frame compared with the paper (written as ``<name>.csv``), ``figure`` a
    matplotlib figure (``<name>.png``), ``frames`` further tidy frames by key (``<name>_<key>.csv``,
    e.g. per-face values) and ``provenance`` what made it (profile, seed, backends, inputs, versions).
    A result with ``absent_reason`` set is recorded absent and carries no table or figure.
    """

    name: str
    table: Any | None = None  # pandas.DataFrame
    figure: Any | None = None  # matplotlib.figure.Figure
    frames: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    absent_reason: str | None = None

    def __post_init__(self) -> None:
        if self.absent_reason is not None and (self.table is not None or self.figure is not None):
            raise ValueError(f"{self.name}: an absent result carries no table or figure")
        if self.absent_reason is None and self.table is None and self.figure is None:
            raise ValueError(f"{self.name}: a result needs a table, a figure or an absent_reason")

    @property
    def regenerated(self) -> bool:
        return self.absent_reason is None

    @classmethod
    def absent(cls, name: str, reason: str, **provenance: Any) -> "Result":
        return cls(name=name, absent_reason=reason.strip(), provenance=dict(provenance))
