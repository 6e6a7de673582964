"""Simulation: the NumPy golden model and the cocotb checks of the RTL against it."""
