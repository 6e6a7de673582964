"""CPU (and CUDA, when present) BERT latency and throughput on real GLUE length traces,
next to the modeled U200. The benchmark itself is `host/bench.py` (so that `sbf bench`
works from an installed package); this is its script entry point.

    python benchmarks/bench.py                 # writes benchmarks/results/bench.json + .png
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from host.bench import script_main  # noqa: E402

if __name__ == "__main__":
    script_main()
