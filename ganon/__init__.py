"""ganon: a reproducible companion to GANonymization (Hellmann et al., ACM TOMM 2024).

``ganon.anonymize(photo)`` anonymizes one photo; ``ganon.Anonymizer`` keeps the models loaded for many.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Anonymizer", "AnonymizeConfig", "__version__", "anonymize"]

_LAZY = {"anonymize", "Anonymizer", "AnonymizeConfig"}


def __getattr__(name: str) -> Any:
    # The pipeline pulls in torch and mediapipe; import it only when it is used.
    if name in _LAZY:
        from ganon.pipeline import anonymize as module

        return getattr(module, name)
    raise AttributeError(f"module 'ganon' has no attribute {name!r}")
