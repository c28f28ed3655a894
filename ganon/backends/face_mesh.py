"""Section 3.3's face mesh as a backend: a square RGB canvas -> 478 points, or None.

``mediapipe`` is the legacy ``mp.solutions.face_mesh`` of mediapipe 0.10.21 with the authors'
settings, whose model ships inside the wheel.
"""

from __future__ import annotations

import contextlib
import os
import threading

import numpy as np

from ganon.backends.errors import BackendUnavailableError
from ganon.backends.quiet import native_stderr_silenced
from ganon.registry import Registry
from ganon.types import N_LANDMARKS, Landmarks

FACE_MESHES: Registry = Registry("face mesh")


def _quiet_glog() -> None:
    # MediaPipe's C++ side logs through glog to stderr; keep it to errors. Set when a mesh is built,
    # never at import, and only where the user has not chosen a level.
    os.environ.setdefault("GLOG_minloglevel", "2")


@FACE_MESHES.register("mediapipe")
class FaceMesh:
    """MediaPipe FaceMesh with the authors' settings; one instance serves a whole run.

    ``static_image_mode=True, max_num_faces=1, refine_landmarks=True`` gives 478 points (468 + irises).
    """

    def __init__(self, *, min_detection_confidence: float = 0.5) -> None:
        _quiet_glog()
        try:
            import mediapipe as mp
        except ImportError as error:
            raise BackendUnavailableError("face-mesh", "mediapipe", f"package mediapipe ({error})",
                                          "pip install mediapipe==0.10.21") from None

        with native_stderr_silenced():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=min_detection_confidence,
            )
            self._mesh.process(np.zeros((64, 64, 3), dtype=np.uint8))  # the graph starts (and logs) here
        self._lock = threading.Lock()
        self._warned = False

    def __call__(self, image: np.ndarray) -> Landmarks | None:
        """478 points of the most prominent face in a square RGB canvas, or None when none is found."""
        if image.ndim != 3 or image.shape[0] != image.shape[1]:
            raise ValueError(f"face mesh expects a square RGB canvas, got shape {image.shape}")
        with self._lock:
            # The graph warns once, on the first face it finds; silence calls until then only.
            with native_stderr_silenced() if not self._warned else contextlib.nullcontext():
                result = self._mesh.process(np.ascontiguousarray(image))
            self._warned = self._warned or bool(result.multi_face_landmarks)
        if not result.multi_face_landmarks:
            return None
        marks = result.multi_face_landmarks[0].landmark
        size = image.shape[0]
        points = np.array([[m.x * size, m.y * size, m.z * size] for m in marks], dtype=np.float32)
        if len(points) != N_LANDMARKS:
            raise RuntimeError(f"expected {N_LANDMARKS} face-mesh points, got {len(points)}")
        return Landmarks(points=points, canvas_size=size)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> "FaceMesh":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
