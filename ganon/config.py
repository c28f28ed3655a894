"""Helpers that keep ganon's configuration dataclasses strict: choices checked, old keywords renamed.

Every setting that takes one of a few words is checked when the config is made, so a typo or a
wrong case (``mode="Composite"``) fails at once with the allowed values instead of silently
selecting another branch. Values are compared exactly: ganon's words are lower case.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def check_choice(owner: str, field: str, value: object, allowed: Iterable[str]) -> None:
    """Raise ``ValueError`` naming the allowed values unless ``value`` is exactly one of them."""
    options = tuple(allowed)
    if value in options:
        return
    hint = ""
    if isinstance(value, str) and value.lower() in options:
        hint = f" (values are lower case: did you mean {value.lower()!r}?)"
    raise ValueError(f"{owner}.{field} must be one of {', '.join(map(repr, options))}, got {value!r}{hint}")


def renamed_keywords(**renames: str) -> Callable[[T], T]:
    """Class decorator: accept ``old=`` keywords (and read ``.old``) as deprecated aliases of ``new``.

    Apply above ``@dataclass``; ``renamed_keywords(size="resolution")`` keeps ``AlignConfig(size=256)``
    working with a ``DeprecationWarning`` while ``resolution`` is the one field.
    """

    def decorate(cls: T) -> T:
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{cls.__name__}: give {new}= only ({old}= is its deprecated name)")
                    warnings.warn(f"{cls.__name__}({old}=...) is deprecated; use {new}=...",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            init(self, *args, **kwargs)

        cls.__init__ = __init__  # type: ignore[misc]
        for old, new in renames.items():
            setattr(cls, old, property(functools.partial(_deprecated_read, old=old, new=new),
                                       doc=f"Deprecated name of ``{new}``."))
        return cls

    return decorate


def _deprecated_read(self: Any, *, old: str, new: str) -> Any:
    warnings.warn(f"{type(self).__name__}.{old} is deprecated; use .{new}", DeprecationWarning, stacklevel=3)
    return getattr(self, new)
