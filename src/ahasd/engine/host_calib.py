"""Micro-benchmarks that calibrate the ``host-cpu`` cost model for the real engine.

Never the timings of the model under test (the edge-SD method calibrates the device, then predicts
the model; [edgesd] §III):

* weight streaming: torch fp32 ``linear`` over fixed generic matrices, at several working-set
  sizes (which exposes the cache level) and token widths (1 token takes the matrix-vector path,
  2+ tokens the packed GEMM path of the BLAS library);
* framework overhead: a *miniature* of the model's architecture (the same class, layer count and
  engine path; tiny widths and random weights), whose step time is almost all framework work.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ahasd.hardware.devices import rate_at

# Fixed generic (out, in) fp32 shapes, never the model's own: small-to-mid layer sizes of every
# aspect ratio, at most 1 MiB each so that the smallest working set holds several of them.
STREAM_SHAPES: tuple[tuple[int, int], ...] = (
    (256, 256), (512, 256), (256, 512), (512, 512), (1024, 256), (256, 1024),
)  # fmt: skip
STREAM_SIZES_MIB: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)
STREAM_WIDTHS: tuple[int, ...] = (1, 2, 4, 8)
MINI_HEAD_DIM = 8  # the miniature's widths: heads x 8 hidden, 16 intermediate, <= 512 vocab
MINI_INTERMEDIATE = 16
MINI_VOCAB = 512


def step_clock() -> Any:
    """The clock that times passes and steps: this thread's CPU time when torch runs one thread
    (a busy host's preemptions then drop out, leaving what an idle host would take), else wall
    time (other threads' work would be missing from this thread's CPU time)."""
    return time.thread_time if torch.get_num_threads() == 1 else time.perf_counter


def _median_s(fn, min_calls: int, budget_s: float) -> float:
    """Median seconds of ``fn()`` over at least ``min_calls`` calls and ``budget_s`` seconds."""
    times: list[float] = []
    spent = 0.0
    clock = step_clock()
    while len(times) < min_calls or spent < budget_s:
        t0 = clock()
        fn()
        times.append(clock() - t0)
        spent += times[-1]
    return statistics.median(times)


def _generic_weights(
    nbytes: int, shapes: tuple[tuple[int, int], ...]
) -> tuple[list[torch.Tensor], list[int]]:
    """Matrices cycling through ``shapes`` until they hold ``nbytes``, and cumulative bytes."""
    mats: list[torch.Tensor] = []
    ends: list[int] = []
    while not ends or ends[-1] < nbytes:
        out_f, in_f = shapes[len(mats) % len(shapes)]
        mats.append(torch.ones(out_f, in_f, dtype=torch.float32))
        ends.append((ends[-1] if ends else 0) + out_f * in_f * 4)
    return mats, ends


def _call_s(width: int) -> float:
    """Median seconds of a tiny 8 x 8 ``linear`` call: per-call cost, not streaming."""
    w, x = torch.ones(8, 8), torch.ones(width, 8)
    return _median_s(lambda: torch.nn.functional.linear(x, w), 200, 0.0)


def _spin(seconds: float) -> None:
    """Busy-wait without touching memory of ours (the gap between two reuses of a weight)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _stream_rate(
    mats: list[torch.Tensor],
    width: int,
    budget_s: float,
    call_s: float,
    gap_s: float = 0.0,
    min_calls: int = 3,
) -> float:
    """Bytes/s of applying every matrix once to a ``(width, in)`` input (median pass, less
    ``call_s`` per call), each pass after ``gap_s`` of spinning; one untimed pass first."""
    xs = {w.shape[1]: torch.ones(width, w.shape[1]) for w in mats}
    nbytes = sum(w.numel() * 4 for w in mats)

    def one_pass() -> None:
        for w in mats:
            torch.nn.functional.linear(xs[w.shape[1]], w)

    times: list[float] = []
    spent = 0.0
    clock = step_clock()
    with torch.inference_mode():
        one_pass()
        while len(times) < min_calls or spent < budget_s:
            _spin(gap_s)
            t0 = clock()
            one_pass()
            times.append(clock() - t0)
            spent += times[-1] + gap_s
    gross = statistics.median(times)
    return nbytes / max(gross - len(mats) * call_s, 0.5 * gross)


def measure_stream_curve(
    budget_s: float,
    *,
    sizes_mib: tuple[int, ...] = STREAM_SIZES_MIB,
    widths: tuple[int, ...] = STREAM_WIDTHS,
    shapes: tuple[tuple[int, int], ...] = STREAM_SHAPES,
) -> dict[int, dict[int, float]]:
    """Bytes/s at which torch fp32 ``linear`` streams weights: ``{width: {size_mib: rate}}``.

    Matrices cycle through ``shapes`` until they hold the working set; one pass applies each of
    them once to a ``(width, in)`` input, back to back, so a set that fits a cache is re-read
    from it. The median pass within the point's share of the budget (at least three) gives
    bytes / seconds, after taking off the passes' per-call cost (a tiny 8 x 8 ``linear``): that
    is framework overhead, which the miniature charges (:func:`miniature_lm`). Runs at
    torch's current thread count, the run's own.
    """
    if not budget_s > 0:
        raise ValueError(f"budget_s: got {budget_s}; accepted: a number > 0")
    mats, ends = _generic_weights(max(sizes_mib) * 2**20, shapes)
    share = budget_s / (len(sizes_mib) * len(widths))
    curve: dict[int, dict[int, float]] = {b: {} for b in widths}
    for b in widths:
        call_s = _call_s(b)
        for size in sizes_mib:
            k = next(i for i, e in enumerate(ends) if e >= size * 2**20) + 1
            curve[b][size] = _stream_rate(mats[:k], b, share, call_s)
    return curve


def measure_retained_rates(
    nbytes: float,
    gap_s: float,
    budget_s: float,
    *,
    widths: tuple[int, ...] = STREAM_WIDTHS,
    shapes: tuple[tuple[int, int], ...] = STREAM_SHAPES,
) -> dict[int, float]:
    """Per width, bytes/s of re-streaming an ``nbytes`` set of generic matrices after ``gap_s``.

    Why: consecutive decode steps reuse a weight one step later, not back to back. On a host
    whose last-level cache is shared (a VM beside busy neighbours), lines decay within a
    millisecond: on the 2-core development VM a 6 MiB set streamed at 30-37 GB/s back to back,
    24-33 GB/s after a 0.3 ms spin and 6-9 GB/s, DRAM speed, after 1 ms
    (``benchmarks/bench_cache_retention.py``). :func:`predict_steps` passes the step's own
    predicted framework time as the gap, so this stays a micro-benchmark of the host over generic
    matrices, with no timing of the model under test in it.
    """
    mats, _ = _generic_weights(int(nbytes), shapes)
    share = budget_s / len(widths)
    return {b: _stream_rate(mats, b, share, _call_s(b), gap_s, min_calls=9) for b in widths}


def time_step(lm: Any, kv_len: int, n_tokens: int, reps: int) -> float:
    """Median seconds of one ``n_tokens`` step at KV length ``kv_len`` (rolled back each time),
    by :func:`step_clock` on a CPU."""
    lm.reset()
    lm.step([1 + (i % 200) for i in range(kv_len)])
    toks = [7 + i for i in range(n_tokens)]
    times = []
    clock = step_clock() if lm.device.type == "cpu" else time.perf_counter
    for _ in range(reps + 2):
        t0 = clock()
        lm.step(toks)
        if lm.device.type == "cuda":
            torch.cuda.synchronize(lm.device)
        times.append(clock() - t0)
        lm.rollback(kv_len)
    return statistics.median(times[2:])


@dataclass(frozen=True, slots=True)
class MemoryLevels:
    """The host's streaming rates per token width (bytes, bytes/s), for the ``cpu`` fields."""

    cache_bytes: float  # 0: no cache level seen (the largest set streams as fast as the fastest)
    cache_bw: dict[int, float]  # width -> rate; empty without a cache level
    mem_bw: dict[int, float]


def memory_levels(curve: dict[int, dict[int, float]]) -> MemoryLevels:
    """Two levels from the curve: the cache is the largest working set that still streams at
    least half the fastest set's single-token rate; cache rates are the medians over the sets it
    holds, memory rates those of the largest set, each per width."""
    single = curve[1]
    sizes = sorted(single)
    top = max(single.values())
    mem = {b: per[sizes[-1]] for b, per in curve.items()}
    if single[sizes[-1]] >= 0.5 * top:
        return MemoryLevels(0.0, {}, mem)
    cache = max(s for s in sizes if single[s] >= 0.5 * top)
    held = [s for s in sizes if s <= cache]
    rates = {b: statistics.median(per[s] for s in held) for b, per in curve.items()}
    return MemoryLevels(cache * 2.0**20, rates, mem)


def miniature(model: Any) -> Any | None:
    """The model's architecture with tiny widths and random weights (seeded), or None.

    Same class, layer count, head counts, attention and RoPE settings, so the same engine path and
    the same number of kernels per step; hidden = heads x 8, intermediate 16, vocabulary at most
    512. None for configurations without the Llama-style width fields this knows how to shrink.
    """
    cfg = model.config
    need = ("hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers")
    if not all(isinstance(getattr(cfg, k, None), int) for k in need):
        return None
    d = cfg.to_dict()
    d.update(
        hidden_size=cfg.num_attention_heads * MINI_HEAD_DIM,
        head_dim=MINI_HEAD_DIM,
        intermediate_size=MINI_INTERMEDIATE,
        vocab_size=min(cfg.vocab_size, MINI_VOCAB),
        pad_token_id=None,
    )
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            mini = type(model)(type(cfg).from_dict(d))
    except Exception:  # noqa: BLE001 - an architecture this cannot shrink: caller falls back
        return None
    p = next(model.parameters())
    return mini.to(device=p.device, dtype=p.dtype).eval()


def miniature_lm(lm: Any) -> tuple[Any, Any] | None:
    """The model's miniature on the same engine path and its shape, or None (:func:`miniature`).

    Its arithmetic and memory traffic are a small part of its step time (``validate --json``
    reports it as ``*_miniature_priced_pct``; 1-3% for the demo pair), so its step time less that
    part, priced by the cost model from the shape, is the Python, dispatch and kernel-launch cost
    that the real step pays on top of the roofline. Without one, callers fall back to counting
    operators (:func:`dispatch_overhead`).
    """
    from ahasd.engine.kv import CachedLM
    from ahasd.models.shape import shape_from_config

    mini = miniature(lm.model)
    if mini is None:
        return None
    shape = shape_from_config(mini.config.to_dict(), "miniature")
    return CachedLM(mini, fast=lm.lean is not None), shape


def measure_dispatch_s(reps: int = 2000) -> float:
    """Seconds per tiny torch op (framework dispatch), a micro-benchmark independent of models."""
    x = torch.ones(4)
    for _ in range(100):
        x = x + 1.0
    clock = step_clock()
    t0 = clock()
    for _ in range(reps):
        x = x + 1.0
    return (clock() - t0) / reps


def count_framework_ops(lm: Any, kv_len: int) -> int:
    """How many aten ops one decode step dispatches: a structural count, not a timing."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            _Count.n += 1
            return func(*args, **(kwargs or {}))

    lm.reset()
    lm.step([1 + (i % 200) for i in range(kv_len)])
    with _Count():
        lm.step([5])
    lm.reset()
    return _Count.n


def dispatch_overhead(lm: Any, kv_len: int) -> float:
    """Fallback step overhead: one tiny op's dispatch times the aten ops a step runs."""
    return measure_dispatch_s() * count_framework_ops(lm, kv_len)


def host_calibration(calib_s: float, widths: tuple[int, ...] = ()) -> dict[str, Any]:
    """The host's micro-benchmarks (about 1.5 x calib_s seconds): the numpy fp32 GEMM rate (the
    one ``ahasd calibrate-host`` stores) and the torch-linear streaming curve at
    :data:`STREAM_WIDTHS` and ``widths`` tokens, with the two memory levels read from it
    (:func:`memory_levels`)."""
    from ahasd.hardware.host import measure_gemm_flops

    curve = measure_stream_curve(calib_s, widths=tuple(sorted(set(STREAM_WIDTHS) | set(widths))))
    return {
        "fp32_gflops": round(measure_gemm_flops(calib_s / 2) / 1e9, 3),
        "stream_gb_per_s": {
            b: {s: round(r / 1e9, 2) for s, r in per.items()} for b, per in curve.items()
        },
        "levels": asdict(memory_levels(curve)),
        "torch_threads": torch.get_num_threads(),
    }


def calibration_summary(cals: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over calibration rounds of the figures the platform takes, plus every round."""

    def med(values) -> float:
        return round(statistics.median(values), 4)

    def per_width(tables: list[dict[int, float]]) -> dict[int, float]:
        return {b: med(t[b] / 1e9 for t in tables) for b in tables[0]}

    out: dict[str, Any] = {"rounds": len(cals), "fp32_gflops": med(c["fp32_gflops"] for c in cals)}
    out["cache_mib"] = med(c["levels"]["cache_bytes"] / 2**20 for c in cals)
    cached = [c["levels"]["cache_bw"] for c in cals if c["levels"]["cache_bw"]]
    out["cache_bw_gb_per_s"] = per_width(cached) if cached else {}
    out["mem_bw_gb_per_s"] = per_width([c["levels"]["mem_bw"] for c in cals])
    for who in ("draft", "target"):
        key = f"{who}_overhead_ms"
        out[key] = {n: med(c[key][n] for c in cals) for n in cals[0][key]}
        out[f"{who}_overhead_method"] = cals[0][f"{who}_overhead_method"]
        key = f"{who}_cache_bw_after_step_gb_per_s"  # only rounds whose cache held the weights
        kept = [c[key] for c in cals if key in c]
        if kept:
            out[key] = {n: med(k[n] for k in kept if n in k) for n in kept[0]}
    out["per_round"] = cals
    return out


def host_platform(
    cal: dict[str, Any],
    overhead_s: float,
    shape: Any,
    kv_len: int,
    width: int = 1,
    cache_bw: dict[int, float] | None = None,
) -> Any:
    """``host-cpu`` for an ``width``-token step: the calibration's rates and ``overhead_s`` of
    framework work per step.

    The cost model charges ``op_sync`` per operator instance, so the step's overhead is spread
    evenly over its ``n_cm`` cost-model operators: op_sync = overhead_s / n_cm. The multi-token
    fields take the rate measured at this width (:func:`rate_at`). ``cache_bw`` (width -> bytes/s)
    replaces the back-to-back cache rates, e.g. with :func:`measure_retained_rates`.
    """
    from ahasd.hardware import load_platform
    from ahasd.models import ops_for_phase

    lv = cal["levels"]
    cache = cache_bw or lv["cache_bw"]
    n_cm = sum(op.count for op in ops_for_phase(shape, "verify", 1, kv_len, "fp32"))
    wide = max(width, 2)

    def gb(table: dict[int, float], w: int) -> float:
        return round(rate_at(table, w) / 1e9, 4) if table else 0.0

    over = {  # preset keys in YAML units
        "cpu.fp32_gflops": cal["fp32_gflops"],
        "cpu.mem_bw_gb_per_s": gb(lv["mem_bw"], 1),
        "cpu.multi_token_mem_bw_gb_per_s": gb(lv["mem_bw"], wide),
        "cpu.cache_mib": lv["cache_bytes"] / 2**20,
        "cpu.cache_bw_gb_per_s": gb(cache, 1),
        "cpu.multi_token_cache_bw_gb_per_s": gb(cache, wide),
        # this width's rates above, whatever tables a calibrated preset in $AHASD_HOME holds
        "cpu.multi_token_mem_bw_by_width_gb_per_s": {},
        "cpu.multi_token_cache_bw_by_width_gb_per_s": {},
        "cpu.op_sync_us": round(overhead_s * 1e6 / n_cm, 4),
    }
    return load_platform("host-cpu", overrides=over)


def predict_s(platform: Any, shape: Any, phase: str, n_tokens: int, kv_len: int) -> float:
    from ahasd.cost import step_cost

    return step_cost(
        platform,
        shape,
        placement="cpu",
        phase=phase,
        n_tokens=n_tokens,
        kv_len=kv_len,
        precision="fp32",
    ).seconds


@dataclass(frozen=True, slots=True)
class Prediction:
    draft_s: float  # one draft token
    verify_s: dict[int, float]  # n tokens -> seconds
    calibration: dict[str, Any]
    # the real steps, each timed right after its own calibration (``predict_steps(measure=True)``)
    measured_s: dict[tuple[str, int], float] = field(default_factory=dict)
    draft2_s: float = 0.0  # a two-token draft step (the catch-up after a full acceptance)

    def seconds(self, phase: str, n_tokens: int) -> float:
        if phase == "draft":
            return self.draft2_s if n_tokens == 2 else self.draft_s
        return self.verify_s[n_tokens]

    @property
    def catch_up_s(self) -> float:
        """What a two-token draft step takes beyond a one-token one (0: not predicted)."""
        return max(self.draft2_s - self.draft_s, 0.0) if self.draft2_s else 0.0


def predict_steps(
    draft: Any,
    target: Any,
    shapes: tuple[Any, Any],
    kv_len: int,
    widths: tuple[int, ...],
    *,
    calib_s: float,
    reps: int,
    overhead: bool = True,
    measure: bool = False,
    draft_widths: tuple[int, ...] = (1, 2),
    curve_widths: tuple[int, ...] = (),
) -> Prediction:
    """Cost-model step times for a draft/target pair of :class:`CachedLM`, calibrated here.

    The draft is predicted at ``draft_widths`` tokens: one, and two for the catch-up step that
    follows a fully accepted round.

    ``measure``: also time each real step (median of ``reps``) straight after the micro-benchmarks
    its prediction uses, so that both see the host in the same state (a shared host drifts by
    tens of percent within a second).

    ``curve_widths``: further widths the streaming curve measures (besides :data:`STREAM_WIDTHS`
    and ``widths``), for callers that price steps of those widths from the calibration.
    """
    cal = host_calibration(calib_s, (*widths, *curve_widths))
    preds: dict[tuple[str, int], float] = {}
    measured: dict[tuple[str, int], float] = {}
    models = (
        (draft, shapes[0], "draft", "draft", draft_widths),
        (target, shapes[1], "target", "verify", widths),
    )
    for lm, shape, name, phase, ns in models:
        mini = miniature_lm(lm) if overhead else None
        fallback = dispatch_overhead(lm, kv_len) if overhead and mini is None else 0.0
        method = "miniature" if mini is not None else "op count" if overhead else "off"
        cal[f"{name}_overhead_method"] = method
        cal[f"{name}_overhead_ms"] = {}
        footprint = shape.weight_bytes("fp32")
        for n in ns:
            # a draft step over n > 1 tokens (the catch-up) keeps the LM head for the last row
            # only: the cost model's prefill ops, which price the head for one row
            ph = "prefill" if phase == "draft" and n > 1 else phase
            over = fallback
            if mini is not None:
                # the miniature's own arithmetic and traffic are the cost model's to price: off
                mlm, mshape = mini
                took = time_step(mlm, kv_len, n, reps)
                priced = predict_s(host_platform(cal, 0.0, mshape, kv_len, n), mshape, ph, n,
                                   kv_len)  # fmt: skip
                over = max(took - priced, 0.0)
                share = round(100 * priced / took, 2)
                cal.setdefault(f"{name}_miniature_priced_pct", {})[n] = share
            cal[f"{name}_overhead_ms"][n] = round(over * 1e3, 4)
            retained = None
            if 0 < footprint <= cal["levels"]["cache_bytes"]:
                # weights come back one step later: the step's framework time apart
                retained = measure_retained_rates(
                    footprint, over, calib_s / 4 / len(ns), widths=tuple(sorted({1, n}))
                )
                cal.setdefault(f"{name}_cache_bw_after_step_gb_per_s", {})[n] = round(
                    retained[n] / 1e9, 3
                )
            plat = host_platform(cal, over, shape, kv_len, n, retained)
            preds[(phase, n)] = predict_s(plat, shape, ph, n, kv_len)
            if measure:  # consecutive steps, as decoding runs them (weights reused one step on)
                measured[(phase, n)] = time_step(lm, kv_len, n, reps)
    verify = {n: preds[("verify", n)] for n in widths}
    return Prediction(preds[("draft", 1)], verify, cal, measured, preds.get(("draft", 2), 0.0))
