"""AHASD's evaluation matrix ([ahasd26] Table 1, §5, §6): pairs × algorithms × systems × seeds.

A *variant* is a system label of the paper's figures; the ablation steps are ``ahasd`` with
controllers switched off (docs/dev/contracts.md, "Ablation chain names"). Points are plain dicts
so they pickle cheaply to worker processes; ``run_point`` is the module-level function the
executor maps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ahasd.errors import AhasdError

PAIRS: tuple[tuple[str, str], ...] = (  # [ahasd26] Table 1
    ("opt-1.3b", "opt-6.7b"),
    ("llama2-7b", "llama2-13b"),
    ("palm-like-8b", "palm-like-30b"),
)
POLICIES = ("specdec-pp", "svip", "adaedl", "banditspec")  # [ahasd26] §5
VARIANTS: dict[str, dict[str, Any]] = {
    "gpu-only": {"system": "gpu-only"},
    "specpim": {"system": "specpim"},
    # the same two baselines at matched (mobile) scale: an embedded GPU on LPDDR5-6400
    "gpu-only-mobile": {"system": "gpu-only", "platform": "gpu-mobile"},
    "specpim-mobile": {"system": "specpim", "platform": "specpim-mobile"},
    "npu-only": {"system": "npu-only"},
    "npu-pim-sync": {"system": "npu-pim-sync"},
    "npu-pim-async": {"system": "npu-pim-async"},
    "+aau": {"system": "ahasd", "use_edc": False, "use_tvc": False},
    "+edc": {"system": "ahasd", "use_tvc": False},
    "ahasd": {"system": "ahasd"},
}
TOKENS = 1024  # [ahasd26] §5: generation length 1024
TRACE_SUFFIXES = (".parquet", ".csv", ".jsonl")


@dataclass(frozen=True, slots=True)
class MatrixSpec:
    """Which slice of the matrix to run."""

    pairs: tuple[tuple[str, str], ...] = PAIRS
    policies: tuple[str, ...] = POLICIES
    variants: tuple[str, ...] = tuple(VARIANTS)
    seeds: tuple[int, ...] = (0, 1, 2)
    tokens: int = TOKENS


def full_spec(seeds: int = 3) -> MatrixSpec:
    return MatrixSpec(seeds=tuple(range(_check_seeds(seeds))))


def quick_spec(seeds: int = 1) -> MatrixSpec:
    """Every pair and system, two algorithms, fewer tokens: the shape of the report in seconds."""
    return MatrixSpec(
        policies=("adaedl", "banditspec"), seeds=tuple(range(_check_seeds(seeds))), tokens=512
    )


def _check_seeds(seeds: int) -> int:
    if not 1 <= seeds <= 100:
        raise AhasdError(f"seeds: got {seeds}; accepted: an integer in 1..100")
    return seeds


def pair_label(draft: str, target: str) -> str:
    return f"{draft}→{target}"


def points(spec: MatrixSpec, traces: Mapping[str, Path] | None = None) -> list[dict[str, Any]]:
    """One point per run, in a fixed order (pair, policy, variant, seed)."""
    out = []
    for draft, target in spec.pairs:
        label = pair_label(draft, target)
        trace = (traces or {}).get(label)
        for policy in spec.policies:
            for variant in spec.variants:
                for seed in spec.seeds:
                    cfg = {
                        **VARIANTS[variant],
                        "draft": draft,
                        "target": target,
                        "policy": policy,
                        "tokens": spec.tokens,
                        "seed": seed,
                    }
                    if trace is not None:
                        cfg["trace"] = str(trace)
                    out.append({"variant": variant, "pair": label, "config": cfg})
    return out


def run_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """Simulate one point; the row is ``Result.to_row()`` with the point's labels in front."""
    from ahasd.explore import evaluate

    row = evaluate(dict(point["config"]))
    return {"variant": point["variant"], "pair": point["pair"], **row}


def find_traces(
    folder: Path, pairs: Sequence[tuple[str, str]] = PAIRS, *, min_tokens: int = 0
) -> dict[str, Path]:
    """Map pair labels to user trace files in ``folder`` by the pair named in each trace's meta.

    A matching trace shorter than ``min_tokens`` (the generated tokens per run) is an error
    here, before any run starts, rather than in a worker halfway through the matrix.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AhasdError(f"traces: {folder} is not a directory; accepted: a folder of traces")
    from ahasd.traces import load_trace

    found: dict[str, Path] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix in TRACE_SUFFIXES):
        try:
            trace = load_trace(path)
        except AhasdError as exc:
            raise AhasdError(f"traces: {path}: {exc}") from None
        meta_pair = str(trace.meta.pair).lower()
        for draft, target in pairs:
            label = pair_label(draft, target)
            if draft in meta_pair and target in meta_pair and label not in found:
                if len(trace) < min_tokens:
                    raise AhasdError(
                        f"traces: {path} has {len(trace)} positions; accepted: at least "
                        f"{min_tokens} (the tokens each run generates)"
                    )
                found[label] = path
    if not found:
        names = ", ".join(pair_label(d, t) for d, t in pairs)
        raise AhasdError(
            f"traces: no trace in {folder} names one of the pairs {names}; accepted: "
            f"{'/'.join(TRACE_SUFFIXES)} files written by `ahasd trace`"
        )
    return found


def workload_markdown(spec: MatrixSpec, traces: Mapping[str, Path] | None) -> str:
    """Which workload each pair ran on: a user trace (with its hash) or a built-in profile."""
    from ahasd.traces import default_profile, load_trace

    lines = []
    for draft, target in spec.pairs:
        label = pair_label(draft, target)
        path = (traces or {}).get(label)
        if path is None:
            lines.append(
                f"- {label}: built-in profile `{default_profile(draft, target)}`, one synthetic "
                "trace per seed"
            )
        else:
            trace = load_trace(path)
            lines.append(
                f"- {label}: user trace `{path}` ({len(trace)} positions, first {spec.tokens} "
                f"used, content hash {trace.content_hash[:12]}; source {trace.meta.source})"
            )
    return "Workloads (`--traces`):\n\n" + "\n".join(lines)
