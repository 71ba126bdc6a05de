"""Says loudly when the peer-system tests were left out (see conftest.py)."""

from __future__ import annotations

import pytest

from tests.peers.conftest import READY


def test_simulator_layers_are_present():
    if not READY:
        pytest.skip("peer-system tests skipped: ahasd.policies / ahasd.traces (issue 3) missing")
