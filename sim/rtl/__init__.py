"""RTL simulation: cocotb benches of the SystemVerilog engines in hw/rtl, checked against
the golden model, with the engines' exact cycle formulas (cycles.py) and `sbf sim`."""
