"""EDC walked through hand-made sequences ([ahasd26] §4.2)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ahasd.policies.edc import EDC, EdcConfig


def test_storage_bits_default_and_scaled():
    assert EDC().storage_bits == 8 * 3 + 8 * 3 + 3 + 512 * 2
    assert EDC(EdcConfig(counter_bits=3)).storage_bits == 8 * 3 + 8 * 3 + 3 + 512 * 3


def test_bucket_quantisation_over_h_max():
    e = EDC(EdcConfig(h_max=8.0))
    assert [e.bucket(h) for h in (0.0, 0.99, 1.0, 3.5, 7.99, 8.0, 50.0)] == [0, 0, 1, 3, 7, 7, 7]


def test_index_formation_is_older_newer_llr():
    e = EDC(EdcConfig(h_max=8.0))
    for bid, h in enumerate([7.5, 7.5, 7.5, 7.5]):  # four batches in bucket 7, none verified
        e.after_batch(bid, h)
    # newest four = bucket 7 (mean 7), older four = 0; LLR = 4
    assert e.leht == [7, 7, 7, 7, 0, 0, 0, 0]
    assert e.llr == 4
    assert e.index() == (0 << 6) | (7 << 3) | 4
    for bid in range(4, 8):
        e.after_batch(bid, 2.5)  # bucket 2 pushes the 7s into the older half
    assert e.index() == (7 << 6) | (2 << 3) | 7  # LLR saturates at 7 (3 bits)


@pytest.mark.parametrize("order", ["shift", "circular"])
def test_after_batch_index_from_kept_sums_matches_the_tables(order):
    """``index`` reads the halves' sums kept as entries move: they must equal the LEHT's."""
    e = EDC(EdcConfig(h_max=8.0, leht_order=order))
    for bid, h in enumerate([0.0, 7.9, 3.2, 9.0, 1.1, 5.5, 2.2, 6.6, 0.4, 4.4, 8.0, 3.3] * 3):
        e.after_batch(bid, h)
        assert e.pending[bid] == (e.index(), e.bucket(h))
        newer, older = sum(e.leht[:4]) // 4, sum(e.leht[4:]) // 4
        assert e.index() == (older << 6) | (newer << 3) | e.llr
        if bid % 5 == 4:  # verifications in between: commits and roll-backs of the LEHT
            e.on_verified(bid - 2, fully_accepted=bid % 3 != 0)


def test_counters_saturate_and_decide_continue():
    e = EDC()
    idx_seq = []
    for k in range(5):  # same state each time: predict, then reject
        assert e.after_batch(k, 0.0) is (k == 0)  # 2 (continue) -> 1 -> 0 (stop)
        idx_seq.append(e.pending[k][0])
        e.on_verified(k, False)
    assert len(set(idx_seq)) == 1 and e.pht[idx_seq[0]] == 0  # saturated at 0
    for k in range(5, 12):
        e.after_batch(k, 0.0)
        e.on_verified(k, True)
    assert e.pht[idx_seq[0]] == 3  # saturated at 3


def test_rollback_restores_committed_history():
    e = EDC(EdcConfig(h_max=8.0))
    e.after_batch(0, 1.5)  # bucket 1
    e.on_verified(0, True)  # commit bucket 1
    assert e.lceht[0] == 1
    e.after_batch(1, 6.5)
    e.after_batch(2, 6.5)
    assert e.leht[:3] == [6, 6, 1] and e.llr == 2
    e.on_verified(1, False)  # rejected: speculative history discarded
    assert e.leht == e.lceht and e.leht[0] == 1
    assert e.llr == 0 and e.pending == {}  # later batch 2 was squashed


def test_llr_decrement_option_and_recompute_index():
    e = EDC(EdcConfig(llr_on_reject="decrement", update_index="recompute"))
    e.after_batch(0, 0.0)
    e.after_batch(1, 0.0)
    e.on_verified(0, False)
    assert e.llr == 1 and 1 in e.pending
    # recompute: the counter updated is the one at the post-rollback index (LLR = 1)
    assert e.pht[e.index()] == 1


def test_commit_copy_leht_option():
    e = EDC(EdcConfig(commit="copy-leht", h_max=8.0))
    e.after_batch(0, 3.5)
    e.after_batch(1, 5.5)
    e.on_verified(0, True)
    assert e.lceht == e.leht  # [ahasd-artifact]: whole speculative LEHT copied on a full accept


def test_config_is_validated():
    with pytest.raises(ValidationError):
        EdcConfig(leht_order="random")
    with pytest.raises(ValidationError):
        EdcConfig(unknown=1)


def test_circular_order_writes_physical_slots():
    e = EDC(EdcConfig(leht_order="circular", h_max=8.0))
    for bid, h in enumerate([1.5, 2.5, 3.5]):
        e.after_batch(bid, h)
    assert e.leht[:3] == [1, 2, 3] and e.ptr == 3


def test_circular_commit_uses_its_own_pointer():
    e = EDC(EdcConfig(leht_order="circular", h_max=8.0))
    for bid, h in enumerate([1.5, 2.5, 3.5]):
        e.after_batch(bid, h)
        e.on_verified(bid, True)
    assert e.lceht[:3] == [1, 2, 3] and e.cptr == 3
    e.after_batch(3, 7.5)
    e.on_verified(3, False)  # rollback: LEHT <- LCEHT
    assert e.leht == [1, 2, 3, 0, 0, 0, 0, 0]


def test_hand_walk_prediction_training_and_lookahead_depth():
    """Three batches in flight, the middle one rejected: every field by hand (h_max = 8)."""
    e = EDC(EdcConfig(h_max=8.0))
    assert e.after_batch(0, 0.5) is True  # bucket 0, LLR 1, idx {0,0,1} = 1, ctr 2
    assert e.after_batch(1, 4.2) is True  # bucket 4, LLR 2; newer half mean (4+0+0+0)//4 = 1
    assert e.pending[1][0] == (0 << 6) | (1 << 3) | 2
    assert e.after_batch(2, 7.9) is True  # bucket 7, LLR 3; newer half (7+4+0+0)//4 = 2
    assert e.pending[2][0] == (0 << 6) | (2 << 3) | 3
    e.on_verified(0, True)  # commit bucket 0; counter at idx 1 -> 3
    assert e.pht[1] == 3 and e.llr == 2 and e.lceht[0] == 0
    e.on_verified(1, False)  # rollback; counter at idx 10 -> 1; batch 2 squashed
    assert e.pht[(1 << 3) | 2] == 1 and e.llr == 0 and e.pending == {}
    assert e.leht == e.lceht == [0] * 8
    assert e.pht[(2 << 3) | 3] == 2  # the squashed batch's counter is untouched
    # the same look-ahead state now predicts "stop" once its counter drops below 2
    e.after_batch(3, 0.5)
    assert e.after_batch(4, 4.2) is False  # idx {0,1,2} = 10 holds 1
