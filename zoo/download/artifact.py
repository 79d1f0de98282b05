"""Artifact: one file a model needs, as providers report it and the download stack fetches it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Artifact"]


@dataclass(frozen=True)
class Artifact:
    """One downloadable file a model needs (``zoo fetch`` prefetches, ``zoo lock`` pins it)."""

    url: str  # where it comes from
    sha256: str | None = None  # pin, when the registry or the call gives one
    kind: str = "weights"  # "weights" (data) or "model" (a program: SavedModel / Hub archive)
    archive: bool = False  # extracted after download (Hub archives)
