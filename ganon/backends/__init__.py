"""Every model ganon runs, behind one factory: ``build(kind, name, **options)``.

Kinds are the roles of the paper's pipeline and evaluation (``detector`` for 3.1, ``segmenter`` for
3.2, ``face-mesh`` for 3.3, ``identity`` for 4.1, ``emotion`` for 4.2, ``attributes`` for 4.3).
Each kind keeps one registry of named builders in its own module; the module is imported only when
its kind is first asked for, so ``import ganon.backends`` stays cheap. A backend whose package or
weight file is missing raises :class:`BackendUnavailableError`, whatever the kind.
"""

from __future__ import annotations

import importlib
from typing import Any

from ganon.backends.errors import BackendUnavailableError
from ganon.registry import Registry, UnknownNameError

__all__ = ["KINDS", "BackendUnavailableError", "build", "names", "registry"]

#: kind -> (module holding the registry, its attribute, further modules that register into it).
KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "detector": ("ganon.backends.detectors", "DETECTORS", ()),
    "segmenter": ("ganon.pipeline.segment", "SEGMENTERS", ()),
    "face-mesh": ("ganon.backends.face_mesh", "FACE_MESHES", ()),
    "identity": ("ganon.backends.identity", "IDENTITY_MODELS", ()),
    "emotion": ("ganon.backends.emotion", "EMOTION_MODELS", ()),
    "attributes": ("ganon.backends.attributes", "ATTRIBUTE_MODELS", ()),
}


def registry(kind: str) -> Registry:
    """The registry of one kind of backend; an unknown kind lists the kinds that exist."""
    try:
        module, attribute, more = KINDS[kind]
    except KeyError:
        raise UnknownNameError(f"unknown backend kind {kind!r}; available: {', '.join(sorted(KINDS))}") from None
    found = getattr(importlib.import_module(module), attribute)
    for extra in more:
        importlib.import_module(extra)
    return found


def names(kind: str) -> list[str]:
    """The registered backend names of one kind, sorted."""
    return registry(kind).names()


def build(kind: str, name: str, **options: Any) -> Any:
    """Create a backend by kind and name, e.g. ``build("identity", "dlib")``.

    Raises ``UnknownNameError`` (listing what exists) for a name that is not registered and
    ``BackendUnavailableError`` when the backend's package or weights are missing here.
    """
    return registry(kind).get(name)(**options)
