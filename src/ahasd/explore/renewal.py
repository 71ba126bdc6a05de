"""Renewal-cycle timing of the asynchronous systems, vectorised over cycles and design points.

A renewal cycle starts at an anchor (the position after a rejected draft token, or 0) and ends
when the chain drafted from it is squashed (the NPU verified the batch holding the next
rejected token) or corrected early (a TVC pre-verification found it). Its tokens are fixed by
the trace (``k + 1``: the matching run and the target's token), so throughput and energy are
renewal rewards: sums over cycles of their tokens, durations and joules.

Inside a cycle two servers work a tandem queue: PIM drafts the chain's batches (and runs rank
switches and pre-verifications), the NPU verifies batches in order, the queue between them holds
at most ``queue_depth`` batches, EDC's stop makes PIM wait for the next verification (or, with
TVC, pre-verify), and while both servers run they share memory resources at the rates of
:mod:`ahasd.memory.sharing` (both slow to 1 / the load of their most shared resource). What
to draft and when to stop or pre-verify comes from :mod:`ahasd.explore.async_replay`; this
module steps every cycle of every point at once through that recursion with the point's own
step costs (numpy, one iteration per task boundary). Consecutive cycles interact only through
work one leaves to the next (verifications still queued after a correction, a pre-verification
running at a squash); those carries come from the previous pass (two passes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

IDLE, DRAFT, SW_TO, PV, SW_BACK, SW_CORR, RESIDUAL = range(7)  # PIM tasks
VERIFY = 1  # NPU task (plus IDLE and RESIDUAL)


class Lookup(Protocol):
    """Step costs of a row's tasks, priced on demand (``rows``: row indices)."""

    def verify(self, rows: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, joules) of verifying ``tokens`` tokens at the row's KV length."""

    def preverify(self, rows: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, joules) of pre-verifying ``tokens`` tokens on PIM."""


@dataclass(frozen=True)
class CycleInputs:
    """Rows are (design point, cycle) pairs; columns the batches of the cycle's chain."""

    sizes: np.ndarray  # (R, M) int: batch lengths (0: no more batches)
    stops: np.ndarray  # (R, M) bool: EDC stop after the batch
    pv_n: np.ndarray  # (R, M) int: tokens pre-verified after the batch
    pv_hit: np.ndarray  # (R, M) bool: that pre-verification holds the rejected token
    run: np.ndarray  # (R,) int: k, matching draft tokens from the anchor
    last: np.ndarray  # (R,) int: index of the batch whose verification ends the cycle
    first: np.ndarray  # (R,) bool: the point's first cycle (no carry in)
    draft_s: np.ndarray  # (R,) seconds per draft token (at the cycle's KV length)
    draft_j: np.ndarray  # (R,) joules per draft token
    switch_s: np.ndarray  # (R,) one rank switch
    switch_j: np.ndarray
    r_dv: np.ndarray  # (R,) rate while a draft and a verification overlap
    r_pv: np.ndarray  # (R,) ... a pre-verification and a verification
    r_sw: np.ndarray  # (R,) ... a rank switch and a verification
    costs: Lookup


@dataclass(frozen=True)
class CycleTotals:
    """Per row: duration, busy times, overlaps, drafted tokens, dynamic energy, carries."""

    seconds: np.ndarray
    draft_busy: np.ndarray
    pv_busy: np.ndarray
    npu_busy: np.ndarray
    overlap_dv: np.ndarray
    overlap_pv: np.ndarray
    drafted: np.ndarray  # draft tokens produced (a cut batch counts its done fraction)
    joules: np.ndarray
    preverifies: np.ndarray
    pv_tokens: np.ndarray
    switches: np.ndarray
    verifies: np.ndarray  # verifications started (and those a correction leaves due)
    batches: np.ndarray  # draft batches finished
    pim_gaps: np.ndarray
    npu_gaps: np.ndarray
    corrected: np.ndarray  # bool: ended by a pre-verification's correction
    npu_carry: np.ndarray  # seconds of verification left to the next cycle
    pim_carry: np.ndarray  # seconds of PIM work (pre-verify, switch) left to the next cycle


def run_cycles(x: CycleInputs, *, depth: int, use_tvc: bool, keeps_drafting: bool,
               max_passes: int = 16, tol_s: float = 1e-9) -> CycleTotals:  # fmt: skip
    """Every cycle through the tandem recursion. A cycle's carry-in is its predecessor's
    carry-out from the previous pass; passes repeat, on the rows whose carry-in changed, until
    none does (a run of corrections passes work along a chain of cycles, one per pass)."""
    rows = x.run.size
    npu_in, pim_in, bonus = np.zeros(rows), np.zeros(rows), np.zeros(rows, bool)
    everything = np.arange(rows)
    out = _pass(x, everything, depth, use_tvc, keeps_drafting, npu_in, pim_in, bonus)
    for _ in range(max_passes - 1):
        new_npu = np.where(x.first, 0.0, np.roll(out.npu_carry, 1))
        new_pim = np.where(x.first, 0.0, np.roll(out.pim_carry, 1))
        new_bonus = ~x.first & np.roll(out.corrected, 1)
        redo = (np.abs(new_npu - npu_in) > tol_s) | (np.abs(new_pim - pim_in) > tol_s)
        redo |= new_bonus != bonus
        if not redo.any():
            break
        npu_in, pim_in, bonus = new_npu, new_pim, new_bonus
        sub = np.flatnonzero(redo)
        part = _pass(x, sub, depth, use_tvc, keeps_drafting, npu_in[sub], pim_in[sub], bonus[sub])
        merged = {}
        for name in CycleTotals.__dataclass_fields__:
            col = getattr(out, name).copy()
            col[sub] = getattr(part, name)
            merged[name] = col
        out = CycleTotals(**merged)
    return out


class _State:
    """The live rows' tasks and tallies; finished rows are dropped from time to time."""

    TALLIES = tuple(CycleTotals.__dataclass_fields__)
    TASKS = ("pk", "pj", "pl", "nk", "nj", "nl", "nd", "drafted_n", "q", "waiting", "blocked",
             "done", "bonus", "row", "rates")  # fmt: skip

    def __init__(self, rows: np.ndarray, bonus: np.ndarray) -> None:
        n = rows.size
        for name in self.TALLIES:
            setattr(self, name, np.zeros(n, bool) if name == "corrected" else np.zeros(n))
        for name in ("pk", "pj", "nk", "nj", "nd", "drafted_n", "q"):
            setattr(self, name, np.zeros(n, np.int64))
        self.pl, self.nl = np.zeros(n), np.zeros(n)
        self.waiting, self.blocked, self.done = (
            np.zeros(n, bool),
            np.zeros(n, bool),
            np.zeros(n, bool),
        )
        self.bonus, self.row = bonus.copy(), rows.copy()
        self.slot = np.arange(n)  # position of each live row in the output
        self.out = {name: np.zeros(n, bool) if name == "corrected" else np.zeros(n)
                    for name in self.TALLIES}  # fmt: skip

    def compact(self, x: CycleInputs) -> None:
        """Close the finished rows (cut what is in flight), write their tallies out and keep
        only the live ones."""
        fin = self.done
        _cut_in_flight(x, self, fin)
        for name in self.TALLIES:
            self.out[name][self.slot[fin]] = getattr(self, name)[fin]
        keep = ~fin
        for name in (*self.TALLIES, *self.TASKS, "slot"):
            setattr(self, name, getattr(self, name)[keep])


def _pass(x: CycleInputs, rows: np.ndarray, depth, use_tvc, keeps, npu_in, pim_in,
          bonus) -> CycleTotals:  # fmt: skip
    """One pass of the recursion over ``rows`` (row indices), with the given carries in."""
    width = x.sizes.shape[1]
    ends = np.cumsum(x.sizes, axis=1)
    st = _State(rows, bonus)
    go_on_stop = use_tvc and keeps
    # each row's rate while its PIM task of each kind overlaps a verification
    st.rates = np.ones((rows.size, 7))
    st.rates[:, DRAFT], st.rates[:, PV] = x.r_dv[rows], x.r_pv[rows]
    for kind in (SW_TO, SW_BACK, SW_CORR):
        st.rates[:, kind] = x.r_sw[rows]

    def start_draft(i: np.ndarray) -> None:  # i: state indices
        i = i[(st.pk[i] == IDLE) & ~st.waiting[i] & (st.nd[i] < width)]
        if i.size == 0:
            return
        r, j = st.row[i], st.nd[i]
        keep = x.sizes[r, j] > 0
        i, r, j = i[keep], r[keep], j[keep]
        full = st.drafted_n[i] - st.q[i] >= depth
        st.blocked[i[full]] = True
        i, r, j = i[~full], r[~full], j[~full]
        st.pk[i], st.pj[i] = DRAFT, j
        st.pl[i] = x.sizes[r, j] * x.draft_s[r]
        st.nd[i] = j + 1

    def start_verify(i: np.ndarray) -> None:
        i = i[(st.nk[i] == IDLE) & (st.q[i] < st.drafted_n[i])]
        if i.size == 0:
            return
        r, j = st.row[i], st.q[i]
        # committed before the batch: its first token was confirmed by the previous batch's
        # bonus (or, for the chain's first batch after a correction, by the cut verification)
        head = (j == 0) & ~st.bonus[i]
        secs, joules = x.costs.verify(r, x.sizes[r, j] + head)
        st.nk[i], st.nj[i], st.nl[i] = VERIFY, j, secs
        st.joules[i] += joules
        st.q[i] = j + 1
        st.verifies[i] += 1
        unblock = i[st.blocked[i]]
        if unblock.size:
            st.blocked[unblock] = False
            start_draft(unblock)

    has_npu = npu_in > 0
    st.nk[has_npu], st.nl[has_npu] = RESIDUAL, npu_in[has_npu]
    has_pim = pim_in > 0
    st.pk[has_pim], st.pl[has_pim] = RESIDUAL, pim_in[has_pim]
    start_draft(np.flatnonzero(~has_pim))
    live_at_compact = rows.size
    for _ in range(8 * width + 64):
        done = st.done
        if done.any() and done.sum() * 2 > live_at_compact:
            st.compact(x)
            live_at_compact = st.row.size
            done = st.done
        if st.row.size == 0 or done.all():
            break
        r, pk, nk = st.row, st.pk, st.nk
        pim_on, npu_on = pk != IDLE, nk != IDLE
        rate = np.where(npu_on, st.rates[np.arange(r.size), pk], 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            te_p = np.where(pim_on, st.pl / rate, np.inf)
            te_n = np.where(npu_on, st.nl / rate, np.inf)
        npu_first = te_n <= te_p
        dt = np.minimum(te_p, te_n)
        dt[done] = 0.0
        stall = ~np.isfinite(dt)
        if stall.any():  # nothing left to run: the recorded chain ended early (rare)
            done |= stall
            dt[stall] = 0.0
        st.seconds += dt
        step = rate * dt
        st.pl -= step  # an idle lane's figure is not read until a task starts there
        st.nl -= step
        drafting, pv_on = pk == DRAFT, pk == PV
        st.draft_busy += dt * drafting
        st.pv_busy += dt * pv_on
        st.npu_busy += dt * npu_on
        st.overlap_dv += dt * (drafting & npu_on)
        st.overlap_pv += dt * (pv_on & npu_on)
        live = ~done
        # --- an NPU task ends -------------------------------------------------------------
        ne = np.flatnonzero(live & npu_first)
        if ne.size:
            kinds = nk[ne]
            squash = (kinds == VERIFY) & (st.nj[ne] == x.last[r[ne]])
            # after a correction the cut batch's verification commits the chain's first
            # token; if that token's draft is wrong too (k = 0) the chain is squashed there
            squash |= (kinds == RESIDUAL) & st.bonus[ne] & (x.run[r[ne]] == 0)
            nk[ne] = IDLE
            done[ne[squash]] = True
            cont = ne[~squash]
            st.waiting[cont] = False
            start_verify(cont)
            start_draft(cont)
            st.npu_gaps[cont] += nk[cont] == IDLE
        # --- a PIM task ends ----------------------------------------------------------------
        pe = np.flatnonzero(live & ~npu_first)
        if pe.size == 0:
            continue
        kinds = pk[pe]
        pk[pe] = IDLE
        d = pe[kinds == DRAFT]
        if d.size:
            rd, j = r[d], st.pj[d]
            size = x.sizes[rd, j]
            st.drafted[d] += size
            st.joules[d] += size * x.draft_j[rd]
            st.drafted_n[d] = j + 1
            st.batches[d] += 1
            start_verify(d)
            stop = x.stops[rd, j]
            pv = stop & (x.pv_n[rd, j] > 0)
            go = d[pv]
            pk[go], st.pl[go] = SW_TO, x.switch_s[rd[pv]]
            st.joules[go] += x.switch_j[rd[pv]]
            st.switches[go] += 1
            on = ~stop | (~pv & go_on_stop)
            start_draft(d[on])
            st.waiting[d[stop & ~pv & ~on]] = True
        s = pe[kinds == SW_TO]
        if s.size:
            rs = r[s]
            n = x.pv_n[rs, st.pj[s]]
            secs, joules = x.costs.preverify(rs, n)
            pk[s], st.pl[s] = PV, secs
            st.joules[s] += joules
            st.preverifies[s] += 1
            st.pv_tokens[s] += n
        p = pe[kinds == PV]
        if p.size:
            rp = r[p]
            busy_end = np.where(nk[p] == VERIFY, ends[rp, np.minimum(st.nj[p], width - 1)], 0)
            hit = x.pv_hit[rp, st.pj[p]] & (x.run[rp] >= busy_end)
            pk[p] = np.where(hit, SW_CORR, SW_BACK)
            st.pl[p] = x.switch_s[rp]
            st.joules[p] += x.switch_j[rp]
            st.switches[p] += 1
        start_draft(pe[(kinds == SW_BACK) | (kinds == RESIDUAL)])
        c = pe[kinds == SW_CORR]
        if c.size:
            done[c] = True
            st.corrected[c] = True
            mask = np.zeros(r.size, bool)
            mask[c] = True
            _leave_to_next(x, st, mask, ends)
        st.pim_gaps[pe] += (pk[pe] == IDLE) & ~done[pe]
    st.done[:] = True
    st.compact(x)
    return CycleTotals(**st.out)


def _cut_in_flight(x: CycleInputs, st: _State, fin: np.ndarray) -> None:
    """A squash cuts the batch in flight (its done fraction is drafted and wasted); a
    pre-verification or switch in flight finishes first and delays the next chain."""
    r, pk = st.row, np.where(fin, st.pk, IDLE)
    cut = (pk == DRAFT) & ~st.corrected
    rc, j = r[cut], st.pj[cut]
    size = x.sizes[rc, j]
    frac = 1.0 - st.pl[cut] / (size * x.draft_s[rc])
    st.drafted[cut] += size * frac
    st.joules[cut] += size * frac * x.draft_j[rc]
    late = ~st.corrected & (pk != DRAFT) & (pk != IDLE)
    switching = late & ((pk == SW_TO) | (pk == PV))  # stale: back to the draft's ranks
    st.pim_carry[late] = (st.pl + np.where(switching, x.switch_s[r], 0.0))[late]
    st.pv_busy += np.where(late & (pk == PV), st.pl, 0.0)
    st.joules += np.where(switching, x.switch_j[r], 0.0)
    st.switches += switching


def _leave_to_next(x: CycleInputs, st: _State, rows: np.ndarray, ends: np.ndarray) -> None:
    """A correction ends the cycle on PIM's side; the verifications still due (the one running,
    the queued batches up to the one holding the rejected token, cut after it) go to the next."""
    r = st.row[rows]
    width = x.sizes.shape[1]
    left = np.where(st.nk[rows] != IDLE, st.nl[rows], 0.0)
    hold = np.argmax(ends[r] > x.run[r][:, None], axis=1)  # the batch holding k
    q = st.q[rows]
    secs, joules, count = left.copy(), np.zeros(r.size), np.zeros(r.size)
    for j in range(width):  # queued batches before the one holding k verify in full
        due = (j >= q) & (j < hold)
        if not due.any():
            continue
        head = (j == 0) & ~st.bonus[rows][due]
        s, e = x.costs.verify(r[due], x.sizes[r[due], j] + head)
        secs[due] += s
        joules[due] += e
        count[due] += 1
    begin = np.where(hold > 0, ends[r, np.maximum(hold - 1, 0)] + 1, np.where(st.bonus[rows], 1, 0))
    s, e = x.costs.verify(r, np.maximum(x.run[r] + 1 - begin, 0) + 1)
    st.npu_carry[rows] = secs + s
    st.joules[rows] += joules + e
    st.verifies[rows] += count + 1
