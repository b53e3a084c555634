#!/bin/sh
# Figure 3 of ktools' overview, multiple output processing: one stream into several processes at
# once through named pipes (mkfifo), `sluice tee` copying the stream to each, so several outputs
# are made in one pass:
#
#                                   +-> fifo1 -> process (frame statistics) -> to-csv > OUT/stats.csv
#   replay IN -> tee fifo1 fifo2 ---+-> fifo2 -> save OUT/frames.h5
#                                   +-> stdout -> filter -f uniqueId,timeStamp -> to-json > OUT/ids.jsonl
#
# Usage: multiple-outputs.sh IN OUTDIR. SLUICE names the sluice command (default: the checkout's
# dist/src/cli/main.js, else npx sluice).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# In a checkout of Sluice, its built CLI; elsewhere the sluice of the project (npx).
if [ -z "${SLUICE:-}" ]; then
  if [ -f "$HERE/../../dist/src/cli/main.js" ]; then SLUICE="node $HERE/../../dist/src/cli/main.js"; else SLUICE="npx sluice"; fi
fi
IN=$1
OUT=$2
mkdir -p "$OUT"
rm -f "$OUT/fifo1" "$OUT/fifo2"
mkfifo "$OUT/fifo1" "$OUT/fifo2"
trap 'rm -f "$OUT/fifo1" "$OUT/fifo2"' EXIT

# The readers first (each blocks opening its pipe until tee opens it for writing).
$SLUICE process -q -pf "$HERE/frame-stats.mjs" < "$OUT/fifo1" > "$OUT/stats.sls" &
stats=$!
$SLUICE save "$OUT/frames.h5" "$OUT/fifo2" &
save=$!

# --block: every output gets every value (without it, a slow output misses values instead of
# holding the others back).
$SLUICE replay "$IN" |
  $SLUICE tee --block "$OUT/fifo1" "$OUT/fifo2" |
  $SLUICE filter -f uniqueId,timeStamp |
  $SLUICE to-json > "$OUT/ids.jsonl"

status=0
wait "$stats" || status=1
wait "$save" || status=1
$SLUICE to-csv "$OUT/stats.sls" > "$OUT/stats.csv"
echo "multiple outputs: $OUT/stats.csv, $OUT/frames.h5, $OUT/ids.jsonl" >&2
exit "$status"
