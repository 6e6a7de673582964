"""Hierarchical pruning (HP): masks, the block-CSR storage format, and the artifact."""

from algo.hp.format import HPFormatError, HPMatrix, decode, encode, validate
from algo.hp.mask import HPShape, choose_m, hp_mask, is_hp_mask, split_density

__all__ = [
    "HPFormatError",
    "HPMatrix",
    "HPShape",
    "choose_m",
    "decode",
    "encode",
    "hp_mask",
    "is_hp_mask",
    "split_density",
    "validate",
]
