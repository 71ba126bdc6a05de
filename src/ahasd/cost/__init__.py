"""Cost model: operator x device x placement -> seconds, joules, bound; memoised step tables."""

from ahasd.cost.engines import Cost
from ahasd.cost.memory import MemoryPlan, plan_memory
from ahasd.cost.model import PLACEMENTS, StepCost, op_cost, step_cost
from ahasd.cost.tables import StepCostTable

__all__ = [
    "PLACEMENTS",
    "Cost",
    "MemoryPlan",
    "StepCost",
    "StepCostTable",
    "op_cost",
    "plan_memory",
    "step_cost",
]
