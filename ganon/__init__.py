"""ganon: a reproducible companion to GANonymization (Hellmann et al., ACM TOMM 2024)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
