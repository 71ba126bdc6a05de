"""Model shapes from Hugging Face ``config.json`` and operator lists per decoding phase."""

from ahasd.models.ops import (
    MATRIX_KINDS,
    VECTOR_KINDS,
    Op,
    OpKind,
    Phase,
    elements,
    ops_for_phase,
    total,
)
from ahasd.models.shape import (
    PRECISIONS,
    ModelShape,
    bundled_info,
    bytes_per_param,
    elem_bytes,
    list_models,
    load_model,
    shape_from_config,
)

__all__ = [
    "MATRIX_KINDS",
    "PRECISIONS",
    "VECTOR_KINDS",
    "ModelShape",
    "Op",
    "OpKind",
    "Phase",
    "bundled_info",
    "bytes_per_param",
    "elem_bytes",
    "elements",
    "list_models",
    "load_model",
    "ops_for_phase",
    "shape_from_config",
    "total",
]
