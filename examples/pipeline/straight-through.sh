#!/bin/sh
# Figure 2 of ktools' overview, straight-through processing: one chain of stages in memory,
# one output file at the end, no disk in between.
#
#   replay IN -> process (frame statistics) -> filter -> to-csv > OUT/stats.csv
#
# Usage: straight-through.sh IN OUTDIR   (IN: a recorded stream, an HDF5 file of sluice save, ...)
# SLUICE names the sluice command (default: the checkout's dist/src/cli/main.js, else npx sluice).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# In a checkout of Sluice, its built CLI; elsewhere the sluice of the project (npx).
if [ -z "${SLUICE:-}" ]; then
  if [ -f "$HERE/../../dist/src/cli/main.js" ]; then SLUICE="node $HERE/../../dist/src/cli/main.js"; else SLUICE="npx sluice"; fi
fi
IN=$1
OUT=$2
mkdir -p "$OUT"

$SLUICE replay "$IN" |
  $SLUICE process -q -pf "$HERE/frame-stats.mjs" |
  $SLUICE filter -f uniqueId,mean,max |
  $SLUICE to-csv > "$OUT/stats.csv"

echo "straight-through: $(($(wc -l < "$OUT/stats.csv") - 1)) rows in $OUT/stats.csv" >&2
