"""The emulation backend end to end: the rendered C-simulation library through the host's
buffers equals the golden model bit for bit, in the caller's order, on a small design."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from host.accelerator import Accelerator, QuantizedHostModel
from hw.config import DesignConfig

SEED = 0
# One token, a partial tile, every bucket, the maximum, out of order; more than one call.
LENGTHS = [7, 1, 24, 3, 16, 9, 8, 17, 2]
MAX_BATCH = 4


@pytest.fixture(scope="module")
def small() -> tuple[DesignConfig, QuantizedHostModel, list[np.ndarray]]:
    from hw.hls.synthetic import SMALL, synthetic_model

    model = QuantizedHostModel(synthetic_model(SMALL))
    rng = np.random.default_rng(SEED)
    vocab = model.float_model.config.vocab_size
    ids = [rng.integers(1, vocab, n) for n in LENGTHS]
    return SMALL, model, ids


def test_emulation_is_bit_exact_with_golden(small, tmp_path: Path) -> None:
    from hw.render import render

    cfg, model, ids = small
    render(cfg, model.qmodel, tmp_path)
    with Accelerator(model, tmp_path, "emulation", max_batch=MAX_BATCH) as acc:
        res = acc.run_ids(ids)
        assert acc.backend.name == "emulation"
    types = [np.zeros_like(i) for i in ids]
    golden = model.golden(model.embed(ids, types), LENGTHS, cfg)
    assert np.array_equal(res.packed_hidden, golden)
    assert res.kernel_calls == -(-len(LENGTHS) // MAX_BATCH)
    assert np.array_equal(res.logits, model.head(golden, LENGTHS))
    assert [h.shape[0] for h in res.hidden] == LENGTHS


def test_emulation_renders_a_design_when_none_is_given(small) -> None:
    cfg, model, ids = small
    with Accelerator(model.qmodel, None, "emulation", config=cfg) as acc:
        scratch = Path(acc._scratch.name)
        res = acc.run_ids(ids[:2])
    assert not scratch.exists()  # the on-the-fly design goes with the accelerator
    types = [np.zeros_like(i) for i in ids[:2]]
    assert np.array_equal(res.packed_hidden,
                          model.golden(model.embed(ids[:2], types), LENGTHS[:2], cfg))
