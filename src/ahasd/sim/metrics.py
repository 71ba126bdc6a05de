"""Metrics collected through a few hooks; every formula lives in ``summary`` (docs/metrics.md).

Hooks are called once per task or per verification, never per token. The collector also holds
the commit log that the invariants check: commits are contiguous, start at position 0, and a
draft token counts as accepted only where the replayed trace says it matched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from ahasd.sim.faults import CommitError

# a task's energy split by device: ((device, {component: J}), ...)
Split = tuple[tuple[str, dict[str, float]], ...]


class Metrics:
    """Counters for one run."""

    __slots__ = (
        "n_tokens",
        "committed",
        "accepted",
        "target_tokens",
        "rejections",
        "verifications",
        "proposed",
        "batches",
        "discarded",
        "preverify_tokens",
        "preverify_corrections",
        "switches",
        "hist",
        "_energy",
        "split_of",
        "split_scale",
        "_component_device",
        "_miss",
        "_acc_starts",
        "_acc_stops",
    )

    def __init__(
        self,
        n_tokens: int,
        match: np.ndarray,
        component_device: Mapping[str, str] | None = None,
    ) -> None:
        self.n_tokens = n_tokens
        self.committed = 0
        self.accepted = 0  # draft tokens accepted by the (NPU) verification
        self.target_tokens = 0  # tokens the target supplied (correction or bonus)
        self.rejections = 0  # verifications that found a mismatching draft token
        self.verifications = 0
        self.proposed = 0  # draft tokens produced, including wasted look-ahead
        self.batches = 0
        self.discarded = 0  # draft tokens squashed before reaching a verification
        self.preverify_tokens = 0
        self.preverify_corrections = 0
        self.switches = 0
        self.hist: defaultdict[int, int] = defaultdict(int)  # 3x faster to count in than a Counter
        self._energy: dict[str, dict[str, float]] = {}
        # id(split) -> split, and -> its total scale (two dicts: no list per split for gc)
        self.split_of: dict[int, Split] = {}
        self.split_scale: dict[int, float] = {}
        self._component_device = dict(component_device or {})
        # _miss[i]: trace positions before i whose draft token is wrong (O(1) window checks)
        self._miss: list[int] = np.concatenate(
            ([0], np.cumsum(~np.asarray(match, dtype=bool)))
        ).tolist()
        self._acc_starts: list[int] = []  # [start, stop) runs committed as accepted drafts
        self._acc_stops: list[int] = []

    # --- hooks -----------------------------------------------------------------------------
    def on_task_end(self, device: str, energy_j: Mapping[str, float], scale: float = 1.0) -> None:
        """Charge a task's dynamic energy; components may belong to another device (memory)."""
        remap = self._component_device
        energy = self.energy
        for comp, joules in energy_j.items():
            dev = energy.setdefault(remap.get(comp, device), {})
            dev[comp] = dev.get(comp, 0.0) + joules * scale

    def on_task_energy(self, split: Split, scale: float = 1.0) -> None:
        """Charge energy already split by device: ``((device, {component: J}), ...)``.

        Splits are shared, immutable per-step tuples, so only how often each was charged is
        counted here; :attr:`energy` expands the totals once at the end.
        """
        key = id(split)
        total = self.split_scale.get(key)
        if total is None:
            self.split_of[key] = split  # keeps the split alive, so its id stays unique
            self.split_scale[key] = scale
        else:
            self.split_scale[key] = total + scale

    @property
    def energy(self) -> dict[str, dict[str, float]]:
        """Dynamic energy by device and component (J)."""
        scales, totals = self.split_scale, self._energy
        for key, split in self.split_of.items():
            scale = scales[key]
            for device, comps in split:
                dev = totals.get(device)
                if dev is None:
                    dev = totals[device] = {}
                for comp, joules in comps.items():
                    dev[comp] = dev.get(comp, 0.0) + joules * scale
        self.split_of.clear()
        scales.clear()
        return self._energy

    def on_draft(self, n: int) -> None:
        self.proposed += n
        self.batches += 1
        self.hist[n] += 1

    def on_discard(self, n: int) -> None:
        """Drafted tokens squashed before any verification saw them (wasted look-ahead)."""
        self.discarded += n

    def on_abort(self, n_done: int) -> None:
        """A batch cut short by a squash: its finished tokens were proposed and wasted."""
        self.proposed += n_done
        self.discarded += n_done

    def on_commit(
        self,
        start: int,
        n_accepted: int,
        n_target: int,
        corrected: int = 0,
        *,
        drafted_bonus: bool = False,
    ) -> None:
        """Commit ``n_accepted`` draft tokens then ``n_target`` target tokens from ``start``.

        ``corrected`` of the accepted tokens were already fixed by a pre-verification (their
        draft was wrong): they are committed but do not count as accepted drafts.
        ``drafted_bonus``: asynchronous look-ahead had already drafted the target's bonus token
        and it matched, so that token also counts as an accepted draft token.
        """
        if start != self.committed:
            raise CommitError(f"commit at {start} but {self.committed} tokens are committed")
        stop = start + n_accepted + n_target
        if stop > self.n_tokens:
            stop = self.n_tokens
        real = n_accepted - corrected
        miss = self._miss
        if real:  # at most `corrected` wrong drafts in the accepted window
            hi = start + n_accepted
            if hi >= len(miss):
                hi = len(miss) - 1
            if miss[hi] - miss[start] > corrected:
                raise CommitError(f"accepted a draft token the trace rejects in [{start}, {stop})")
        if drafted_bonus and stop > start + n_accepted:
            at = start + n_accepted
            if miss[at + 1] != miss[at]:
                raise CommitError(f"drafted bonus token at {at} does not match")
            n_accepted += 1
            real += 1
        if n_accepted > 0:
            self._acc_starts.append(start)
            self._acc_stops.append(min(start + n_accepted, self.n_tokens))
        self.accepted += real
        self.target_tokens += max(stop - start - n_accepted, 0)
        self.committed = stop

    def on_verify(self, rejected: bool) -> None:
        self.verifications += 1
        self.rejections += int(rejected)

    # --- summary -----------------------------------------------------------------------------
    def summary(self) -> dict[str, object]:
        """The token-side metrics of docs/metrics.md (time and energy are added by the result)."""
        proposed = self.proposed
        compared = self.accepted + self.rejections
        return {
            "committed_tokens": self.committed,
            "tau": self.committed / self.verifications if self.verifications else 0.0,
            "alpha_hat": self.accepted / compared if compared else 0.0,
            "mean_draft_len": proposed / self.batches if self.batches else 0.0,
            "draft_len_hist": {int(k): int(v) for k, v in sorted(self.hist.items())},
            "draft_acceptance_rate": self.accepted / proposed if proposed else 0.0,
            "wasted_draft_fraction": self.discarded / proposed if proposed else 0.0,
        }

    @property
    def accepted_mask(self) -> np.ndarray:
        """Positions committed as accepted draft tokens (a fresh array)."""
        mask = np.zeros(self.n_tokens, dtype=bool)
        for start, stop in zip(self._acc_starts, self._acc_stops, strict=True):
            mask[start:stop] = True
        return mask
