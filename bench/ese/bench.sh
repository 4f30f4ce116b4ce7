#!/usr/bin/env bash
# Records per second of `kairos ese dump` vs libesedb's `esedbexport` on the
# biggest ESE samples. Prints a TSV: file, tool, tables, records, seconds,
# records_per_s.
#
# Usage: bench/ese/bench.sh [RUNS]     (default 3 runs, median reported)
# Needs: a release build (cargo build --release -p kairos-cli; the script
# builds it), esedbexport (Debian package libesedb-utils), GNU time.
# Both tools read from and write to a tmpfs work dir, so this is CPU cost.
set -euo pipefail
RUNS=${1:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SAMPLES=${SAMPLES:-$ROOT/../shared/samples/ese}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d "${TMPDIR:-/dev/shm}/kairos-ese-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The `kairos ese dump` code path is `kairos_ese::export_table`; the crate's
# example `ese_tables FILE TABLE` runs exactly that without the rest of the
# CLI. Use the kairos binary when it builds, else the example (when another
# crate of the workspace is mid-change). Both are release builds.
if cargo build --release -q -p kairos-cli --manifest-path "$ROOT/Cargo.toml" 2>/dev/null; then
    TOOL="kairos ese dump"
    list() { "$TARGET/release/kairos" ese tables "$1" 2>/dev/null | awk -F'\t' 'NR>2 {print $1 "\t" $2}'; }
    dump() { "$TARGET/release/kairos" ese dump "$1" "$2" -o "$3" --force 2>/dev/null; }
else
    cargo build --release -q -p kairos-ese --example ese_tables --manifest-path "$ROOT/Cargo.toml"
    TOOL="export_table (example ese_tables)"
    list() { "$TARGET/release/examples/ese_tables" "$1" 2>/dev/null | awk -F'\t' '{print $1 "\t" $2}'; }
    dump() { "$TARGET/release/examples/ese_tables" "$1" "$2" > "$3" 2>/dev/null; }
fi

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf 'file\ttool\ttables\trecords\tseconds\trecords_per_s\n'
for gz in dfirmuseum_winsearch-w10-clean_Windows.edb.gz dfirmuseum_srum-w11-clean_SRUDB.dat dissect_large.edb.gz; do
    name=${gz%.gz}
    db=$WORK/$name
    if [[ $gz == *.gz ]]; then gunzip -c "$SAMPLES/$gz" > "$db"; else cp "$SAMPLES/$gz" "$db"; fi
    mapfile -t tables < <(list "$db" | cut -f1)
    records=$(list "$db" | awk -F'\t' '{s+=$2} END {print s}')

    times=()
    for _ in $(seq "$RUNS"); do
        start=$(date +%s.%N)
        for t in "${tables[@]}"; do
            dump "$db" "$t" "$WORK/out.tsv"
        done
        end=$(date +%s.%N)
        times+=("$(echo "$end - $start" | bc)")
    done
    s=$(printf '%s\n' "${times[@]}" | median)
    printf '%s\t%s\t%s\t%s\t%.3f\t%.0f\n' "$name" "$TOOL" "${#tables[@]}" "$records" "$s" "$(echo "$records / $s" | bc -l)"

    times=()
    ok=1
    for _ in $(seq "$RUNS"); do
        rm -rf "$WORK/export.export"
        start=$(date +%s.%N)
        esedbexport -t "$WORK/export" "$db" >/dev/null 2>&1 || ok=0
        end=$(date +%s.%N)
        times+=("$(echo "$end - $start" | bc)")
    done
    s=$(printf '%s\n' "${times[@]}" | median)
    exported=$(cat "$WORK"/export.export/* 2>/dev/null | wc -l)
    nfiles=$(ls "$WORK"/export.export 2>/dev/null | wc -l)
    # records esedbexport wrote = lines minus one header line per table file
    done_records=$((exported - nfiles))
    note=""; [[ $ok == 1 ]] || note=" (failed part-way)"
    printf '%s\tesedbexport%s\t%s\t%s\t%.3f\t%.0f\n' "$name" "$note" "$nfiles" "$done_records" "$s" "$(echo "$done_records / $s" | bc -l)"
done
