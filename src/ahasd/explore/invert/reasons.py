"""Why a claim stays out of reach: the binding resource from the cost model, not prose.

For the cell that comes closest, each side's run is described by what limits it. Throughput:
the target's verification pass on the unit that verifies (``cost.describe.run_cost``), its
bound and limiting resource, and the cap τ / t_pass that pass puts on tokens/s. Energy: joules
per token and the components that dominate them. Every number is recomputed from the run's own
row and platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ahasd.explore.invert.claims import AREA, DIE_MM2, EE, Claim

# The unit (a device name or a cost placement) that verifies, per system; the edge system
# reports its own (``extras.target_device``); LP-Spec's DAU splits the pass (no single unit).
VERIFY_ON = {
    "ahasd": "npu",
    "npu-pim-async": "npu",
    "npu-only": "npu",
    "npu-pim-sync": "npu-pim-op",
    "gpu-only": "gpu",
    "specpim": "gpu-hbmpim-op",
}


def explain(claim: Claim, best: float, cells: list[float], runs: list, rows: list) -> str:
    """One line: how far the best reading got, and what binds each side in the closest cell."""
    if claim.metric == AREA:
        from ahasd.explore.area import AAU_MM2

        return (
            f"the AAU's synthesised {AAU_MM2:g} mm² alone is "
            f"{100 * AAU_MM2 / DIE_MM2:.2f}% of the {DIE_MM2:g} mm² die"
        )
    failed = [(cell, f, r) for (cell, fs), rs in zip(runs, rows, strict=True)
              for f, r in zip(fs, rs, strict=True) if r.get("error")]  # fmt: skip
    if best != best and failed:  # NaN: a run the claim needs does not run
        cell, f, r = failed[0]
        return (f"{f['system']} on {f['platform']} cannot run {cell.label}: {r['error']} "
                f"({len(failed)} of the claim's runs fail)")  # fmt: skip
    below = best < claim.claimed
    ok = [i for i, v in enumerate(cells) if v == v]
    if not ok:
        return "no run of the closest reading succeeded"
    i = max(ok, key=cells.__getitem__) if below else min(ok, key=cells.__getitem__)
    (cell, fields), side_rows = runs[i], rows[i]
    sides = [_describe(claim, f, r) for f, r in zip(fields, side_rows, strict=True)]
    if claim.den is None and claim.den_metric:
        sides.append(
            f"its baseline: {_num(side_rows[0].get(claim.den_metric))} ({claim.den_metric})"
        )
    return (
        f"closest reached {best:.3g}{_unit(claim)} against {claim.claimed:g}; its closest cell "
        f"{cell.label} ({cells[i]:.3g}): " + "; ".join(sides)
    )


def _unit(claim: Claim) -> str:
    return "x" if claim.unit == "x" else f" {claim.unit}"


def _num(value: Any) -> str:
    try:
        return f"{float(value):.3g}"
    except (TypeError, ValueError):
        return "n/a"


def _describe(claim: Claim, fields: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    where = f"{fields['system']} on {fields['platform']}"
    if row.get("error"):
        return f"{where}: failed ({row['error']})"
    if claim.metric == EE:
        return f"{where}: {_energy(row)}"
    return f"{where}: {_throughput(fields, row)}"


def _energy(row: Mapping[str, Any]) -> str:
    """Joules per token and the two largest components (static power included)."""
    n = float(row.get("committed_tokens") or 0) or 1.0
    parts = {
        k.split(".", 1)[1]: float(v)
        for k, v in row.items()
        if k.startswith("energy_by_component.") and v
    }
    total = sum(parts.values()) or 1.0
    top = sorted(parts.items(), key=lambda kv: -kv[1])[:2]
    shares = ", ".join(f"{k} {v / total:.0%}" for k, v in top)
    return f"{1e3 * total / n:.0f} mJ/token ({shares}), {float(row['tokens_per_joule']):.3g} tok/J"


def _throughput(fields: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """The verification pass's binding resource and the cap τ / t_pass it sets."""
    unit = VERIFY_ON.get(str(fields["system"])) or row.get("extras.target_device")
    tput, tau = float(row["throughput_tok_s"]), float(row.get("tau") or 0.0)
    if not unit:
        return f"{tput:.3g} tok/s, {_busiest(fields, row)}"
    step = _verify_step(fields, row, str(unit))
    cap = tau / step.seconds if step.seconds > 0 else float("inf")
    return (
        f"{step.bound}-bound ({step.limit}): τ/t_pass = {tau:.2f}/{step.seconds * 1e3:.0f} ms "
        f"caps it at {cap:.3g} tok/s; it runs at {tput:.3g} tok/s"
    )


def _verify_step(fields: Mapping[str, Any], row: Mapping[str, Any], unit: str):
    from ahasd.cost.describe import run_cost
    from ahasd.hardware import load_platform
    from ahasd.models import load_model

    platform = load_platform(str(fields["platform"]), fields.get("platform_overrides") or None)
    n = max(1, round(float(row.get("mean_draft_len") or 0.0))) + 1
    kv = int(row.get("cfg.prompt_len") or 128) + int(fields["tokens"]) // 2
    step, _ = run_cost(
        load_model(str(fields["target"])),
        platform,
        device=unit,
        phase="verify",
        tokens=n,
        kv=kv,
        precision=str(row.get("cfg.precision") or "int8"),
    )
    return step


def _busiest(fields: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """The computing device busy for the largest share of the run (memories excluded)."""
    from ahasd.hardware import load_platform
    from ahasd.hardware.devices import DramDevice

    platform = load_platform(str(fields["platform"]), fields.get("platform_overrides") or None)
    util = {
        name: float(row.get(f"devices.{name}.utilisation") or 0.0)
        for name, dev in platform.devices.items()
        if not isinstance(dev, DramDevice)
    }
    util = {k: v for k, v in util.items() if v}
    if not util:
        return "no device busy"
    dev = max(util, key=util.__getitem__)
    return f"{dev} busy {util[dev]:.0%} of the time"
