#!/usr/bin/env bash
# Engine micro-benchmarks through the release binary's library, via the
# `engine_bench` example: write-event ingest of a 1 % version (the shim
# path), point reads at 10 vs 100 000 versions of one block, restore.
#
#   bash bench/engine-micro.sh            # prints a TSV
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo run --release -p kairos-engine --example engine_bench -- "${@}"
