"""The HLS C++ kernel library (include/), its C++ unit drivers (tests/) and the g++ build."""
