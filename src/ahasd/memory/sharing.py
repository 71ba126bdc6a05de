"""NPU streaming and PIM work on shared channels: a fluid rate-sharing model.

Each task says how much of each shared resource it would use running alone at full speed
(:class:`Usage`: a fraction of the resource's capacity). Resources are the NPU's compute engine,
each channel's data bus (``dq``) and command bus (``ca``), each channel's mode (``mode``; only
under *blocked* sharing, where a channel serves normal reads or PIM, never both), and each set of
dies (``dies``; a die computing in PIM mode cannot serve reads). When tasks overlap, every task
that uses an over-committed resource slows by that resource's load (proportional sharing), so
no resource exceeds its capacity and work is conserved: a task's bytes and operations stay the
same, only its duration stretches. Rates are recomputed at task boundaries; no per-command
events reach the simulator's loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ahasd.memory.pim import PimRates, Spread
from ahasd.memory.spec import DramSpec
from ahasd.memory.stream import column_interval_s, stream_ca_fraction

Usage = Mapping[tuple, float]  # resource -> fraction of its capacity used at full speed


def overlap_factor(a: Usage, b: Usage) -> float:
    """Speed (<= 1) of two overlapping tasks: 1 / the load of their most shared resource."""
    if len(b) < len(a):
        a, b = b, a
    load = 1.0
    for res, u in a.items():
        other = b.get(res)
        if other is not None and u + other > load:
            load = u + other
    return 1.0 / load


# Rates of the task pairs met so far, keyed by the identities of their usage mappings: a run
# meets the same few hundred step costs (memoised, never changed) over and over, and so do the
# runs of a sweep on one platform. Each entry's two mappings are kept alive beside it, so no
# other mapping can take their ids while the entry exists; the whole cache is dropped when it
# grows large. Hot loops read PAIR_RATES themselves and call pair_rate on a miss.
PAIR_RATES: dict[tuple[int, int], float] = {}
_PAIR_KEPT: list[tuple[Usage, Usage]] = []
_PAIR_LIMIT = 1 << 15  # a 50k-token ahasd run meets ~14k pairs


def pair_rate(a: Usage, b: Usage) -> float:
    """:func:`overlap_factor` of ``a`` and ``b``, remembered in :data:`PAIR_RATES`."""
    if len(PAIR_RATES) >= _PAIR_LIMIT:
        PAIR_RATES.clear()
        _PAIR_KEPT.clear()
    rate = PAIR_RATES[(id(a), id(b))] = overlap_factor(a, b)
    _PAIR_KEPT.append((a, b))
    return rate


def ca_per_data(spec: DramSpec) -> float:
    """Command-bus share per unit of data-bus share for streamed bursts."""
    return stream_ca_fraction(spec) * column_interval_s(spec) / spec.burst_s


def npu_usage(
    seconds: float,
    reads: Iterable[tuple[tuple[int, ...], Spread, float]],
    spec: DramSpec,
    *,
    npu_s: float,
    blocked: bool,
) -> dict[tuple, float]:
    """Usage of an NPU task of ``seconds`` that reads ``bytes`` from each (ranks, spread).

    ``npu_s``: seconds the NPU's engines compute (the task occupies the NPU for that long).
    """
    out: dict[tuple, float] = {}
    if seconds <= 0:
        return out
    if npu_s > 0:
        out[("npu",)] = min(1.0, npu_s / seconds)
    ca_per_dq = ca_per_data(spec)
    peak = spec.channel_peak_bytes_per_s
    for ranks, spread, n_bytes in reads:
        if n_bytes <= 0:
            continue
        for channel, share in enumerate(spread.channel_shares()):
            if not share:
                continue
            u = n_bytes * share / (peak * seconds)
            for res in (("dq", channel), ("dies", ranks, channel)) + (
                (("mode", channel),) if blocked else ()
            ):
                out[res] = out.get(res, 0.0) + u
            out[("ca", channel)] = out.get(("ca", channel), 0.0) + u * ca_per_dq
    return {k: min(v, 1.0) for k, v in out.items()}


def pim_usage(
    seconds: float,
    ranks: tuple[int, ...],
    spread: Spread,
    rates: PimRates,
    *,
    array_s: float,
    io_bytes: float,
    npu_s: float,
    blocked: bool,
) -> dict[tuple, float]:
    """Usage of a PIM task on the dies of ``ranks``: the dies for the whole task, the command
    bus for its row cycles, the data bus for its input/output transfers, and the NPU for any
    operators it hands over (``npu_s``)."""
    out: dict[tuple, float] = {}
    if seconds <= 0:
        return out
    if npu_s > 0:
        out[("npu",)] = min(1.0, npu_s / seconds)
    peak = rates.dram.channel_peak_bytes_per_s
    busy = min(1.0, array_s / seconds)
    for channel, dies in enumerate(spread.dies_per_channel):
        if not dies:
            continue
        out[("dies", ranks, channel)] = 1.0
        if blocked:
            out[("mode", channel)] = 1.0
        io = min(1.0, io_bytes * dies / spread.dies / (peak * seconds))
        if io:
            out[("dq", channel)] = io
        out[("ca", channel)] = min(
            1.0, busy * rates.ca_fraction(dies) + io * ca_per_data(rates.dram)
        )
    return out
