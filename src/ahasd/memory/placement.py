"""Which ranks hold each model's weights and KV cache, checked against each rank's capacity.

Four groups of bytes are placed: ``draft-weights``, ``target-weights``, ``draft-kv`` and
``target-kv`` (the KV cache sized for prompt + generated tokens). A group is split evenly over
the dies of its ranks. Policies (``placement.policy`` in the platform YAML or ``--set``):

* ``paper`` (AHASD §5 [ahasd26]: models "stored in ranks sized by model size", the target in its
  own ranks): draft and target in disjoint ranks, each spread over every channel so the NPU
  streams at full width; ranks are shared in proportion to the bytes (or ``draft_ranks``), each
  model's KV next to its weights. ``draft_ranks`` / ``target_ranks`` fix the counts.
* ``interleaved``: every group over every rank (a plain controller's address interleaving).
* ``dedicated-channel``: the draft on the fewest whole channels that hold it, the target on the
  others (no channel is shared, and the NPU streams the target over fewer channels).
* ``user``: rank lists given as ``draft``, ``target`` (and optionally ``draft_kv``,
  ``target_kv``), e.g. ``--set placement.draft=0,1,2,3``.

A group that fits nowhere is a one-line :class:`AhasdError` naming the model and the shortfall.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ahasd.errors import AhasdError, field_error
from ahasd.memory.pim import Spread
from ahasd.memory.spec import DramSpec

GROUPS = ("draft-weights", "target-weights", "draft-kv", "target-kv")
POLICIES = ("paper", "interleaved", "dedicated-channel", "user")
_OPTIONS = {"policy", "draft_ranks", "target_ranks", "draft", "target", "draft_kv", "target_kv"}


@dataclass(frozen=True)
class Placement:
    """Rank sets and bytes of every group on one package."""

    spec: DramSpec
    policy: str
    ranks: Mapping[str, tuple[int, ...]]  # group -> ranks holding it
    sizes: Mapping[str, float]  # group -> bytes
    warnings: tuple[str, ...] = field(default=())

    def spread(self, group: str) -> Spread:
        """Dies per channel holding ``group``."""
        counts = [0] * self.spec.channels
        for rank in self.ranks.get(group, ()):
            for channel, _slot in self.spec.rank_dies(rank):
                counts[channel] += 1
        return Spread(tuple(counts))

    def used_bytes(self, rank: int) -> float:
        return sum(self.sizes[g] / len(r) for g, r in self.ranks.items() if rank in r)

    def holds(self, rank: int) -> list[str]:
        return [g for g in GROUPS if rank in self.ranks.get(g, ()) and self.sizes.get(g, 0) > 0]

    def rank_table(self) -> list[dict[str, object]]:
        """One row per rank: where it sits, its capacity, what it holds."""
        rows = []
        for rank in range(self.spec.ranks):
            channels = [c for c, _ in self.spec.rank_dies(rank)]
            rows.append({
                "rank": rank,
                "channel": channels[0] if len(channels) == 1 else channels,
                "capacity_bytes": self.spec.rank_capacity_bytes,
                "used_bytes": self.used_bytes(rank),
                "holds": self.holds(rank),
            })  # fmt: skip
        return rows


def group_sizes(draft, target, *, precision: str, kv_tokens: int) -> dict[str, float]:
    """Bytes of the four groups for a model pair (KV for ``kv_tokens`` positions)."""
    return {
        "draft-weights": float(draft.weight_bytes(precision)),
        "target-weights": float(target.weight_bytes(precision)),
        "draft-kv": float(draft.kv_bytes_per_token(precision) * kv_tokens),
        "target-kv": float(target.kv_bytes_per_token(precision) * kv_tokens),
    }


def plan_placement(
    spec: DramSpec,
    sizes: Mapping[str, float],
    options: Mapping[str, object] | None = None,
    *,
    names: Mapping[str, str] | None = None,
) -> Placement:
    """Place the groups on ranks under ``options['policy']`` (default ``paper``).

    ``names`` maps "draft"/"target" to model names for error messages.
    """
    opts = dict(options or {})
    unknown = sorted(set(opts) - _OPTIONS)
    if unknown:
        raise field_error(f"placement.{unknown[0]}", opts[unknown[0]], ", ".join(sorted(_OPTIONS)))
    policy = str(opts.get("policy", "paper"))
    if policy not in POLICIES:
        raise field_error("placement.policy", policy, ", ".join(POLICIES))
    names = {"draft": "draft", "target": "target", **(names or {})}
    if policy == "interleaved":
        everywhere = tuple(range(spec.ranks))
        ranks = dict.fromkeys(GROUPS, everywhere)
    elif policy == "user":
        ranks = _user(spec, opts)
    elif policy == "dedicated-channel":
        ranks = _dedicated(spec, sizes, names)
    else:
        ranks = _paper(spec, sizes, opts, names)
    placement = Placement(spec, policy, ranks, dict(sizes), tuple(spec.warnings()))
    _check_capacity(placement, names)
    return placement


def _model_bytes(sizes: Mapping[str, float], model: str) -> float:
    return sizes.get(f"{model}-weights", 0.0) + sizes.get(f"{model}-kv", 0.0)


def _sweep(spec: DramSpec) -> int:
    """Ranks needed to cover every channel once."""
    return max(1, spec.channels // spec.rank_channels)


def _count(opts: Mapping[str, object], key: str, spec: DramSpec) -> int | None:
    value = opts.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < spec.ranks:
        raise field_error(f"placement.{key}", value, f"an integer 1..{spec.ranks - 1}")
    return int(value)


def _paper(spec, sizes, opts, names) -> dict[str, tuple[int, ...]]:
    cap, step, total = spec.rank_capacity_bytes, _sweep(spec), spec.ranks
    need = {m: max(1, math.ceil(_model_bytes(sizes, m) / cap - 1e-9)) for m in ("draft", "target")}
    if need["draft"] + need["target"] > total:
        short = _model_bytes(sizes, "draft") + _model_bytes(sizes, "target") - total * cap
        raise AhasdError(
            f"models: {names['draft']} ({_model_bytes(sizes, 'draft') / 1e9:.2f} GB with KV) and "
            f"{names['target']} ({_model_bytes(sizes, 'target') / 1e9:.2f} GB) need "
            f"{need['draft']} + {need['target']} ranks of {cap / 1e9:.2f} GB in separate ranks; "
            f"the package has {total} (short by {max(short, cap) / 1e9:.2f} GB); accepted: "
            "smaller models, a lower precision, fewer tokens or placement.policy=interleaved"
        )
    n_draft = _count(opts, "draft_ranks", spec)
    n_target = _count(opts, "target_ranks", spec)
    if n_draft is None and n_target is not None:
        n_draft = total - n_target
    if n_draft is None:
        share = _model_bytes(sizes, "draft") / max(
            _model_bytes(sizes, "draft") + _model_bytes(sizes, "target"), 1.0
        )
        n_draft = max(step, round(total * share / step) * step)
        up = -(-need["draft"] // step) * step
        n_draft = min(max(n_draft, up), total - need["target"])
        n_draft = max(n_draft, need["draft"])
    n_target = n_target if n_target is not None else total - n_draft
    if n_draft + n_target > total:
        raise field_error(
            "placement.draft_ranks + target_ranks", n_draft + n_target, f"at most {total}"
        )
    draft = tuple(range(n_draft))
    target = tuple(range(n_draft, n_draft + n_target))
    return {"draft-weights": draft, "draft-kv": draft, "target-weights": target,
            "target-kv": target}  # fmt: skip


def _dedicated(spec, sizes, names) -> dict[str, tuple[int, ...]]:
    if spec.rank_channels == spec.channels:
        raise field_error(
            "placement.policy", "dedicated-channel",
            f"paper, interleaved or user ({spec.name}'s ranks span every channel)",
        )  # fmt: skip
    per_channel = spec.die_capacity_bytes * spec.dies_per_channel
    k = max(1, math.ceil(_model_bytes(sizes, "draft") / per_channel - 1e-9))
    if k >= spec.channels:
        raise AhasdError(
            f"models: {names['draft']} needs {k} of {spec.channels} channels of "
            f"{per_channel / 1e9:.2f} GB; accepted: placement.policy=paper or interleaved"
        )
    on = {c: [r for r in range(spec.ranks) if spec.rank_dies(r)[0][0] == c]
          for c in range(spec.channels)}  # fmt: skip
    draft = tuple(sorted(r for c in range(k) for r in on[c]))
    target = tuple(sorted(r for c in range(k, spec.channels) for r in on[c]))
    return {"draft-weights": draft, "draft-kv": draft, "target-weights": target,
            "target-kv": target}  # fmt: skip


def _rank_list(spec: DramSpec, key: str, value: object) -> tuple[int, ...]:
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.replace(" ", "").split(",") if v]
        except ValueError:
            raise field_error(f"placement.{key}", value, "rank numbers, e.g. 0,1,2,3") from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not all(0 <= v < spec.ranks for v in value)
        or len(set(value)) != len(value)
    ):
        raise field_error(f"placement.{key}", value, f"distinct rank numbers 0..{spec.ranks - 1}")
    return tuple(sorted(value))


def _user(spec, opts) -> dict[str, tuple[int, ...]]:
    out = {}
    for model in ("draft", "target"):
        if model not in opts:
            raise field_error(f"placement.{model}", None, "a rank list (policy user)")
        weights = _rank_list(spec, model, opts[model])
        kv_key = f"{model}_kv"
        kv = _rank_list(spec, kv_key, opts[kv_key]) if kv_key in opts else weights
        out[f"{model}-weights"], out[f"{model}-kv"] = weights, kv
    return out


def _check_capacity(placement: Placement, names: Mapping[str, str]) -> None:
    spec, sizes = placement.spec, placement.sizes
    need = {m: _model_bytes(sizes, m) for m in ("draft", "target")}
    total = sum(need.values())
    if total > spec.capacity_bytes:
        raise AhasdError(
            f"models: {names['draft']} ({need['draft'] / 1e9:.2f} GB with KV) and "
            f"{names['target']} ({need['target'] / 1e9:.2f} GB) need {total / 1e9:.2f} GB but "
            f"{spec.name} holds {spec.capacity_bytes / 1e9:.2f} GB (short by "
            f"{(total - spec.capacity_bytes) / 1e9:.2f} GB); accepted: smaller models, a lower "
            "precision, fewer tokens or a larger platform"
        )
    cap = spec.rank_capacity_bytes
    for rank in range(spec.ranks):
        used = placement.used_bytes(rank)
        if used > cap * (1 + 1e-9):
            held = placement.holds(rank)
            models = sorted({names.get(g.split("-")[0], g) for g in held})
            raise AhasdError(
                f"models: rank {rank} would hold {used / 1e9:.2f} GB of {' and '.join(models)} "
                f"({', '.join(held)}) but holds {cap / 1e9:.2f} GB (short by "
                f"{(used - cap) / 1e9:.2f} GB); accepted: more ranks for it "
                "(placement.draft_ranks/target_ranks), another placement.policy, a lower "
                "precision or fewer tokens"
            )
