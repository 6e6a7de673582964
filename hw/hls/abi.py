"""The kernel's and the C bridge's interface: schedule table, status codes, config words.

The host (hw/sched makes the table; host/ backends call the kernel or the csim library)
and the rendered C++ (sbf_config.h) both take these lists from here.
"""

from __future__ import annotations

ABI_VERSION = 1
KERNEL = "sbf_encoder"
# The top function's memory ports (m_axi, one bundle each) and scalar ports (s_axilite).
M_AXI_PORTS = ("schedule", "act_in", "act_out", "image", "status")
SCALAR_PORTS = ("n_seq", "n_layers")
# One schedule entry per sequence, int32 words: where its tokens start in the packed
# activation buffers (tokens of all sequences back to back, no padding), its real
# length, its length bucket (index into bucket_edges) and its configuration: the number
# of keys its attention keeps per query (<= attn_k of the design).
SCHEDULE_FIELDS = ("token_offset", "length", "bucket", "topk")
# Per-sequence status words the kernel writes (0: done).
STATUS_CODES = {
    "ok": 0,
    "bad_image": -1,
    "bad_length": -2,
    "bad_bucket": -3,
    "bad_topk": -4,
    "bad_layers": -5,
}
# What `sbf_describe` reports, in order, so a host can check a library against its config.
DESCRIBE_FIELDS = ("abi_version", "bo", "bi", "m", "tile_tokens", "hidden", "heads", "ffn",
                   "layers", "max_length", "attn_k", "n_buckets", "schedule_words")


def status_name(code: int) -> str:
    """The name of a status code, for error messages."""
    for name, c in STATUS_CODES.items():
        if c == code:
            return name
    return f"unknown status {code}"
