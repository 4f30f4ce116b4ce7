#!/usr/bin/env bash
# Times the Exchange EDB generator (release build) at 8 KiB and 32 KiB pages,
# with and without column compression, and esedbexport reading the result.
# Usage: sample-data/bench/gen_edb.sh [BULK_MESSAGES]   (default 20000)
set -euo pipefail
bulk="${1:-20000}"
here="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../target}"
cargo build -q --release -p kairos-sample-data --example gen_edb
bin="$CARGO_TARGET_DIR/release/examples/gen_edb"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '| page size | compress | messages | file MiB | generate s | MiB/s | esedbexport s |\n|---|---|---|---|---|---|---|\n'
for ps in 8192 32768; do
  for comp in "" "--compress"; do
    out="$tmp/g$ps$comp.edb"
    t0=$(date +%s.%N)
    "$bin" "$out" --page-size "$ps" --bulk "$bulk" $comp 2>/dev/null
    t1=$(date +%s.%N)
    esedbexport -t "$tmp/x$ps$comp" "$out" >/dev/null 2>&1
    t2=$(date +%s.%N)
    msgs=$(python3 -c "import json,sys; m=json.load(open('$out.manifest.json')); print(sum(t['records'] for t in m['tables'] if t['name'].startswith('Message_')))")
    mib=$(python3 -c "print(round($(stat -c %s "$out")/1048576, 1))")
    gen=$(python3 -c "print(round($t1-$t0, 2))")
    rate=$(python3 -c "print(round($mib/max($t1-$t0,1e-9), 1))")
    exp=$(python3 -c "print(round($t2-$t1, 2))")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$ps" "${comp:+yes}" "$msgs" "$mib" "$gen" "$rate" "$exp"
  done
done
