"""Typed errors with sentences a person can act on.

The UI turns every ``EmoAppError`` into a ``gr.Error`` with the same message, the CLI prints
it and exits non-zero, so each message must say what went wrong and what to do.
"""

from __future__ import annotations


class EmoAppError(Exception):
    """Base class for every error this package raises on purpose."""


class InvalidInputError(EmoAppError, ValueError):
    """The caller passed something we cannot use (empty text, NaN coordinates, a bad file)."""


class MissingWeightsError(EmoAppError):
    """A model's weights are not on this machine and cannot be downloaded now."""

    def __init__(self, name: str, filename: str, searched: list[str], fetch_hint: str):
        self.name = name
        self.filename = filename
        self.searched = list(searched)
        self.fetch_hint = fetch_hint
        where = "; ".join(self.searched) if self.searched else "nowhere"
        super().__init__(
            f"Model '{name}' needs '{filename}', which is not available (looked in: {where}). "
            f"{fetch_hint}"
        )


class ModelLoadError(EmoAppError, RuntimeError):
    """A model's files exist but loading them failed (corrupt file, wrong architecture)."""
