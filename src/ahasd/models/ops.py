"""Operator lists of one decoding step: what a device must compute and move.

A step processes ``n_tokens`` new tokens (queries) against ``kv_len`` cached positions; the
attention context is therefore ``kv_len + n_tokens``. Per-layer operators carry
``count = n_layers``; totals are per instance x count. Conventions:

* GEMM-like ops (gemm, lm-head, attention score/value) give ``m x k @ k x n`` and ``macs``;
  attention ops report one head's shape in m/n/k and all heads in ``macs``.
* Vector ops (softmax, norm, activation, elementwise) have ``macs = 0`` and ``m x n`` elements
  (see :func:`elements`).
* Byte counts are per instance: weights at the weight precision, activations and KV at
  :func:`~ahasd.models.shape.elem_bytes`. Biases are left out (< 0.1% of the bytes).
* Tree verification of n nodes costs the same dense work as a chain of n tokens (the tree is a
  mask over the same GEMMs); prefill computes logits for the last token only.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from ahasd.errors import field_error
from ahasd.models.shape import ModelShape, bytes_per_param, elem_bytes


class Phase(str, Enum):
    DRAFT = "draft"
    VERIFY = "verify"
    TREE = "tree"
    PREFILL = "prefill"


class OpKind(str, Enum):
    GEMM = "gemm"
    ATTN_SCORE = "attention-score"
    ATTN_VALUE = "attention-value"
    SOFTMAX = "softmax"
    NORM = "norm"
    ACTIVATION = "activation"
    ELEMENTWISE = "elementwise"
    LM_HEAD = "lm-head"


MATRIX_KINDS = frozenset({OpKind.GEMM, OpKind.ATTN_SCORE, OpKind.ATTN_VALUE, OpKind.LM_HEAD})
VECTOR_KINDS = frozenset(set(OpKind) - MATRIX_KINDS)


@dataclass(frozen=True, slots=True)
class Op:
    """One operator instance; totals are per instance x count."""

    name: str
    kind: OpKind
    m: int
    n: int
    k: int
    macs: int
    weight_bytes: int
    act_bytes: int
    kv_read_bytes: int
    kv_write_bytes: int
    count: int = 1


def elements(op: Op) -> int:
    """Elements a vector op touches (m x n); 0 for matrix ops."""
    return 0 if op.kind in MATRIX_KINDS else op.m * op.n


def _phase(phase: Phase | str) -> Phase:
    try:
        return Phase(phase)
    except ValueError:
        raise field_error("phase", phase, ", ".join(p.value for p in Phase)) from None


def _gemm(name, kind, m, n, k, wb, eb, count, kv_write=0) -> Op:
    return Op(name, kind, m, n, k, m * n * k, math.ceil(n * k * wb),
              math.ceil((m * k + m * n) * eb), 0, kv_write, count)  # fmt: skip


def _vec(name, kind, rows, cols, eb, count, weight_bytes=0) -> Op:
    return Op(name, kind, rows, cols, 1, 0, weight_bytes, math.ceil(2 * rows * cols * eb), 0, 0,
              count)  # fmt: skip


def _attention(s: ModelShape, m: int, ctx: int, eb: float) -> tuple[Op, Op, Op]:
    layers = s.n_layers
    macs = s.n_heads * m * ctx * s.head_dim
    kv_read = math.ceil(ctx * s.kv_dim * eb)  # K for the score, V for the value
    scores = math.ceil(s.n_heads * m * ctx * eb)
    q_bytes = math.ceil(m * s.q_dim * eb)
    score = Op("attn-score", OpKind.ATTN_SCORE, m, ctx, s.head_dim, macs, 0,
               q_bytes + scores, kv_read, 0, layers)  # fmt: skip
    softmax = _vec("softmax", OpKind.SOFTMAX, s.n_heads * m, ctx, eb, layers)
    value = Op("attn-value", OpKind.ATTN_VALUE, m, s.head_dim, ctx, macs, 0,
               scores + q_bytes, kv_read, 0, layers)  # fmt: skip
    return score, softmax, value


@lru_cache(maxsize=4096)
def _ops(shape: ModelShape, phase: Phase, n: int, kv_len: int, precision: str) -> tuple[Op, ...]:
    s, wb, eb, layers = shape, bytes_per_param(precision), elem_bytes(precision), shape.n_layers
    ctx = kv_len + n
    kv_write = math.ceil(n * 2 * s.kv_dim * eb)
    up_n = (2 if s.gated_ffn else 1) * s.ffn_hidden
    head_rows = 1 if phase is Phase.PREFILL else n
    ew = s.embed_width
    proj_in, proj_out = (), ()
    if s.embed_projected:  # OPT-350m: embeddings live at word_embed_proj_dim
        proj_in = (_gemm("embed-proj-in", OpKind.GEMM, n, s.hidden, ew, wb, eb, 1),)
        proj_out = (_gemm("embed-proj-out", OpKind.GEMM, head_rows, ew, s.hidden, wb, eb, 1),)
    return (
        _vec("embed", OpKind.ELEMENTWISE, n, ew, eb, 1, math.ceil(n * ew * wb)),
        *proj_in,
        _vec("attn-norm", OpKind.NORM, n, s.hidden, eb, layers),
        _gemm(
            "qkv-proj", OpKind.GEMM, n, s.q_dim + 2 * s.kv_dim, s.hidden, wb, eb, layers, kv_write
        ),  # fmt: skip
        *_attention(s, n, ctx, eb),
        _gemm("o-proj", OpKind.GEMM, n, s.hidden, s.q_dim, wb, eb, layers),
        _vec("residual-attn", OpKind.ELEMENTWISE, n, s.hidden, eb, layers),
        _vec("ffn-norm", OpKind.NORM, n, s.hidden, eb, layers),
        _gemm("ffn-up", OpKind.GEMM, n, up_n, s.hidden, wb, eb, layers),
        _vec("ffn-act", OpKind.ACTIVATION, n, s.ffn_hidden, eb, layers),  # incl. the gate product
        _gemm("ffn-down", OpKind.GEMM, n, s.hidden, s.ffn_hidden, wb, eb, layers),
        _vec("residual-ffn", OpKind.ELEMENTWISE, n, s.hidden, eb, layers),
        _vec("final-norm", OpKind.NORM, head_rows, s.hidden, eb, 1),
        *proj_out,
        _gemm("lm-head", OpKind.LM_HEAD, head_rows, s.vocab, ew, wb, eb, 1),
    )


def _as_int(value: object) -> object:
    return (
        int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    )


def ops_for_phase(
    shape: ModelShape,
    phase: Phase | str,
    n_tokens: int,
    kv_len: int,
    precision: str = "int8",
) -> tuple[Op, ...]:
    """Operators of one step (memoised). ``draft`` requires ``n_tokens == 1``."""
    ph = _phase(phase)
    n_tokens, kv_len = _as_int(n_tokens), _as_int(kv_len)  # numpy integers are fine
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 1:
        raise field_error("tokens", n_tokens, "an integer >= 1")
    if ph is Phase.DRAFT and n_tokens != 1:
        raise field_error("tokens", n_tokens, "1 for phase draft (one token per draft step)")
    if isinstance(kv_len, bool) or not isinstance(kv_len, int) or kv_len < 0:
        raise field_error("kv", kv_len, "an integer >= 0")
    bytes_per_param(precision)  # validates
    return _ops(shape, ph, n_tokens, kv_len, precision)


def total(ops: tuple[Op, ...], attr: str) -> int:
    """Sum of ``attr`` over the ops, times each op's count."""
    return sum(getattr(op, attr) * op.count for op in ops)
