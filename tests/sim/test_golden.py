"""Golden runs: speed work must not move any number (tests/data/golden.py says how to regenerate).

Every value of ``Result.to_dict()`` but ``version`` (and the recorded timeline of the timeline
cases) is compared bit for bit: floats by their exact binary value, ints as ints.
"""

from __future__ import annotations

import json

import pytest

from tests.data.golden import CASES, GOLDEN, SYSTEM_NAMES, run_case

STORED = json.loads(GOLDEN.read_text())


def differences(got, want, path: str = "") -> list[str]:
    """Paths where ``got`` and ``want`` differ in structure, type or exact value."""
    if type(got) is not type(want):
        return [f"{path}: {type(got).__name__} {got!r} != {type(want).__name__} {want!r}"]
    if isinstance(got, dict):
        out = [f"{path}.{k}: missing" for k in want.keys() - got.keys()]
        out += [f"{path}.{k}: unexpected" for k in got.keys() - want.keys()]
        for k in sorted(want.keys() & got.keys()):
            out += differences(got[k], want[k], f"{path}.{k}")
        return out
    if isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: length {len(got)} != {len(want)}"]
        pairs = enumerate(zip(got, want, strict=True))
        return [d for i, (g, w) in pairs for d in differences(g, w, f"{path}[{i}]")]
    if isinstance(got, float):
        return [] if got.hex() == want.hex() else [f"{path}: {got!r} != {want!r}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def test_cases_cover_every_system_and_are_stored():
    from ahasd.systems import SYSTEMS

    assert tuple(sorted(SYSTEMS.names())) == SYSTEM_NAMES
    assert set(STORED) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_run_is_bit_identical(name):
    diff = differences(run_case(CASES[name]), STORED[name])
    assert not diff, f"{name}: {len(diff)} values changed, e.g.\n" + "\n".join(sorted(diff)[:20])


def test_differences_sees_one_ulp_and_type():
    want = {"a": [1.0, 2], "b": {"c": 0.0}}
    assert differences(json.loads(json.dumps(want)), want) == []
    one_ulp = {"a": [1.0000000000000002, 2], "b": {"c": 0.0}}
    assert differences(one_ulp, want) == [".a[0]: 1.0000000000000002 != 1.0"]
    assert sorted(differences({"a": [1.0, 2.0], "b": {"c": -0.0}}, want)) == [
        ".a[1]: float 2.0 != int 2",
        ".b.c: -0.0 != 0.0",
    ]
