#!/bin/sh
# Exchange EDB reading benchmark: generated mailbox databases (sample-data's
# gen_edb) read by kairos (examples/edb_bench.rs, release build), with
# libesedb's esedbexport dumping the same files' tables as a reference (it
# reads the ESE level only: no MAPI decoding, no EML).
#
# Usage: sh exchange/bench/edb_bench.sh [BULK...]   (run from the workspace root)
# Default: 2000 and 20000 bulk messages, 32 KiB pages, compressed columns.
set -eu
[ $# -gt 0 ] || set -- 2000 20000
cargo build -q --release -p kairos-exchange --example edb_bench
cargo build -q --release -p kairos-sample-data --example gen_edb
target=${CARGO_TARGET_DIR:-target}
dir=$(mktemp -d)
files=""
for n in "$@"; do
  "$target/release/examples/gen_edb" "$dir/bulk$n.edb" --bulk "$n" --compress >/dev/null
  files="$files $dir/bulk$n.edb"
done
# shellcheck disable=SC2086
"$target/release/examples/edb_bench" 32768 $files
echo
printf 'file\tesedbexport_s\n'
for f in $files; do
  /usr/bin/time -f '%e' -o "$dir/t" esedbexport -t "$dir/x" "$f" >/dev/null 2>&1 || true
  printf '%s\t%s\n' "$(basename "$f")" "$(cat "$dir/t")"
  rm -rf "$dir/x.export"
done
rm -rf "$dir"
