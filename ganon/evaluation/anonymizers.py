"""The anonymization methods compared under attack, each applied to a whole identity-folder tree.

A method turns one RGB photo into its anonymized version (or None when it has nothing to output):
``original`` keeps it; the classical baselines of Table 1 (``blur-9x9``, ``blur-17x17``,
``pixelate-8x8``, ``pixelate-16x16``) are applied to every detected face box, as a deployed blur
would be; ``ganon-crops`` is the paper's output (the synthesized, aligned face), ``ganon-composite``
the photo with the face replaced; ``ganon-seeded-crops`` the seeded variant's crops (each photo its own
appearance code, issue 16); ``authors-crops`` runs the authors' checkpoint when it has been
fetched. Outside outputs (DeepPrivacy2, CIAGAN, ...) enter as a folder at the same relative paths.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ganon.backends.errors import BackendUnavailableError
from ganon.evaluation.baselines import build_baseline
from ganon.evaluation.identity import list_images
from ganon.imageio import ImageReadError, read_image, write_image
from ganon.registry import Registry

__all__ = ["METHODS", "FaceRegionBaseline", "GanonMethod", "Method", "anonymize_tree", "build_method"]

logger = logging.getLogger(__name__)

Method = Callable[[np.ndarray], "np.ndarray | None"]

METHODS: Registry = Registry("anonymization method")
#: The shipped seeded (appearance-code) generator, compared beside the profile's generator.
SEEDED_WEIGHTS = "ganon-synth-128-coded"


@METHODS.register("original")
def _original(**_: object) -> Method:
    """The photo itself: the attacker's best case and every scenario's reference."""
    return lambda image: image


@dataclass
class FaceRegionBaseline:
    """A Table 1 baseline applied to each face box the pipeline's detector finds (grown by ``margin``)."""

    baseline: str
    margin: float = 0.1
    detector: str = "retinaface-mobilenet"
    _detector: object = field(default=None, init=False, repr=False)

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        from ganon.backends.detectors import build_detector

        if self._detector is None:
            self._detector = build_detector(self.detector)
        method = build_baseline(self.baseline)
        out = image.copy()
        height, width = image.shape[:2]
        for det in self._detector.detect(image):
            x0, y0, x1, y1 = det.box
            grow = self.margin * max(x1 - x0, y1 - y0)
            x0, y0 = int(max(0, x0 - grow)), int(max(0, y0 - grow))
            x1, y1 = int(min(width, x1 + grow)), int(min(height, y1 + grow))
            if x1 - x0 > 1 and y1 - y0 > 1:
                out[y0:y1, x0:x1] = method(np.ascontiguousarray(out[y0:y1, x0:x1]))
        return out


for _name in ("blur-9x9", "blur-17x17", "pixelate-8x8", "pixelate-16x16"):
    METHODS.register(_name)(lambda _baseline=_name, **options: FaceRegionBaseline(_baseline, **options))


@dataclass
class GanonMethod:
    """GANonymization with given weights: the largest face's synthesized crop, or the composite photo."""

    mode: str = "crops"
    weights: str = "ganon-synth-128"
    size: int = 256
    device: str = "cpu"
    #: Appearance codes of a seeded (coded) generator, one fresh code per image; None: a new seed each run.
    seed: int | None = 0
    _anonymizer: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        from ganon.pipeline.anonymize import AnonymizeConfig, Anonymizer
        from ganon.pipeline.extract import AlignConfig
        from ganon.weights import WeightsNotFoundError, resolve_weights

        if self.mode not in ("crops", "composite"):
            raise ValueError(f"mode must be crops or composite, got {self.mode!r}")
        try:
            resolve_weights(self.weights)
        except WeightsNotFoundError as error:
            name = {"ganonymization-publication": "authors-crops",
                    SEEDED_WEIGHTS: "ganon-seeded-crops"}.get(self.weights, f"ganon-{self.mode}")
            raise BackendUnavailableError("anonymization method", name,
                                          f"the generator weights {self.weights!r}", str(error)) from None
        config = AnonymizeConfig(mode=self.mode, align=AlignConfig(resolution=self.size), seed=self.seed)
        self._anonymizer = Anonymizer.from_weights(self.weights, config, device=self.device, batch_size=4)

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        result = self._anonymizer(image)
        if self.mode == "composite":
            return result.composite if result.found else image  # no face found: nothing to replace
        if not result.crops:
            return None
        areas = [(face.box[2] - face.box[0]) * (face.box[3] - face.box[1]) for face in result.faces]
        return result.crops[int(np.argmax(areas))]


METHODS.register("ganon-crops")(lambda **options: GanonMethod(mode="crops", **options))
METHODS.register("ganon-composite")(lambda **options: GanonMethod(mode="composite", **options))
METHODS.register("ganon-seeded-crops")(
    lambda **options: GanonMethod(mode="crops", **{**options, "weights": SEEDED_WEIGHTS}))
METHODS.register("authors-crops")(
    lambda **options: GanonMethod(mode="crops", weights="ganonymization-publication", **options))


def build_method(name: str, **options: object) -> Method:
    """A registered method; raises ``BackendUnavailableError`` when its weights are not here."""
    return METHODS.get(name)(**options)


def anonymize_tree(method: Method | str, source: Path | str, out: Path | str, *, suffix: str = ".png",
                   progress: bool = False) -> pd.DataFrame:
    """Write ``method`` applied to every image below ``source`` to the same relative path below ``out``.

    An output that exists is kept (the folder is a cache of this method on this tree); an image that
    cannot be read, or has no output, is reported in the returned table (``status``) and the rest goes on.
    A string ``method`` that names a folder is an outside method: its images are copied as they are.
    """
    source, out = Path(source), Path(out)
    if source.resolve() == out.resolve():
        raise ValueError(f"{out}: the output folder must differ from the input folder")
    outside = Path(method) if isinstance(method, str) and Path(method).is_dir() else None
    if isinstance(method, str) and outside is None:
        method = build_method(method)
    rows = []
    for path in tqdm(list_images(source), desc=out.name, unit="img", disable=not progress):
        relative = path.relative_to(source)
        target = (out / relative).with_suffix(suffix)
        status = "written"
        if target.is_file():
            status = "kept"
        elif outside is not None:
            found = [p for p in (outside / relative).parent.glob(relative.stem + ".*") if p.is_file()]
            if found:
                target = out / relative.with_suffix(found[0].suffix)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(found[0], target)
            else:
                status = "missing"
        else:
            try:
                result = method(read_image(path).rgb)  # type: ignore[operator]
            except (ImageReadError, OSError) as error:
                logger.error("%s: cannot read (%s)", path, error)
                result, status = None, "unreadable"
            if result is None and status == "written":
                status = "no face"
            if result is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_image(target, np.ascontiguousarray(result))
        rows.append({"source": str(path), "output": str(target) if status in ("written", "kept") else None,
                     "status": status})
    table = pd.DataFrame(rows, columns=["source", "output", "status"])
    problems = table[~table["status"].isin(["written", "kept"])]
    if len(problems):
        logger.warning("%s: %d of %d images have no output (%s)", out, len(problems), len(table),
                       ", ".join(f"{k} {v}" for k, v in problems["status"].value_counts().items()))
    return table
