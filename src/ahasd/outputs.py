"""Where commands write when no ``--out``/``-o`` is given.

One folder, ``ahasd-out/`` under the working directory, which the repository's ``.gitignore``
covers: running the README's commands in a clone leaves ``git status`` clean. The demo model
pair is the exception; it lives in the user's cache (``ahasd demo-models``), shared by clones.
"""

from __future__ import annotations

from pathlib import Path

OUT_ROOT = Path("ahasd-out")
