#!/usr/bin/env bash
# The runs behind docs/accuracy.md, as two lanes that share benchmarks/results/accuracy.json
# (rows are written under a lock, and a rerun skips rows already there and resumes
# half-done training from its checkpoint). On 2 cores run both lanes at once, one torch
# thread each:
#     benchmarks/accuracy_runs.sh small &  benchmarks/accuracy_runs.sh sst2 &  wait
# small: MRPC, RTE, STS-B, CoLA on their whole train splits, 3 epochs dense + 2 of pruning.
# sst2:  SST-2 on its whole train split, 1 epoch dense + 1 of pruning.
# diagnosis: MRPC and STS-B at 80% and 50% with the small lane's schedule, pruned to each
#        mask structure (unstructured, fine level only, blocks only, HP): docs/pruning.md.
set -euo pipefail
cd "$(dirname "$0")/.."
lane=${1:?usage: $0 small|sst2|diagnosis}
PY=(nice -n 5 .venv/bin/python benchmarks/accuracy.py --threads 1 --lr 1e-4
    --candidates 4 --candidate-steps 40 --spread 0.3)
small() {  # task max_length variants sparsities...
  local task=$1 length=$2 variants=$3; shift 3
  "${PY[@]}" --tasks "$task" --train-examples 0 --epochs 3 --prune-epochs 2 \
      --max-length "$length" --variants dense $variants --sparsities "$@"
}
sst2() {  # variants sparsities...
  local variants=$1; shift
  "${PY[@]}" --tasks SST-2 --train-examples 0 --epochs 1 --prune-epochs 1 --max-length 64 \
      --variants dense $variants --sparsities "$@"
}
SMALL=("MRPC 128" "RTE 128" "STS-B 128" "CoLA 64")
case $lane in
  small)
    for t in "${SMALL[@]}"; do small $t "uniform searched" 0.8; done
    for s in 0.9 0.5 0.7; do for t in "${SMALL[@]}"; do small $t uniform $s; done; done
    for s in 0.9 0.5 0.7; do for t in "${SMALL[@]}"; do small $t searched $s; done; done ;;
  sst2)
    sst2 "uniform searched" 0.8
    sst2 uniform 0.9 0.5 0.7
    sst2 searched 0.9 0.5 0.7 ;;
  diagnosis)
    for t in "MRPC 128" "STS-B 128"; do
      small $t uniform 0.8 0.5 --structures unstructured fine blocks hp
    done ;;
  *) echo "unknown lane '$lane' (small, sst2 or diagnosis)" >&2; exit 2 ;;
esac
