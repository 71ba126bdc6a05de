"""TVC slack arithmetic and its conservative insertion ([ahasd26] §4.3)."""

from __future__ import annotations

from ahasd.errors import AhasdError
from ahasd.policies.tvc import TVC, TvcConfig, after_edc

CFG = TvcConfig(seed_nvct=100.0, seed_pdct=300.0, seed_pvct=500.0, pim_per_npu_clock=0.8)


def test_storage_bits():
    assert TVC().storage_bits == 3 * 4 * 16 + 16
    assert TVC(TvcConfig(entry_bits=96)).storage_bits == 3 * 4 * 96 + 16


def test_slack_rule_with_seeded_tables():
    t = TVC(CFG)
    # C_NPU = 100 · 64 = 6400; NCR 1000 NPU cycles -> 800 PIM; minus one draft 300: left 5300
    assert t.slack(1000, 64) == 6400 - 800 - 300
    assert t.plan(1000, 64) == 5300 // 500
    assert t.plan(7000, 64) == 1  # 6400 - 5600 - 300 = 500: exactly one token
    assert t.plan(8000, 64) == 0  # the NPU is predicted to be done: no slack
    assert t.plan(6000, 64) == 2  # 6000 NPU = 4800 PIM: 6400 - 4800 - 300 = 1300 -> 2 tokens
    assert t.plan(7400, 64) == 0  # 6400 - 5920 - 300 = 180 < one pre-verified token


def test_tables_average_last_four_samples_and_convert_clock():
    t = TVC(CFG)
    for cyc in (1000, 2000, 3000, 4000):
        t.record_verify(cyc, 10)  # NPU cycles -> ×0.8 / L_KV
    assert t.nvct.mean() == (80 + 160 + 240 + 320) / 4
    t.record_verify(5000, 10)  # the oldest entry (80) drops out
    assert t.nvct.mean() == (400 + 160 + 240 + 320) / 4
    t.record_draft(900, 3)
    t.record_preverify(1000, 2)
    assert t.pdct.mean() == (300 * 3 + 300) / 4 and t.pvct.mean() == (500 * 3 + 500) / 4


def test_unseeded_tables_are_silent_until_measured():
    t = TVC(TvcConfig(seeded=False))
    assert t.plan(0, 100) == 0
    t.record_verify(1e6, 100)
    t.record_draft(1e3, 1)
    t.record_preverify(1e3, 1)
    assert t.plan(0, 100) == int((1e6 * 0.8 - 1e3) // 1e3)


def test_options_raw_ncr_and_cap():
    raw = TVC(CFG.model_copy(update={"ncr_domain": "raw"}))
    assert raw.slack(1000, 64) == 6400 - 1000 - 300
    capped = TVC(CFG.model_copy(update={"max_tokens": 8}))
    assert capped.plan(0, 1000) == 8
    assert (
        TVC(CFG).drafts_when_no_slack
        and not TVC(CFG.model_copy(update={"no_slack": "stop"})).drafts_when_no_slack
    )


def test_tvc_silent_unless_edc_stops():
    t = TVC(CFG)
    assert after_edc(t, True, 0, 64) == 0 and t.consultations == 0
    assert after_edc(t, False, 0, 64) == (6400 - 300) // 500 and t.consultations == 1
    assert after_edc(None, False, 0, 64) == 0


def test_r1_pending_batches_and_pvct_fallback_options():
    t = TVC(CFG.model_copy(update={"min_pending_batches": 2}))
    assert t.plan(0, 64, pending_batches=1) == 0  # artifact: only with >= 2 batches in flight
    assert t.plan(0, 64, pending_batches=2) == (6400 - 300) // 500
    try:
        t.plan(0, 64)
    except AhasdError as exc:
        assert "min_pending_batches" in str(exc)
    else:
        raise AssertionError("a driver without pending counts must not silently ignore the rule")
    cold = TVC(TvcConfig(seeded=False, pvct_fallback=0.8))
    cold.record_verify(10_000, 10)  # 800 PIM cycles per KV token
    cold.record_draft(100, 1)  # PDCT 100 -> fallback PVCT 80
    assert cold.plan(0, 10) == int((8000 - 100) // 80)
    assert TVC(TvcConfig(seeded=False)).plan(0, 10) == 0  # paper: no PVCT sample, no plan


def test_table_mean_is_recomputed_after_every_push_and_equals_a_plain_mean():
    import random

    from ahasd.policies.tvc import _Table

    rng = random.Random(5)
    for seed in (None, 3.0):
        table = _Table(4, seed)
        slots = [seed if seed is not None else 0.0] * 4
        filled = 4 if seed is not None else 0
        for i in range(40):
            v = rng.uniform(0.1, 9.0)
            table.push(v)
            slots[i % 4] = v
            filled = min(filled + 1, 4)
            want = sum(slots[:filled]) / filled  # the same slots in the same order
            assert table.mean() == want
            assert table.mean() == want  # asked again without a push: the same value
