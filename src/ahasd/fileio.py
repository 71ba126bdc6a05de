"""Atomic file output: write a temporary file in the same folder, then ``os.replace`` it.

A reader never sees a half-written report, figure, timeline, table or model folder, and a
failed write (permission, read-only disk, disk full) leaves neither a temporary file nor a
folder this write created behind: the error is one line naming the path (exit 2 in the CLI).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ahasd.errors import AhasdError


def os_error(exc: OSError, path: str | os.PathLike | None = None) -> AhasdError:
    """An ``OSError`` as one line: ``PATH: cannot write (Permission denied)``."""
    where = path if path is not None else (exc.filename or "file")
    return AhasdError(f"{where}: cannot write ({exc.strerror or exc})")


def _missing_parents(path: Path) -> list[Path]:
    """The ancestors of ``path`` that do not exist yet, deepest first."""
    out = []
    for parent in path.parents:
        if parent.exists():
            break
        out.append(parent)
    return out


def _remove_empty(dirs: list[Path]) -> None:
    for d in dirs:
        try:
            d.rmdir()
        except OSError:  # not empty (someone else wrote there) or already gone
            return


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; it replaces ``path`` when the block succeeds.

    On any failure the temporary file, and any folder created for ``path``, are removed; an
    ``OSError`` becomes an :class:`AhasdError` naming ``path``.
    """
    path = Path(path)
    created = _missing_parents(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # the usual mode for a new output file
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        _remove_empty(created)
        if isinstance(exc, OSError):
            raise os_error(exc, path) from None
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (flushed to disk first); returns ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def replace_dir(path: str | os.PathLike, fill: Callable[[Path], None], *, mine: str) -> Path:
    """Build a folder with ``fill(tmp_dir)`` beside ``path``, then swap it into place.

    An interrupted build never leaves a half-filled ``path`` that looks complete. An existing
    ``path`` is replaced only when it holds ``mine`` (a file the same writer puts there);
    any other existing, non-empty folder is refused, never deleted.
    """
    path = Path(path)
    ours = path.is_dir() and (not any(path.iterdir()) or (path / mine).exists())
    if path.exists() and not ours:
        raise AhasdError(f"{path}: exists and was not written by ahasd; accepted: a new folder")
    created = _missing_parents(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    old = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.old")
    try:
        tmp.mkdir(parents=True)
        fill(tmp)
        if path.exists():
            path.rename(old)
        tmp.rename(path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not path.exists():
            old.rename(path)  # put the previous folder back
        _remove_empty(created)
        if isinstance(exc, OSError):
            raise os_error(exc, path) from None
        raise
    shutil.rmtree(old, ignore_errors=True)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
