#!/usr/bin/env bash
# Ingest latency of single 4 KiB write events (the engine's share of the
# capture RPO), serial and with concurrent writers sharing one store, via
# the `ingest_latency` example (release build). The store goes to $WORK
# (default: the system temp dir, a real disk — fsync must cost what it costs).
#
#   bash bench/engine-latency.sh                    # 2000 events, 4 threads
#   bash bench/engine-latency.sh --events 5000 --threads 8
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo run --release -p kairos-engine --example ingest_latency -- "${@}"
