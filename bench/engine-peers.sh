#!/usr/bin/env bash
# Runs the shared peer benchmark (../shared/bench/peers.sh) with a kairos row,
# using a release build of the CLI. Our CLI matches the interface peers.sh
# expects (init / --store S capture FILE --stream db / restore S --at T -o OUT),
# so no hook file is needed.
#
#   bash bench/engine-peers.sh                      # 1 GiB, 10 versions, 1 %
#   SIZE_MIB=256 VERSIONS=4 bash bench/engine-peers.sh
#   TOOLS="restic borg-fixed8k" bash bench/engine-peers.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
peers=${PEERS:-$root/../shared/bench/peers.sh}
target=${CARGO_TARGET_DIR:-$root/target}
if [ -z "${KAIROS_BIN:-}" ]; then
  (cd "$root" && cargo build --release -p kairos-cli >&2)
  export KAIROS_BIN="$target/release/kairos"
fi
export TOOLS="${TOOLS:-restic borg-fixed8k}"
exec bash "$peers"
