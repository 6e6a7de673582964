#!/usr/bin/env bash
# Installs the simulators that do not come from PyPI: Icarus Verilog from Debian.
# Best effort: without root or a package index the tests that need it skip and say why.
set -u
if command -v iverilog >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Icarus Verilog (apt-get install iverilog)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog) >/dev/null 2>&1 \
    || echo "warning: could not install iverilog; Icarus tests will be skipped"
else
  echo "note: iverilog not found; install it with 'sudo apt-get install iverilog' to run the Icarus tests"
fi
