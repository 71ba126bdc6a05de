"""'What it would take': the ``ahasd invert`` document as a table, a figure and a section.

Everything here renders the dict :func:`ahasd.explore.invert.invert` returns (the ``--json``
output); nothing is recomputed. The figure puts every claim on one axis, ours / claimed (log):
the defaults, the best reading found, and the ±10% band around the claim.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ahasd.report.atomic import write_bytes, write_text
from ahasd.report.sections import Section
from ahasd.report.table import markdown_table
from ahasd.validation import json_text

STATUS_COLOR = {"holds": "tab:green", "reachable": "tab:blue", "unreachable": "tab:red"}


def value_text(x: Any) -> str:
    if x is None:
        return "—"  # a run the claim needs cannot run (the reason says which)
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def change_text(changes: Sequence[Mapping[str, Any]]) -> str:
    """``key=value`` per change, as one would pass them to ``--set`` (platform as --platform)."""
    return ", ".join(f"`{c['name']}`: {c['key']}={value_text(c['value'])}" for c in changes) or "—"


def invert_markdown(doc: Mapping[str, Any], command: str) -> str:
    """The per-claim table, why the unreachable ones stay out of reach, then the joint reading
    and the contradictions."""
    body = [
        (
            c["label"],
            f"{c['paper']:g}",
            value_text(c["ours_default"]),
            c["status"],
            value_text(c["best"]),
            "none" if c["status"] == "holds" else change_text(c["changes"]),
        )
        for c in doc["claims"]
    ]
    head = ["claim", "paper", "ours (defaults)", "status", "best reached",
            "smallest change (unreachable: the closest reading)"]  # fmt: skip
    s = doc["settings"]
    intro = (
        f"Produced by `{command}` (budget {s['budget']} readings per claim, seed {s['seed']}, "
        f'{s["runs_simulated"]} runs simulated). A claim holds within ±10% ("< x" claims: '
        "no more than 10% above). A change names its entry in the readings table "
        "(`src/ahasd/explore/invert/readings.yaml`: source and allowed range) and the `--set` "
        "key it sets; `platform` means the baseline runs on that preset (`--platform`). "
        "Defaults are never changed.\n\n"
    )
    why = [f"- {c['label']}: {c['reason']}" for c in doc["claims"] if c.get("reason")]
    parts = [intro + markdown_table(head, body)]
    if why:
        parts.append("**Why the unreachable ones stay out of reach** (cost model, closest "
                     "reading):\n\n" + "\n".join(why))  # fmt: skip
    parts.append(joint_markdown(doc["joint"]))
    return "\n\n".join(parts)


def joint_markdown(joint: Mapping[str, Any]) -> str:
    largest = joint["largest"]
    lines = [
        f"**Jointly:** one reading satisfies {largest['size']} claims together "
        f"({', '.join(largest['claims']) or 'none'}) with "
        f"{change_text(largest['changes']) if largest['changes'] else 'no change'}; "
        f"{len(joint['satisfiable'])} hold or are reachable one at a time "
        f"({joint['readings_tried']} joint readings tried: {joint['method']})."
    ]
    if joint["contradictions"]:
        lines.append("\n**Contradictions** (no reading tried satisfies both):\n")
        lines += [f"- {' × '.join(x['claims'])}: {x['why']}" for x in joint["contradictions"]]
    return "\n".join(lines)


def invert_figure(doc: Mapping[str, Any], path: Path) -> Path:
    """Per claim: defaults and best reached as ours/claimed on a log axis, the ±10% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    claims = [c for c in doc["claims"] if c["ours_default"] is not None and c["best"] is not None]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(claims) + 1.6))
    ax.axvspan(0.9, 1.1, color="0.85", label="claim ±10%")
    ax.axvline(1.0, color="k", lw=0.8)
    for y, c in enumerate(claims):
        d, b = c["ours_default"] / c["paper"], c["best"] / c["paper"]
        color = STATUS_COLOR[c["status"]]
        ax.plot([d, b], [y, y], color=color, lw=1.2)
        ax.plot(d, y, "o", mfc="white", mec=color, ms=6)
        ax.plot(b, y, "o" if c["status"] != "unreachable" else "x", color=color, ms=6)
    ax.set_yticks(range(len(claims)), [c["label"] for c in claims], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}×"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("ours / claimed (log): ○ defaults, ● best reading found, × closest (unreachable)")
    for status, color in STATUS_COLOR.items():
        ax.plot([], [], "o", color=color, label=status)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("What it would take for each claim to hold (ahasd invert)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return write_bytes(Path(path), buf.getvalue())


def invert_section(out_dir: Path, doc: Mapping[str, Any], command: str) -> Section:
    fig = invert_figure(doc, Path(out_dir) / "invert.png")
    return Section("What it would take", invert_markdown(doc, command), [fig])


def build_section(out_dir: Path, *, quick: bool, jobs: int | None) -> Section:
    """Run ``ahasd invert`` (budget 20 with --quick, else the default) for ``reproduce
    --invert``; its runs are cached under ``out_dir/invert-cache`` so a rerun is quick."""
    from ahasd.explore import get_executor
    from ahasd.explore.invert import CLAIMS, DEFAULT_BUDGET, invert, load_entries, resolve

    budget = 20 if quick else DEFAULT_BUDGET
    doc = invert(
        CLAIMS,
        resolve(load_entries()),
        budget=budget,
        seed=0,
        executor=get_executor("local", jobs=jobs),
        cache_dir=Path(out_dir) / "invert-cache",
    )
    write_text(Path(out_dir) / "invert.json", json_text(doc, indent=1, default=str))
    return invert_section(out_dir, doc, f"ahasd invert --budget {budget} --seed 0")


def write_outputs(out_dir: Path, doc: Mapping[str, Any], command: str) -> list[Path]:
    """invert.json, invert.md and invert.png in ``out_dir`` (each written atomically)."""
    out = Path(out_dir)
    md = "# What it would take\n\n" + invert_markdown(doc, command) + "\n\n![](invert.png)\n"
    return [
        write_text(out / "invert.json", json_text(doc, indent=1, default=str)),
        write_text(out / "invert.md", md),
        invert_figure(doc, out / "invert.png"),
    ]
