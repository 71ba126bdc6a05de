"""Greedy speculative output equals target-only greedy, token for token: every policy, chain and
tree, sync and async; KV rollback and tree masks reproduce full-forward logits."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ahasd.engine.async_decode import generate_async  # noqa: E402
from ahasd.engine.decode import generate, target_only  # noqa: E402
from ahasd.engine.kv import CachedLM  # noqa: E402
from ahasd.engine.sampling import SamplingConfig  # noqa: E402
from ahasd.errors import AhasdError  # noqa: E402
from tests.engine.engine_helpers import all_policies, fixed, make, tiny_llama  # noqa: E402

pytestmark = pytest.mark.engine

PROMPT = [5, 9, 13, 2, 40, 7]
N = 32


@pytest.fixture(scope="module")
def reference(pair64):
    return target_only(pair64[1], PROMPT, max_new_tokens=N).tokens


@pytest.mark.parametrize("policy", all_policies())
@pytest.mark.parametrize("mode", ["chain", "tree"])
def test_greedy_sync_equals_target_greedy(pair64, reference, policy, mode):
    draft, target = pair64
    res = generate(draft, target, PROMPT, policy=make(policy), max_new_tokens=N, mode=mode)
    assert res.tokens == reference
    assert res.rounds < N  # some drafts were accepted: the check is not vacuous
    assert 0 <= res.accepted <= res.proposed


@pytest.mark.parametrize("policy", all_policies())
def test_greedy_async_equals_target_greedy(pair64, reference, policy):
    draft, target = pair64
    res = generate_async(draft, target, PROMPT, policy=make(policy), max_new_tokens=N)
    assert res.tokens == reference
    assert 0.0 <= res.extras["wasted_draft_fraction"] <= 1.0
    assert res.extras["drafted_tokens"] >= res.proposed


def test_async_with_edc_and_tvc_is_lossless(pair64, reference):
    pytest.importorskip("ahasd.policies.edc")
    pytest.importorskip("ahasd.policies.tvc")
    from ahasd.engine.run import controllers

    edc, tvc = controllers(True, True)
    draft, target = pair64
    res = generate_async(draft, target, PROMPT, policy=fixed(4), max_new_tokens=N, edc=edc,
                         tvc=tvc)  # fmt: skip
    assert res.tokens == reference


def test_identical_draft_accepts_everything(pair64):
    target = pair64[1]
    res = generate(target, target, PROMPT, policy=fixed(4), max_new_tokens=N)
    assert res.accepted == res.proposed
    assert res.tau > 4.5  # 5 tokens per round; the last round is truncated at N


def test_sampled_tree_and_async_run_with_processors(pair64):
    draft, target = pair64
    cfg = SamplingConfig(temperature=0.9, top_k=20, top_p=0.95, seed=3)
    a = generate(draft, target, PROMPT, policy=fixed(3), sampling=cfg, max_new_tokens=30,
                 mode="tree")  # fmt: skip
    b = generate_async(draft, target, PROMPT, policy=fixed(3), sampling=cfg, max_new_tokens=30)
    assert len(a.tokens) == len(b.tokens) == 30


def test_same_seed_same_sampled_output(pair64):
    draft, target = pair64
    cfg = SamplingConfig(temperature=1.0, seed=11)
    runs = [generate(draft, target, PROMPT, policy=fixed(3), sampling=cfg, max_new_tokens=25)
            for _ in range(2)]  # fmt: skip
    assert runs[0].tokens == runs[1].tokens


@pytest.mark.parametrize("fast", [True, False], ids=["lean", "hf"])
@pytest.mark.parametrize("kv_heads", [4, 2], ids=["mha", "gqa"])
def test_rollback_and_tree_mask_match_full_forward(fast, kv_heads):
    """Both KV backends reproduce Hugging Face's full (uncached) forward after rollback, tree
    steps and tree compaction; the lean path must be in use for a Llama."""
    model = tiny_llama(50, 32, 2, seed=4, kv_heads=kv_heads)
    with torch.no_grad():
        full = model(input_ids=torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])).logits[0]
    assert torch.allclose(CachedLM(model, fast=fast).step([1, 2, 3, 4, 5, 6]), full[:6], atol=1e-5)
    lm = CachedLM(model, fast=fast)
    assert (lm.lean is not None) == fast
    lm.step([1, 2, 3, 9, 9])
    lm.rollback(3)  # rejected tokens are squashed
    lm.begin_tree()
    a = lm.step_tree([4, 8], [-1, -1], [0, 0])
    b = lm.step_tree([5, 7], [0, 1], [1, 1])
    assert torch.allclose(a[0], full[3], atol=1e-5)
    assert torch.allclose(b[0], full[4], atol=1e-5)
    lm.keep(3, [0, 2])  # accepted path 4 -> 5
    assert lm.length == 5 == lm.cached_length
    assert torch.allclose(lm.step([6])[0], full[5], atol=1e-5)
    assert torch.allclose(lm.step([7, 8], last=True)[0], full[7], atol=1e-5)


def test_lean_cache_grows_past_its_first_buffer():
    model = tiny_llama(50, 32, 2, seed=5)
    ids = [(7 * i) % 50 for i in range(300)]
    with torch.no_grad():
        full = model(input_ids=torch.tensor([ids])).logits[0]
    lm = CachedLM(model)
    lm.step(ids[:250])
    assert lm.lean.capacity >= 250
    lm.rollback(240)
    assert torch.allclose(lm.step(ids[240:]), full[240:], atol=1e-4)


def test_empty_prompt_and_bad_mode_are_errors(pair64):
    draft, target = pair64
    with pytest.raises(AhasdError, match="prompt"):
        generate(draft, target, [], policy=fixed(2))
    with pytest.raises(AhasdError, match="mode"):
        generate(draft, target, PROMPT, policy=fixed(2), mode="star")


def test_async_queue_depth_below_one_is_an_error(pair64):
    """Depth 0 would leave the verifier waiting forever for a batch."""
    draft, target = pair64
    with pytest.raises(AhasdError, match="queue_depth"):
        generate_async(draft, target, PROMPT, policy=fixed(2), queue_depth=0)


def test_catch_up_steps_count_the_draft_steps_that_feed_two_tokens(pair64):
    """The draft sees its own last token and the bonus only after a fully accepted round: with
    the target as its own draft every round is, so every round but the first starts with one."""
    target = pair64[1]
    res = generate(target, target, PROMPT, policy=fixed(3), max_new_tokens=N)
    assert res.accepted == res.proposed and res.catch_up_steps == res.rounds - 1
    assert res.to_dict()["catch_up_steps"] == res.catch_up_steps
    mixed = generate(*pair64, PROMPT, policy=fixed(3), max_new_tokens=N)
    assert 0 <= mixed.catch_up_steps < mixed.rounds
    res = generate_async(target, target, PROMPT, policy=fixed(3), max_new_tokens=N)
    assert 0 <= res.catch_up_steps <= res.rounds
    assert 0 <= res.extras["overlapped_draft_steps"] <= res.extras["drafted_tokens"]
