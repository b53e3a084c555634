#!/bin/sh
# ktools' partitioned workflow (eve -n P N): N copies of a pipeline run in parallel, each on its
# own partition of the stream, and their outputs merged back into one. The script also runs the
# pipeline once, unpartitioned, and checks with cmp that both give the same bytes.
#
#   partition 1/N IN -> process -> OUT/part1.sls --+
#   ...                                            +-> merge --sort uniqueId -> to-csv > OUT/merged.csv
#   partition N/N IN -> process -> OUT/partN.sls --+
#
# Usage: partitions.sh IN OUTDIR [N]   (IN: a stream file; N defaults to 4)
# SLUICE names the sluice command (default: the checkout's dist/src/cli/main.js, else npx sluice).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# In a checkout of Sluice, its built CLI; elsewhere the sluice of the project (npx).
if [ -z "${SLUICE:-}" ]; then
  if [ -f "$HERE/../../dist/src/cli/main.js" ]; then SLUICE="node $HERE/../../dist/src/cli/main.js"; else SLUICE="npx sluice"; fi
fi
IN=$1
OUT=$2
N=${3:-4}
mkdir -p "$OUT"

# One pipeline, for comparison.
$SLUICE process -q -pf "$HERE/frame-stats.mjs" < "$IN" | $SLUICE to-csv > "$OUT/single.csv"

# N pipelines in parallel, one per partition.
pids=""
p=1
while [ "$p" -le "$N" ]; do
  $SLUICE partition "$p/$N" "$IN" | $SLUICE process -q -pf "$HERE/frame-stats.mjs" > "$OUT/part$p.sls" &
  pids="$pids $!"
  p=$((p + 1))
done
status=0
for pid in $pids; do wait "$pid" || status=1; done
[ "$status" -eq 0 ] || { echo "partitions: a partition failed" >&2; exit 1; }

parts=""
p=1
while [ "$p" -le "$N" ]; do
  parts="$parts $OUT/part$p.sls"
  p=$((p + 1))
done
# shellcheck disable=SC2086 # the part files are separate words
$SLUICE merge --sort uniqueId $parts | $SLUICE to-csv > "$OUT/merged.csv"

cmp "$OUT/single.csv" "$OUT/merged.csv"
echo "partitions: $N partitions merged give the same $(($(wc -l < "$OUT/merged.csv") - 1)) rows as one pipeline" >&2
