"""The whole inference chain on one photo: faces -> landmarks -> synthesized faces -> output.

``Anonymizer`` loads every model once and anonymizes in-memory images; ``ganon.pipeline.files``
runs it over files and folders. Privacy fails closed: a detected face that cannot be re-synthesized
is obscured (or the image fails), never left as it was, and every such case is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ganon.backends.detectors import Detector, build_detector
from ganon.backends.face_mesh import FaceMesh
from ganon.config import check_choice
from ganon.pipeline.composite import BlendConfig, box_change, obscure_region, paste_back
from ganon.pipeline.extract import AlignConfig
from ganon.pipeline.prepare import FacePreparer, PrepareConfig
from ganon.pipeline.segment import face_outline_mask
from ganon.pipeline.synthesize_codes import IDENTITIES, CodeSource, Identity, check_seed
from ganon.types import AlignedFace, Landmarks

if TYPE_CHECKING:  # torch is imported only where the PyTorch generator is used
    from ganon.pipeline.synthesize import Synthesizer

logger = logging.getLogger(__name__)

Mode = Literal["composite", "crops"]
OnMiss = Literal["blur", "average", "error"]
OnNoFace = Literal["skip", "copy", "error"]
MODES: tuple[str, ...] = ("composite", "crops")
ON_MISS: tuple[str, ...] = ("blur", "average", "error")
ON_NO_FACE: tuple[str, ...] = ("skip", "copy", "error")


#: Detector and score threshold per preset. ``privacy`` (the default) is the setting with full recall
#: on tests/annotations/faces.csv at the lowest cost (benchmarks/bench_recall.py); ``paper`` is the
#: paper's RetinaFace threshold of 0.9 (mobilenet0.25 offline, ResNet50 in ``AnonymizeConfig.paper()``).
DETECTION_PRESETS: dict[str, tuple[str, float]] = {
    "privacy": ("yunet", 0.3),
    "paper": ("retinaface-mobilenet", 0.9),
}


@dataclass(frozen=True)
class AnonymizeConfig:
    """Every knob of ``ganon anonymize``, checked when made; ``paper()`` gives the paper's crops.

    Words are exact and lower case (``mode="Composite"`` is an error that lists the choices), and
    ``detector`` must be a registered detector backend.
    """

    mode: Mode = "composite"
    detector: str = DETECTION_PRESETS["privacy"][0]
    detector_threshold: float = DETECTION_PRESETS["privacy"][1]
    align: AlignConfig = field(default_factory=AlignConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)
    on_miss: OnMiss = "blur"  # a detected face without landmarks
    on_no_face: OnNoFace = "skip"  # an image in which no face is found
    min_face: int = 24  # faces whose longer box side is below this many pixels are obscured, not synthesized
    min_change: float = 12.0  # a pasted face that changed its box's centre by fewer grey levels is obscured
    # Appearance codes of a seeded (coded) generator; no effect on un-coded ones. seed None: a fresh
    # random seed per run (recorded). identity: which faces share a code (ganon.pipeline.synthesize_codes).
    seed: int | None = None
    identity: Identity = "per-face"

    def __post_init__(self) -> None:
        from ganon import backends

        check_choice("AnonymizeConfig", "identity", self.identity, IDENTITIES)
        check_seed("AnonymizeConfig", self.seed)
        check_choice("AnonymizeConfig", "mode", self.mode, MODES)
        check_choice("AnonymizeConfig", "on_miss", self.on_miss, ON_MISS)
        check_choice("AnonymizeConfig", "on_no_face", self.on_no_face, ON_NO_FACE)
        check_choice("AnonymizeConfig", "detector", self.detector, backends.names("detector"))
        if not 0.0 <= self.detector_threshold <= 1.0:
            raise ValueError(f"AnonymizeConfig.detector_threshold must be in [0, 1], got {self.detector_threshold}")
        if self.min_face < 0:
            raise ValueError(f"AnonymizeConfig.min_face must be >= 0, got {self.min_face}")
        if not isinstance(self.align, AlignConfig) or not isinstance(self.blend, BlendConfig):
            raise TypeError("AnonymizeConfig.align must be an AlignConfig and .blend a BlendConfig")

    @classmethod
    def paper(cls, *, resolution: int = 512, **changes: object) -> "AnonymizeConfig":
        """Section 3's output: one aligned ``resolution`` crop per face, the paper's detector, and the
        generator's average face where no landmarks are found (the authors' behaviour).

        ``changes`` override single fields, e.g. ``detector=`` where the paper's detector is not
        installed; the crop's resolution is ``resolution`` (512 in the paper).
        """
        preset = cls(mode="crops", detector="retinaface-resnet50", detector_threshold=0.9,
                     align=replace(AlignConfig.paper(), resolution=resolution), on_miss="average")
        return replace(preset, **changes) if changes else preset


class FaceMissError(RuntimeError):
    """A detected face yielded no landmarks and the policy is ``error``."""


@dataclass(frozen=True)
class FaceOutcome:
    """What happened to one detected face."""

    index: int
    score: float
    box: tuple[float, float, float, float]
    status: Literal["anonymized", "obscured", "average"]
    reason: str = ""


@dataclass
class FaceStages:
    """Every intermediate picture of one face, for the book and ``ganon stages``."""

    aligned: AlignedFace
    landmarks: Landmarks | None
    canvas: np.ndarray | None  # landmark rendering at the generator's resolution
    synthesized: np.ndarray | None  # generator output at its resolution
    outline: np.ndarray | None  # region replaced in the photo, on the generator's grid
    code: np.ndarray | None = None  # appearance code of a coded generator (from the seed, never the face)


@dataclass
class ImageResult:
    """The anonymized photo (composite mode) or one crop per face (crops mode), plus outcomes."""

    faces: list[FaceOutcome]
    composite: np.ndarray | None = None
    crops: list[np.ndarray] = field(default_factory=list)

    @property
    def found(self) -> int:
        return len(self.faces)

    @property
    def anonymized(self) -> int:
        return sum(f.status == "anonymized" for f in self.faces)

    @property
    def obscured(self) -> int:
        return sum(f.status == "obscured" for f in self.faces)


class Anonymizer:
    """Detector, face mesh and generator loaded once; ``__call__`` anonymizes one RGB image."""

    def __init__(self, synthesizer: Synthesizer, config: AnonymizeConfig = AnonymizeConfig(), *,
                 detector: Detector | None = None) -> None:
        self.config = config
        self.synthesizer = synthesizer
        self.detector = detector or build_detector(config.detector, score_threshold=config.detector_threshold)
        self.mesh = FaceMesh()
        self.preparer = self._preparer()
        self.codes = self._codes()

    def _codes(self) -> CodeSource:
        return CodeSource(self.config.seed, self.config.identity, getattr(self.synthesizer, "code_dim", 0))

    def _preparer(self) -> FacePreparer:
        """Sections 3.1-3.3 as training runs them, with the canvas at the generator's resolution."""
        config = PrepareConfig(resolution=self.synthesizer.resolution, align=self.config.align,
                               render_style=self.synthesizer.render_style)
        return FacePreparer(config, detector=self.detector, mesh=self.mesh)

    @classmethod
    def from_weights(cls, weights: str | Path | None, config: AnonymizeConfig = AnonymizeConfig(), *,
                     device: str = "auto", batch_size: int = 8) -> "Anonymizer":
        from ganon.weights import resolve_weights, shipped_sha256

        from ganon.pipeline import synthesize_onnx

        path = resolve_weights(weights)
        expected = shipped_sha256(path)
        use_onnx = synthesize_onnx.enabled(device)
        synthesizer = None
        if use_onnx:
            synthesizer = synthesize_onnx.OnnxSynthesizer.cached(path, batch_size=batch_size,
                                                                 expected_sha256=expected)
        if synthesizer is None:
            from ganon.pipeline.synthesize import Synthesizer

            synthesizer = Synthesizer.from_file(path, device=device, batch_size=batch_size,
                                                expected_sha256=expected)
            if use_onnx and synthesizer.device.type == "cpu":
                try:  # later CPU runs then start without importing torch
                    synthesize_onnx.OnnxSynthesizer.export(synthesizer)
                except Exception as error:  # an unwritable cache only costs speed
                    logger.warning("could not cache the generator as ONNX: %s", error)
                else:  # this run too, so that the first and later runs write the same bytes
                    synthesizer = synthesize_onnx.OnnxSynthesizer.cached(
                        path, batch_size=batch_size, expected_sha256=expected) or synthesizer
        return cls(synthesizer, config)

    def with_config(self, **changes: object) -> "Anonymizer":
        """Same loaded models, different settings (cheap: nothing is reloaded)."""
        clone = object.__new__(Anonymizer)
        clone.__dict__.update(self.__dict__)
        clone.config = replace(self.config, **changes)
        if "detector" in changes or "detector_threshold" in changes:
            clone.detector = build_detector(clone.config.detector, score_threshold=clone.config.detector_threshold)
        clone.preparer = clone._preparer()
        if "seed" in changes or "identity" in changes:
            clone.codes = clone._codes()
        return clone

    def faces(self, image: np.ndarray) -> list[AlignedFace]:
        """Every detected face, aligned; none is dropped (too small ones are obscured in ``prepare``)."""
        return self.preparer.faces(image)

    def too_small(self, face: AlignedFace) -> bool:
        return max(face.detection.width, face.detection.height) < self.config.min_face

    def prepare(self, image: np.ndarray, *, source: str | None = None) -> list[FaceStages]:
        """Sections 3.1 and 3.3 on every face (shared with training): crop, landmarks, generator canvas.

        ``source`` names the photo (relative path) for its faces' appearance codes; without it the
        image's order in this run does.
        """
        resolution = self.synthesizer.resolution
        stages: list[FaceStages] = []
        key = source if source is not None else self.codes.image_key()
        for index, aligned in enumerate(self.preparer.faces(image)):
            code = self.codes.for_face(key, index)
            if self.too_small(aligned):
                stages.append(FaceStages(aligned=aligned, landmarks=None, canvas=None, synthesized=None,
                                         outline=None, code=code))
                continue
            face = self.preparer.prepare(aligned)
            marks, canvas, outline = face.landmarks, face.canvas, None
            if marks is not None:
                outline = face_outline_mask(marks, resolution)
            elif self.config.on_miss == "average":
                # The authors' behaviour: an empty canvas, i.e. the generator's "average face".
                canvas = np.zeros((resolution, resolution, 3), dtype=np.uint8)
                outline = _ellipse_in_valid(face.aligned, resolution)
            stages.append(FaceStages(aligned=face.aligned, landmarks=marks, canvas=canvas, synthesized=None,
                                     outline=outline, code=code))
        return stages

    def synthesize(self, stages: Sequence[FaceStages]) -> None:
        """Section 3.4 for every prepared face in ``stages`` (of any number of photos), in batches."""
        todo = [s for s in stages if s.canvas is not None and s.synthesized is None]
        canvases = [s.canvas for s in todo]
        faces = (self.synthesizer(canvases, [s.code for s in todo]) if self.codes.effective
                 else self.synthesizer(canvases))
        for stage, out in zip(todo, faces):
            stage.synthesized = out

    def stages(self, image: np.ndarray) -> list[FaceStages]:
        """Run 3.1-3.4 on every face and keep each intermediate picture."""
        stages = self.prepare(image)
        self.synthesize(stages)
        return stages

    def __call__(self, image: np.ndarray) -> ImageResult:
        """Anonymize every face of one RGB photo (``stages`` keeps the intermediate pictures)."""
        return self.assemble(image, self.stages(image))

    def assemble(self, image: np.ndarray, stages: list[FaceStages]) -> ImageResult:
        """Put synthesized faces back (composite) or collect them (crops); obscure faces that have none."""
        outcomes: list[FaceOutcome] = []
        composite = image.copy() if self.config.mode == "composite" else None
        crops: list[np.ndarray] = []
        for index, stage in enumerate(stages):
            det = stage.aligned.detection
            box = tuple(float(v) for v in det.box)
            if stage.synthesized is None:
                small = self.too_small(stage.aligned)
                if self.config.on_miss == "error" and not small:
                    raise FaceMissError(f"face {index} (box {np.round(box).astype(int).tolist()}): "
                                        "no landmarks found, and --on-miss is 'error'")
                why = f"smaller than {self.config.min_face} px" if small else "no landmarks found"
                reason = f"{why}; face obscured (pixelated and blurred)"
                outcomes.append(FaceOutcome(index, det.score, box, "obscured", reason))
                if composite is not None:
                    composite = obscure_region(composite, det)
                else:
                    crops.append(_obscured_crop(stage.aligned))
                continue
            status = "anonymized" if stage.landmarks is not None else "average"
            reason = "" if status == "anonymized" else "no landmarks found; replaced by the generator's average face"
            if composite is not None:
                composite = paste_back(composite, stage.synthesized, stage.aligned, stage.outline, self.config.blend)
                # A turned face's mesh outline can miss its eyes, nose and mouth: check, fail closed.
                change = box_change(image, composite, det.box)
                if change < self.config.min_change:
                    composite = obscure_region(composite, det)
                    status = "obscured"
                    reason = (f"synthesized face changed it by {change:.1f} grey levels only; "
                              "face obscured (pixelated and blurred)")
            outcomes.append(FaceOutcome(index, det.score, box, status, reason))
            if composite is None:
                crops.append(_to_canvas_size(stage.synthesized, stage.aligned.size))
        return ImageResult(faces=outcomes, composite=composite, crops=crops)


def anonymize(
    image: np.ndarray | str | Path,
    *,
    weights: str | Path | None = None,
    device: str = "auto",
    **options: object,
) -> ImageResult:
    """Anonymize one photo (RGB array or file) in a single call; ``options`` are ``AnonymizeConfig`` fields.

    Loads the models on every call: for many photos build one ``Anonymizer`` and call it instead.
    Example: ``ganon.anonymize("photo.jpg").composite``.
    """
    if not isinstance(image, np.ndarray):
        from ganon.imageio import read_image

        image = read_image(image).rgb
    config = AnonymizeConfig(**options)  # type: ignore[arg-type]
    return Anonymizer.from_weights(weights, config, device=device)(image)


def _to_canvas_size(face: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if face.shape[0] == size:
        return face
    return cv2.resize(face, (size, size), interpolation=cv2.INTER_LANCZOS4)


def _obscured_crop(face: AlignedFace) -> np.ndarray:
    import cv2

    small = cv2.resize(face.image, (8, 8), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (face.size, face.size), interpolation=cv2.INTER_NEAREST)
    return cv2.GaussianBlur(coarse, (0, 0), face.size * 0.05)


def _ellipse_in_valid(face: AlignedFace, size: int) -> np.ndarray:
    import cv2

    ys, xs = np.nonzero(face.valid)
    scale = size / face.size
    mask = np.zeros((size, size), dtype=np.uint8)
    centre = (int((xs.min() + xs.max()) / 2 * scale), int((ys.min() + ys.max()) / 2 * scale))
    axes = (int((xs.max() - xs.min()) / 2 * scale * 0.8), int((ys.max() - ys.min()) / 2 * scale * 0.9))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)
    return mask.astype(np.float32)
