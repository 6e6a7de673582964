"""Algorithms: model and data loading, HP pruning, sparse attention, buckets, quantization."""
