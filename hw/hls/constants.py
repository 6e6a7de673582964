"""The golden model's constants as C++: rendered into `sbf_golden.h` for every build.

Why generated: the kernel library must use exactly the widths and constants of
sim/golden; rendering them from the Python modules leaves one definition, so a change in
the golden model reaches the C++ at the next render instead of silently diverging.
"""

from __future__ import annotations

from sim.golden import nonlinear, params, requant, sparse_attention

# (C++ name, the golden module, its attribute)
_SOURCES = (
    ("MULT_BITS", requant, "MULT_BITS"),
    ("SHIFT_MIN", requant, "SHIFT_MIN"),
    ("SHIFT_MAX", requant, "SHIFT_MAX"),
    ("ACT_BITS", params, "ACT_BITS"),
    ("RES_BITS", params, "RES_BITS"),
    ("GELU_IN_BITS", params, "GELU_IN_BITS"),
    ("SCORE_BITS", sparse_attention, "SCORE_BITS"),
    ("Q4_MAX", sparse_attention, "Q4_MAX"),
    ("NIBBLE_BITS", sparse_attention, "NIBBLE_BITS"),
    ("LUT_SIZE", sparse_attention, "LUT_SIZE"),
    ("EXP_MAX_SHIFT", nonlinear, "EXP_MAX_SHIFT"),
    ("PROB_BITS", nonlinear, "PROB_BITS"),
    ("PROB_MAX", nonlinear, "PROB_MAX"),
    ("SOFTMAX_RECIP_BITS", nonlinear, "SOFTMAX_RECIP_BITS"),
    ("LN_NORM_BITS", nonlinear, "LN_NORM_BITS"),
    ("LN_NORM_SAT_BITS", nonlinear, "LN_NORM_SAT_BITS"),
    ("LN_RECIP_BITS", nonlinear, "LN_RECIP_BITS"),
    ("LN_STD_MIN", nonlinear, "LN_STD_MIN"),
    ("ISQRT_MAX_ITERS", nonlinear, "ISQRT_MAX_ITERS"),
)


def golden_constants() -> list[dict[str, object]]:
    """Each constant with its value and where it is defined, for the header template."""
    return [{"name": name, "value": int(getattr(mod, attr)),
             "source": f"{mod.__name__}.{attr}"} for name, mod, attr in _SOURCES]


def estimate_lut() -> list[int]:
    """The 256-entry 4x4-bit product table of the attention estimate, in address order."""
    return [int(v) for v in sparse_attention.ESTIMATE_LUT]
