"""Tracked video anonymization: one stable synthetic face per person through a shot.

Each frame goes through the photo pipeline's stages (detect, align, face mesh, landmark canvas,
generator, paste back), with three additions: detections are linked into tracks (a face the
detector misses for a few frames is still replaced at its predicted place); along each track the
alignment geometry, the landmarks and the colour-match target are smoothed with One Euro filters;
and the generator runs over a window of frames at once. Privacy fails closed as for photos: a face
without landmarks (none found and none held from the last frames) gets the ``on_miss`` treatment,
and a track whose output face a recognizer finds too close to the real person is made again with a
stronger treatment, or obscured (``ganon.video.privacy``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ganon.pipeline.anonymize import Anonymizer, FaceMissError
from ganon.pipeline.composite import BlendConfig, obscure_region, paste_back
from ganon.pipeline.extract import align_face
from ganon.pipeline.landmarks import render_landmarks
from ganon.pipeline.segment import face_outline_mask
from ganon.types import AlignedFace, Detection, Landmarks
from ganon.video.privacy import PrivacyGuard, PrivacyGuardConfig
from ganon.video.smoothing import OneEuroConfig, OneEuroFilter
from ganon.video.tracking import FaceTracker, TrackedFace, TrackerConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoConfig:
    """Tracking and temporal smoothing; ``tracked=False`` anonymizes every frame as a lone photo."""

    tracked: bool = True
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    geometry: OneEuroConfig = OneEuroConfig(min_cutoff=8.0, beta=0.1)  # box and 5 points, photo pixels
    landmarks: OneEuroConfig = OneEuroConfig(min_cutoff=1.0, beta=0.02)  # mouth, eyes, brows (canvas px)
    # The rest of the mesh (face shape, nose) carries identity more than expression; None: as above.
    shape_landmarks: OneEuroConfig | None = OneEuroConfig(min_cutoff=0.3, beta=0.005)
    colour: OneEuroConfig = OneEuroConfig(min_cutoff=0.5, beta=0.0)  # Lab mean and spread of the target
    fixed_colour: bool = False  # keep a track's first colour target for the whole track
    # Move each track's face geometry this fraction of the way to a mean face (0: the person's own).
    toward_mean_face: float = 1.0
    # Weight of the new generator output against the track's previous one (1: no temporal blending).
    face_blend: float = 0.3
    hold_landmarks: int = 10  # frames a track reuses its last landmarks when the mesh finds none
    window: int = 8  # frames buffered per generator batch
    # Per-track recognizer check with its ladder of stronger treatments; None: no check (tracked mode only).
    guard: PrivacyGuardConfig | None = field(default_factory=PrivacyGuardConfig)


@dataclass
class VideoResult:
    """What happened in one video; ``to_dict`` is its entry in the ``--json`` report."""

    frames: int = 0
    tracks: int = 0
    faces_per_frame: list[int] = field(default_factory=list)
    obscured_frames: list[int] = field(default_factory=list)  # frames where some face was obscured
    obscured_faces: int = 0
    held_frames: int = 0  # face-frames drawn from held (not freshly found) landmarks
    predicted_frames: int = 0  # face-frames where the detector missed a tracked face
    guard_checks: int = 0  # face-frames the privacy guard compared with the original
    guard_steps: list[dict[str, object]] = field(default_factory=list)  # each step up: frame, track, distance, level
    guard_closest: float | None = None  # smallest distance the guard measured in the published frames
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def faces(self) -> int:
        return int(sum(self.faces_per_frame))

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["faces"] = self.faces
        data["fps"] = round(self.fps, 2)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class _TrackState:
    geometry: OneEuroFilter
    expressive: OneEuroFilter
    shape: OneEuroFilter
    colour: OneEuroFilter
    last_marks: Landmarks | None = None
    held: int = 0
    fixed_target: np.ndarray | None = None
    first_xy: np.ndarray | None = None  # the track's first landmarks (canvas px)
    offset: np.ndarray | None = None  # mean face minus first landmarks, in the first frame's frame
    last_face: np.ndarray | None = None  # previous (blended) generator output, float32
    track_id: int = -1
    seen: int = 0  # faces of this track prepared so far (sets the guard's cadence)
    level: int = 0  # step on the guard's ladder: 0 the configured treatment, then each strength in turn
    obscured: bool = False  # past the ladder's last step: the rest of the track is obscured


@dataclass
class _Face:
    aligned: AlignedFace
    canvas: np.ndarray | None
    outline: np.ndarray | None
    state: _TrackState | None
    synthesized: np.ndarray | None = None
    xyz: np.ndarray | None = None  # smoothed landmarks before the move towards the mean face
    offset: np.ndarray | None = None  # that move at strength 1, in this frame's pose (canvas px)
    canvas_size: int = 0
    check: bool = False  # the guard compares this face with the original


@dataclass
class _Frame:
    index: int
    image: np.ndarray
    faces: list[_Face]


@lru_cache(maxsize=1)
def expressive_indices() -> np.ndarray:
    """Face-mesh points of lips, eyes, irises and brows (MediaPipe's connection sets)."""
    from mediapipe.python.solutions import face_mesh_connections as c

    sets = (c.FACEMESH_LIPS, c.FACEMESH_LEFT_EYE, c.FACEMESH_RIGHT_EYE, c.FACEMESH_LEFT_EYEBROW,
            c.FACEMESH_RIGHT_EYEBROW, c.FACEMESH_LEFT_IRIS, c.FACEMESH_RIGHT_IRIS)
    return np.array(sorted({i for s in sets for edge in s for i in edge}), dtype=np.int64)


def similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares scale, rotation and shift taking 2-D points ``source`` onto ``target`` (Umeyama 1991)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    a, b = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(b.T @ a / len(a))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(sigma) @ d) / max((a ** 2).sum() / len(a), 1e-12))
    return scale, rotation, mu_t - scale * mu_s @ rotation.T


def lab_statistics(image: np.ndarray, inside: np.ndarray) -> np.ndarray | None:
    """Lab mean (3) and standard deviation (3) of ``image`` where ``inside``; None when too few pixels."""
    if inside.sum() < 16:
        return None
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)[inside]
    return np.concatenate([lab.mean(0), lab.std(0) + 1e-3])


def apply_lab_statistics(image: np.ndarray, inside: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Shift ``image``'s Lab mean and spread (measured where ``inside``) to ``target`` (Reinhard transfer)."""
    own = lab_statistics(image, inside)
    if own is None:
        return image
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    out = (lab - own[:3]) * (target[3:] / own[3:]) + target[:3]
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


class VideoAnonymizer:
    """Anonymize a stream of frames with the models of an ``Anonymizer`` (composite mode)."""

    def __init__(self, anonymizer: Anonymizer, config: VideoConfig = VideoConfig()) -> None:
        self.anonymizer = anonymizer
        self.config = config
        self.guard = PrivacyGuard(config.guard) if config.guard is not None and config.tracked else None
        steps = config.guard.strengths if config.guard is not None else ()
        self._strengths = (config.toward_mean_face, *(s for s in steps if s > config.toward_mean_face))

    # ------------------------------------------------------------------ frames in memory / streams

    def anonymize_frames(self, frames: Iterable[np.ndarray], fps: float,
                         progress: Callable[[int], None] | None = None) -> tuple[list[np.ndarray], VideoResult]:
        """All output frames in memory, and the result (for short clips, notebooks and tests)."""
        result = VideoResult()
        out = list(self.stream(frames, fps, result, progress=progress))
        return out, result

    def stream(self, frames: Iterable[np.ndarray], fps: float, result: VideoResult,
               progress: Callable[[int], None] | None = None) -> Iterator[np.ndarray]:
        """Yield one anonymized frame per input frame, in order; ``result`` is filled as it goes.

        Raises ``FaceMissError`` when a face has no landmarks and ``on_miss`` is ``error``.
        """
        started = time.perf_counter()
        tracker = FaceTracker(self.config.tracker)
        states: dict[int, _TrackState] = {}
        pending: list[_Frame] = []
        for index, frame in enumerate(frames):
            if self.config.tracked:
                pending.append(self._prepare_tracked(index, frame, tracker, states, fps, result))
            else:
                pending.append(self._prepare_naive(index, frame, result))
            if len(pending) >= self.config.window:
                yield from self._flush(pending, result, progress)
                pending = []
        yield from self._flush(pending, result, progress)
        result.tracks = tracker.total_tracks if self.config.tracked else 0
        result.seconds = time.perf_counter() - started

    def anonymize_file(self, source: str | os.PathLike[str], target: str | os.PathLike[str], *,
                       overwrite: bool = False, progress: bool | None = None,
                       keep: Callable[[VideoResult], bool] = lambda result: True) -> VideoResult:
        """Read ``source``, write the anonymized video (audio copied, no metadata) to ``target``.

        ``keep`` decides at the end whether the file is published (nothing appears when it says no).
        """
        from tqdm.auto import tqdm

        from ganon.video.io import VideoReader, VideoWriter

        reader = VideoReader(source)
        info = reader.info
        result = VideoResult()
        bar = tqdm(total=info.frames, unit="frame", desc=Path(source).name,
                   disable=(None if progress is None else not progress))
        with bar, VideoWriter(target, width=info.width, height=info.height, fps=info.fps,
                              audio_from=source, overwrite=overwrite) as writer:
            for frame in self.stream(reader, float(info.fps), result, progress=bar.update):
                writer.write(frame)
            if not keep(result):
                writer.discard()
        return result

    # ------------------------------------------------------------------ stages

    def _detect(self, frame: np.ndarray) -> list[Detection]:
        detections = self.anonymizer.detector.detect(frame)
        min_face = self.anonymizer.config.min_face
        if min_face:
            detections = [d for d in detections if max(d.width, d.height) >= min_face]
        return detections

    def _new_state(self, fps: float) -> _TrackState:
        c = self.config
        return _TrackState(geometry=OneEuroFilter(c.geometry, fps), expressive=OneEuroFilter(c.landmarks, fps),
                           shape=OneEuroFilter(c.shape_landmarks or c.landmarks, fps),
                           colour=OneEuroFilter(c.colour, fps))

    def _prepare_tracked(self, index: int, frame: np.ndarray, tracker: FaceTracker,
                         states: dict[int, _TrackState], fps: float, result: VideoResult) -> _Frame:
        tracked = tracker.update(self._detect(frame))
        for track_id in [t for t in states if t not in {f.track_id for f in tracked}]:
            del states[track_id]  # the track ended
        faces = []
        for face in tracked:
            state = states.setdefault(face.track_id, self._new_state(fps))
            state.track_id = face.track_id
            result.predicted_frames += not face.detected
            try:
                faces.append(self._prepare_face(frame, face, state, result))
            except FaceMissError as error:
                raise FaceMissError(f"frame {index}: {error}") from None
        return _Frame(index, frame, faces)

    def _prepare_face(self, frame: np.ndarray, face: TrackedFace, state: _TrackState,
                      result: VideoResult) -> _Face:
        det = face.detection
        geometry = state.geometry(np.concatenate([det.box, det.points.ravel()]))
        smooth = Detection(box=geometry[:4].astype(np.float32), points=geometry[4:].reshape(5, 2).astype(np.float32),
                           score=det.score)
        aligned = align_face(frame, smooth, self.anonymizer.config.align)
        check = self.guard is not None and state.seen % self.guard.config.every == 0
        state.seen += 1
        if state.obscured:
            return _Face(aligned, None, None, state)
        marks = self.anonymizer.mesh(aligned.image)
        if marks is not None:
            state.last_marks, state.held = marks, 0
        elif state.last_marks is not None and state.held < self.config.hold_landmarks:
            marks, state.held = state.last_marks, state.held + 1
            result.held_frames += 1
        if marks is None:
            return self._on_miss(aligned)
        points = marks.points.astype(np.float64)
        smoothed = points.copy()
        expressive = expressive_indices()
        shape = np.setdiff1d(np.arange(len(points)), expressive)
        smoothed[expressive] = state.expressive(points[expressive])
        smoothed[shape] = state.shape(points[shape])
        offset = self._identity_offset(state, smoothed[:, :2], marks.canvas_size)
        face = _Face(aligned, None, None, state, xyz=smoothed, offset=offset, canvas_size=marks.canvas_size,
                     check=check)
        self._render(face)
        return face

    def _render(self, face: _Face) -> None:
        """Canvas and outline of a face at its track's current strength towards (and past) the mean face."""
        assert face.xyz is not None and face.offset is not None and face.state is not None
        points = face.xyz.copy()
        points[:, :2] += self._strengths[face.state.level] * face.offset
        marks = Landmarks(points=points.astype(np.float32), canvas_size=face.canvas_size)
        resolution = self.anonymizer.synthesizer.resolution
        face.canvas = render_landmarks(marks, size=resolution, style=self.anonymizer.synthesizer.render_style)
        face.outline = face_outline_mask(marks, resolution)

    def _identity_offset(self, state: _TrackState, xy: np.ndarray, canvas_size: int) -> np.ndarray:
        """How far the mean face's geometry lies from this track's, turned and scaled to the current pose."""
        from ganon.video.reference import mean_face_shape

        shape = np.setdiff1d(np.arange(len(xy)), expressive_indices())
        if state.first_xy is None or state.offset is None:
            reference = mean_face_shape() * canvas_size
            scale, rotation, shift = similarity(reference[shape], xy[shape])
            state.first_xy, state.offset = xy.copy(), (scale * reference @ rotation.T + shift) - xy
        scale, rotation, _ = similarity(state.first_xy[shape], xy[shape])
        return scale * state.offset @ rotation.T

    def _on_miss(self, aligned: AlignedFace) -> _Face:
        policy = self.anonymizer.config.on_miss
        if policy == "error":
            box = np.round(aligned.detection.box).astype(int).tolist()
            raise FaceMissError(f"a face (box {box}) has no landmarks, and --on-miss is 'error'")
        if policy == "average":
            from ganon.pipeline.anonymize import _ellipse_in_valid

            size = self.anonymizer.synthesizer.resolution
            return _Face(aligned, np.zeros((size, size, 3), np.uint8), _ellipse_in_valid(aligned, size), None)
        return _Face(aligned, None, None, None)

    def _prepare_naive(self, index: int, frame: np.ndarray, result: VideoResult) -> _Frame:
        faces = [_Face(s.aligned, s.canvas, s.outline, None) for s in self.anonymizer.prepare(frame)]
        if self.anonymizer.config.on_miss == "error" and any(face.canvas is None for face in faces):
            raise FaceMissError(f"frame {index}: a face has no landmarks, and --on-miss is 'error'")
        return _Frame(index, frame, faces)

    def _flush(self, pending: list[_Frame], result: VideoResult,
               progress: Callable[[int], None] | None) -> Iterator[np.ndarray]:
        faces = [face for item in pending for face in item.faces]
        self._synthesize(faces)
        composites = [self._composite(item) for item in pending]
        while self.guard is not None:
            stepped = self._check(pending, composites, result)
            if not stepped:
                break
            again = [face for face in faces if face.state is not None and id(face.state) in stepped]
            for face in again:
                face.state.last_face = None  # the blend in time starts afresh at the new strength
                face.synthesized = None
                if face.state.obscured:
                    face.canvas = face.outline = None
                elif face.xyz is not None:
                    self._render(face)
            self._synthesize(again)
            composites = [self._composite(item) for item in pending]
        for item, (composite, obscured) in zip(pending, composites):
            result.obscured_faces += obscured
            result.frames += 1
            result.faces_per_frame.append(len(item.faces))
            if obscured:
                result.obscured_frames.append(item.index)
            if progress is not None:
                progress(1)
            yield composite

    def _synthesize(self, faces: list[_Face]) -> None:
        todo = [face for face in faces if face.canvas is not None]
        codes = self.anonymizer.codes.for_tracks([f.state for f in todo])
        for face, out in zip(todo, self.anonymizer.synthesizer([f.canvas for f in todo], codes)):
            face.synthesized = self._blend_in_time(face.state, out)

    def _composite(self, item: _Frame) -> tuple[np.ndarray, int]:
        """The frame with every face pasted back or obscured, and how many were obscured."""
        blend = BlendConfig(**{**asdict(self.anonymizer.config.blend), "color_match": False})
        composite = item.image.copy()
        obscured = 0
        for face in item.faces:
            if face.synthesized is None:
                composite = obscure_region(composite, face.aligned.detection)
                obscured += 1
                continue
            composite = paste_back(composite, self._match_colour(face), face.aligned, face.outline, blend)
        return composite, obscured

    def _check(self, pending: list[_Frame], composites: list[tuple[np.ndarray, int]],
               result: VideoResult) -> set[int]:
        """Step up every track with a checked face too close to the person; their states' ids."""
        assert self.guard is not None
        stepped: set[int] = set()
        closest: float | None = None
        for item, (composite, _) in zip(pending, composites):
            for face in item.faces:
                state = face.state
                if not face.check or face.synthesized is None or state is None or id(state) in stepped:
                    continue
                distance = self.guard.distance(item.image, composite, face.aligned.detection.box)
                result.guard_checks += 1
                if not self.guard.too_close(distance):
                    if distance is not None:
                        closest = distance if closest is None else min(closest, distance)
                    continue
                stepped.add(id(state))
                if state.level + 1 < len(self._strengths):
                    state.level += 1
                else:
                    state.obscured = True
                result.guard_steps.append({"frame": item.index, "track": state.track_id,
                                           "distance": round(float(distance), 4), "level": state.level,
                                           "obscured": state.obscured})
                logger.info("frame %d, track %d: output face at %.3f of the person (< %.2f); track %s",
                            item.index, state.track_id, distance, self.guard.config.limit,
                            "obscured" if state.obscured else f"steps up to strength {self._strengths[state.level]}")
        if not stepped and closest is not None:
            result.guard_closest = closest if result.guard_closest is None else min(result.guard_closest, closest)
        return stepped

    def _blend_in_time(self, state: _TrackState | None, face: np.ndarray) -> np.ndarray:
        weight = self.config.face_blend
        if state is None or weight >= 1.0:
            return face
        new = face.astype(np.float32)
        state.last_face = new if state.last_face is None else weight * new + (1 - weight) * state.last_face
        return np.clip(np.round(state.last_face), 0, 255).astype(np.uint8)

    def _match_colour(self, face: _Face) -> np.ndarray:
        """Colour transfer onto the synthesized face, towards the (smoothed) colours of the real one."""
        assert face.synthesized is not None and face.outline is not None
        if not self.anonymizer.config.blend.color_match:
            return face.synthesized
        size = face.synthesized.shape[0]
        inside = face.outline > 0.5
        original = cv2.resize(face.aligned.image, (size, size), interpolation=cv2.INTER_AREA)
        target = lab_statistics(original, inside)
        if target is None:
            return face.synthesized
        state = face.state
        if state is not None:
            if self.config.fixed_colour:
                if state.fixed_target is None:
                    state.fixed_target = target
                target = state.fixed_target
            else:
                target = state.colour(target)
        return apply_lab_statistics(face.synthesized, inside, target)
