"""Edge speculative decoding on a CPU + GPU SoC: the planner, the event driver, the comparison.

``plan`` ranks every (draft device, target device, γ) mapping with the analytic model,
``hetero`` registers ``edge-hetero`` and runs a mapping on the event kernel, ``compare`` lines
the two up for the report and ``ahasd edge-plan``.
"""

from ahasd.systems.edge import hetero as hetero  # noqa: F401  (registers "edge-hetero")
