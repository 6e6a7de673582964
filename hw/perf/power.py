"""A power estimate from a design's resources: the card's static power plus dynamic power
per used resource, linear in the clock.

The per-resource figures are ASSUMED order-of-magnitude values for 16 nm UltraScale+ at
a 12.5% toggle rate (logic with its routing, a DSP48E2 with its pipeline registers, a
BRAM36 or URAM block read every cycle); they are not calibrated against the Xilinx Power
Estimator or a measured card, so every figure from this module is modeled from assumed
coefficients, and says so. Replace them with XPE figures of the synthesised design when
those exist.
"""

from __future__ import annotations

from typing import Any

REFERENCE_MHZ = 300.0
# Dynamic mW per used resource at REFERENCE_MHZ (assumed, see above).
DYNAMIC_MW = {"lut": 0.02, "ff": 0.005, "dsp": 1.5, "bram": 5.0, "uram": 8.0}
SOURCE = ("hw.perf.power: board static power (boards/*.yaml static_power_w) plus assumed "
          "per-resource dynamic power at 12.5% toggle, linear in the clock; not calibrated "
          "against XPE or a measured card")


def design_power(used: dict[str, float], clock_mhz: float, static_w: float) -> dict[str, Any]:
    """Watts of a design using `used` resources (keys of DYNAMIC_MW; missing ones count 0)."""
    scale = clock_mhz / REFERENCE_MHZ
    dynamic = {k: used.get(k, 0) * mw * scale / 1e3 for k, mw in DYNAMIC_MW.items()}
    return {"static_w": static_w, "dynamic_w": dynamic,
            "total_w": static_w + sum(dynamic.values()), "figures": "modeled",
            "source": SOURCE}
