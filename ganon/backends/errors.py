"""The one error every backend raises when it cannot run on this machine."""

from __future__ import annotations


class BackendUnavailableError(RuntimeError):
    """A backend's package or weight file is missing; the message names it and how to get it.

    ``kind`` and ``name`` say which backend, ``missing`` what is absent (a package or a file) and
    ``hint`` how to obtain it, so a notebook or the CLI can report it without parsing the message.
    """

    def __init__(self, kind: str, name: str, missing: str, hint: str = "") -> None:
        self.kind, self.name, self.missing, self.hint = kind, name, missing, hint
        message = f"{kind} {name!r} is unavailable: {missing}"
        super().__init__(f"{message}; {hint}" if hint else message)
