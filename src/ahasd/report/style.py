"""One colour-blind-safe look for every report figure: the Okabe–Ito palette, PNG writing.

Okabe & Ito's eight colours stay distinct under the common colour-vision deficiencies
([okabe-ito] in docs/references.md). Importing this module sets matplotlib's default colour cycle
to them, so a figure that draws without naming colours uses them too; a ninth series and beyond
reuse the colours with a hatch (``hatch``), never a colour from outside the palette.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from cycler import cycler  # noqa: E402

from ahasd.report.atomic import write_bytes  # noqa: E402

OKABE_ITO = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)
HATCHES = ("", "//", "..", "xx")
DPI = 100

plt.rcParams["axes.prop_cycle"] = cycler(color=list(OKABE_ITO))


def color(name: str, names: Sequence[str]) -> str:
    """The palette colour of ``name`` by its place in ``names`` (unknown names: the last one)."""
    names = list(names)
    i = names.index(name) if name in names else len(OKABE_ITO) - 1
    return OKABE_ITO[i % len(OKABE_ITO)]


def nth(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def hatch(i: int) -> str:
    """No hatch for the first eight series, then one hatch per further round of the palette."""
    return HATCHES[(i // len(OKABE_ITO)) % len(HATCHES)]


def save(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically (no timestamp metadata, so reruns are byte-stable)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return write_bytes(Path(path), buf.getvalue())
