"""The golden runs: a fixed set of simulations whose every number must stay bit-identical.

``python tests/data/golden.py`` (re)writes ``golden_results.json`` from the code as it is; run it
only when the physics is meant to change (and say why in the commit), never to make a speed-up
pass; to add a case, run it with the code before the change under test (``PYTHONPATH`` of a
checkout of that commit) so the stored values come from there. ``tests/sim/test_golden.py``
re-runs the same cases and compares every value of ``Result.to_dict()`` (``version`` aside)
exactly, floats included, plus the recorded timelines of the timeline cases.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden_results.json"
TOKENS = 300
FAST_PIM = {"pim.alu_gops": 1024, "pim.internal_bw_gb_per_s": 2560}  # TVC finds slack

# name -> SimConfig fields; every registered system at its defaults, then ahasd's variants
SYSTEM_NAMES = (
    "ahasd",
    "edge-hetero",
    "gpu-only",
    "lpspec",
    "lpspec-pim-si",
    "npu-only",
    "npu-pim-async",
    "npu-pim-sync",
    "specpim",
)
CASES: dict[str, dict[str, Any]] = {
    **{name: {"system": name, "tokens": TOKENS} for name in SYSTEM_NAMES},
    "ahasd-blocked": {
        "system": "ahasd",
        "tokens": TOKENS,
        "platform_overrides": {"switches.channel_sharing": "blocked"},
    },
    "ahasd-no-gtsu": {"system": "ahasd", "tokens": TOKENS, "use_gtsu": False},
    "ahasd-no-aau": {"system": "ahasd", "tokens": TOKENS, "use_aau": False},
    "ahasd-no-edc": {"system": "ahasd", "tokens": TOKENS, "use_edc": False},
    "ahasd-no-tvc": {"system": "ahasd", "tokens": TOKENS, "use_tvc": False},
    "ahasd-published-rate": {
        "system": "ahasd",
        "tokens": TOKENS,
        "platform_overrides": {"switches.pim_rate": "published"},
    },
    "ahasd-draft-ranks-8": {
        "system": "ahasd",
        "tokens": TOKENS,
        "platform_overrides": {"placement.draft_ranks": "8"},
    },
    "ahasd-sampled": {"system": "ahasd", "tokens": TOKENS, "decoding": "sampled", "seed": 3},
    "npu-pim-async-sampled": {
        "system": "npu-pim-async",
        "tokens": TOKENS,
        "decoding": "sampled",
        "seed": 3,
    },
    "ahasd-artifact-options": {
        "system": "ahasd",
        "tokens": TOKENS,
        "platform_overrides": FAST_PIM,
        "edc": {"leht_order": "circular", "commit": "copy-leht", "llr_on_reject": "decrement"},
        "tvc": {
            "no_slack": "stop",
            "max_tokens": 8,
            "pvct_fallback": 0.8,
            "ncr_domain": "raw",
            "seeded": False,
        },
    },
    "ahasd-recompute-min-pending": {
        "system": "ahasd",
        "tokens": TOKENS,
        "edc": {"update_index": "recompute"},
        "tvc": {"min_pending_batches": 2},
    },
    "ahasd-fast-pim": {  # pre-verification fits the NPU's slack: many corrections
        "system": "ahasd",
        "tokens": TOKENS,
        "platform_overrides": FAST_PIM,
    },
    "ahasd-banditspec": {"system": "ahasd", "tokens": TOKENS, "policy": "banditspec"},
    "npu-pim-sync-specdec-pp": {"system": "npu-pim-sync", "tokens": TOKENS, "policy": "specdec-pp"},
    "ahasd-timeline": {"system": "ahasd", "tokens": 150, "record_timeline": True},
    "npu-pim-async-timeline": {"system": "npu-pim-async", "tokens": 100, "record_timeline": True},
    "ahasd-long": {"system": "ahasd", "tokens": 4000, "seed": 1},
}


def run_case(fields: dict[str, Any]) -> dict[str, Any]:
    """One case's comparable record: ``to_dict()`` without ``version``, plus the timeline's
    spans when the run records one."""
    from ahasd.systems import simulate

    result = simulate(**fields)
    out = result.to_dict()
    out.pop("version")
    if result.timeline is not None:  # one compact row per span, in recording order
        rows = [list(s.to_dict().values()) for s in result.timeline]
        out["timeline"] = json.loads(json.dumps(rows))
    return out


def main() -> None:
    from ahasd.systems import SYSTEMS

    registered = tuple(sorted(SYSTEMS.names()))
    if registered != SYSTEM_NAMES:
        sys.exit(f"registered systems changed: {registered}; update SYSTEM_NAMES")
    records = {name: run_case(fields) for name, fields in CASES.items()}
    tmp = GOLDEN.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(records, indent=0, sort_keys=True) + "\n")
    os.replace(tmp, GOLDEN)
    print(f"wrote {len(records)} runs to {GOLDEN}")


if __name__ == "__main__":
    main()
