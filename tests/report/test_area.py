import pytest

from ahasd.report import area


def test_logic_area_from_bits_and_gates():
    # 100 flip-flops = 400 NAND2, + 100 gates = 500 NAND2 x 0.05 um2 / 0.7 density
    assert area.logic_mm2(100, 100) == pytest.approx(500 * 0.05 / 0.7 * 1e-6)


def test_area_items_cover_every_addition():
    items = area.area_items()
    assert [i.unit for i in items] == ["AAU", "EDC", "TVC", "queues", "GTSU"]
    assert all(i.area_mm2 > 0 for i in items)
    assert area.total_mm2(items) == pytest.approx(sum(i.area_mm2 for i in items))


def test_queue_depth_scales_queue_area():
    small = {i.unit: i for i in area.area_items(queue_depth=8)}["queues"]
    big = {i.unit: i for i in area.area_items(queue_depth=64)}["queues"]
    assert big.bits - small.bits == 56 * area.QUEUE_ENTRY_BITS
    assert big.area_mm2 > small.area_mm2


def test_area_markdown_names_die_and_sources():
    md = area.area_markdown(area.area_items())
    assert "50 mm²" in md and "18 mm²" in md and "**total**" in md
