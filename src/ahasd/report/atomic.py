"""Atomic file output for the report layer (the writers live in :mod:`ahasd.fileio`)."""

from __future__ import annotations

from ahasd.fileio import write_bytes, write_text

__all__ = ["write_bytes", "write_text"]
