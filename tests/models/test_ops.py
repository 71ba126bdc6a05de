"""Operator lists: shapes, byte counts and totals against hand arithmetic."""

from __future__ import annotations

import pytest

from ahasd.errors import AhasdError
from ahasd.models import OpKind, Phase, load_model, ops_for_phase, total

S7 = load_model("llama2-7b")


def _op(ops, name):
    return next(o for o in ops if o.name == name)


def test_verify_totals_match_hand_counts():
    n, kv = 8, 512
    ops = ops_for_phase(S7, "verify", n, kv)
    body = S7.params - 2 * S7.vocab * S7.hidden - S7.hidden  # no embeddings, no final norm
    linear = body - S7.n_layers * 2 * S7.hidden  # minus the per-layer norms
    attn = 2 * S7.n_layers * S7.n_heads * n * (kv + n) * S7.head_dim
    assert total(ops, "macs") == n * (linear + S7.vocab * S7.hidden) + attn
    # weights read: every linear layer + LM head + the gathered embedding rows (int8: 1 B/param)
    assert total(ops, "weight_bytes") == linear + S7.vocab * S7.hidden + n * S7.hidden
    assert total(ops, "kv_read_bytes") == 2 * S7.n_layers * (kv + n) * S7.kv_dim
    assert total(ops, "kv_write_bytes") == n * S7.kv_bytes_per_token("int8")


def test_op_fields_and_kinds():
    ops = ops_for_phase(S7, Phase.VERIFY, 4, 100, "fp16")
    qkv = _op(ops, "qkv-proj")
    assert (qkv.kind, qkv.m, qkv.n, qkv.k, qkv.count) == (OpKind.GEMM, 4, 3 * 4096, 4096, 32)
    assert qkv.weight_bytes == 2 * 3 * 4096 * 4096
    score = _op(ops, "attn-score")
    assert (score.m, score.n, score.k) == (4, 104, 128)
    assert _op(ops, "lm-head").kind is OpKind.LM_HEAD
    assert len({o.name for o in ops}) == len(ops)  # names are unique keys for op_engine maps


def test_prefill_only_last_token_logits_and_gqa_kv():
    ops = ops_for_phase(S7, "prefill", 128, 0)
    assert _op(ops, "lm-head").m == 1
    gqa = load_model("llama-3.2-1b")
    score = _op(ops_for_phase(gqa, "draft", 1, 99), "attn-score")
    assert score.kv_read_bytes == 100 * 8 * 64  # kv heads x head_dim x context, int8


def test_tree_costs_like_chain():
    assert ops_for_phase(S7, "tree", 5, 64) == ops_for_phase(S7, "verify", 5, 64)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("verify", 0, 10), "tokens: got 0"),
        (("draft", 2, 10), "tokens: got 2"),
        (("verify", 1, -1), "kv: got -1"),
        (("decode", 1, 0), "phase: got 'decode'"),
    ],
)
def test_bad_arguments(args, match):
    with pytest.raises(AhasdError, match=match):
        ops_for_phase(S7, *args)


def test_numpy_integers_are_accepted():
    import numpy as np

    assert ops_for_phase(S7, "verify", np.int64(3), np.int32(5)) == ops_for_phase(
        S7, "verify", 3, 5
    )
