"""LP-Spec (ICCAD'25): the system driver, its cost split, tree pruning, DAU and comparison.

``system`` registers ``lpspec`` and ``lpspec-pim-si``; ``cost`` prices the column-split
operators, ``tree`` prunes the Medusa tree, ``dau`` balances NPU and PIM, ``compare`` holds the
published figures and the DAU table the report and CLI print.
"""

from ahasd.systems.lpspec.system import LpSpecOptions, simulate_lpspec

__all__ = ["LpSpecOptions", "simulate_lpspec"]
