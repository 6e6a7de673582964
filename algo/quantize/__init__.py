"""Quantization: calibrate static scales, convert a float BERT to the integer model, store it."""
