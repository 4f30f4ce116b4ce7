#!/bin/sh
# PST/OST reading benchmark: kairos (examples/mail_bench.rs, release build)
# beside libpff's own pffexport on the same samples.
#
# Usage: sh exchange/bench/pst_bench.sh [SAMPLE...]   (run from the workspace root)
# Default samples: the four largest of ../shared/samples/pst.
# Prints kairos' TSV (file, bytes, step, ms, pages_read, pages_total, items),
# then one line per sample with pffexport's wall time for
#   pffexport -m items -f all   (allocated items only, like list+export)
#   pffexport -m all -f all     (also the recovery scan)
set -eu
samples=${SAMPLES_DIR:-../shared/samples/pst}
[ $# -gt 0 ] || set -- "$samples/aspose_SampleOstFile.ost" "$samples/aspose_Outlook.pst" \
  "$samples/aspose_passwordprotectedPST.pst" "$samples/pstsdk_sample1.pst"
cargo build -q --release -p kairos-exchange --example mail_bench
target=${CARGO_TARGET_DIR:-target}
"$target/release/examples/mail_bench" "$@"
echo
printf 'file\tpffexport_items_s\tpffexport_all_s\n'
for f in "$@"; do
  for mode in items all; do
    d=$(mktemp -d)
    /usr/bin/time -f '%e' -o "$d/t" pffexport -q -m "$mode" -f all -t "$d/x" "$f" >/dev/null 2>&1 || true
    eval "t_$mode=\$(cat \"\$d/t\")"
    rm -rf "$d"
  done
  printf '%s\t%s\t%s\n' "$(basename "$f")" "$t_items" "$t_all"
done
