"""Hand-made result rows for rendering tests. TEST FIXTURES, not simulator results."""

from __future__ import annotations

import json

import pytest

from ahasd.sim.timeline import Span

FIXTURE_VARIANTS = {  # variant -> (fake tokens/s, fake tokens/J)
    "gpu-only": (10.0, 1.0),
    "specpim": (20.0, 3.0),
    "npu-only": (8.0, 2.0),
    "npu-pim-sync": (12.0, 2.5),
    "npu-pim-async": (15.0, 2.8),
    "+aau": (18.0, 3.2),
    "+edc": (22.0, 4.0),
    "ahasd": (30.0, 4.5),
}


def make_rows(pairs=("a→b", "c→d"), policies=("adaedl", "svip"), seeds=(0, 1)):
    rows = []
    for pi, pair in enumerate(pairs):
        for qi, policy in enumerate(policies):
            for variant, (tput, ee) in FIXTURE_VARIANTS.items():
                for seed in seeds:
                    scale = 1.0 + 0.1 * pi + 0.05 * qi + 0.01 * seed
                    row = {
                        "variant": variant,
                        "pair": pair,
                        "cfg.policy": policy,
                        "cfg.seed": seed,
                        "throughput_tok_s": tput * scale,
                        "tokens_per_joule": ee * scale,
                        "tau": 2.0 + 0.1 * seed,
                        "committed_tokens": 64,
                        "fits_in_memory": variant != "gpu-only",
                        "draft_len_hist": json.dumps({"1": 3, "2": 5 + seed, "4": 2}),
                        "energy_by_component.compute": 0.5,
                        "energy_by_component.static": 0.25,
                        "devices.npu.utilisation": 0.6,
                        "devices.pim.utilisation": 0.3 if variant != "gpu-only" else None,
                    }
                    if variant == "ahasd":
                        row["extras.preverify_count"] = 3
                    rows.append(row)
    return rows


@pytest.fixture
def rows():
    return make_rows()


@pytest.fixture
def spans():
    out, t, tid = [], 0.0, 0
    for i in range(5):
        out.append(Span("pim", "dlm", t, t + 0.01, "draft", tid, flow_to=tid + 1))
        out.append(Span("npu", "tlm", t + 0.01, t + 0.03, "verify", tid + 1))
        if i % 2:
            out.append(Span("pim", "tlm", t + 0.012, t + 0.02, "pre-verify", tid + 2))
        t, tid = t + 0.03, tid + 3
    return out


REAL_PAIRS = ("opt-1.3b→opt-6.7b", "llama2-7b→llama2-13b", "palm-like-8b→palm-like-30b")
FIXTURE_PLATFORMS = {"gpu-only": "gpu-rtx4090-laptop", "npu-only": "npu-lpddr5"}


@pytest.fixture
def real_pair_rows():
    """Fixture rows carrying real model and platform names (values are still made up)."""
    rows = make_rows(pairs=REAL_PAIRS)
    for r in rows:
        r["cfg.draft"], r["cfg.target"] = r["pair"].split("→")
        r["cfg.precision"] = "int8"
        r["cfg.prompt_len"] = 128
        r["cfg.platform"] = FIXTURE_PLATFORMS.get(r["variant"], "ahasd-mobile")
    return rows
