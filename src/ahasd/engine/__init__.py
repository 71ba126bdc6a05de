"""The real speculative-decoding engine (optional ``[engine]`` extra: torch, transformers).

Nothing in the simulator imports this package. Importing it without torch raises one clear
:class:`~ahasd.errors.AhasdError`; transformers is imported lazily inside the loader.
"""

from __future__ import annotations

from ahasd.errors import AhasdError

INSTALL_HINT = "install the [engine] extra: pip install -e '.[engine]'"

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise AhasdError(f"ahasd.engine needs torch; {INSTALL_HINT}") from exc

from ahasd.engine.decode import GenerationResult, generate, target_only  # noqa: E402
from ahasd.engine.loading import ModelPair, load_pair  # noqa: E402
from ahasd.engine.sampling import SamplingConfig  # noqa: E402

__all__ = [
    "INSTALL_HINT",
    "GenerationResult",
    "ModelPair",
    "SamplingConfig",
    "generate",
    "load_pair",
    "target_only",
]
