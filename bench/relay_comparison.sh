#!/usr/bin/env bash
# The relay's cost beside rtpengine's, in one run on this machine: bench/bridged.sh (calls
# bridged through centralino) and bench/rtpengine.sh (the same calls relayed by rtpengine in
# userspace), one after the other with the same meters, and the packets each relays per
# CPU-second (issue 18: centralino at least as many as rtpengine).
#
#   bench/relay_comparison.sh [--calls 1000] [--window 20]  (other options: see the two scripts)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CALLS=1000 WINDOW=20
while (($#)); do
    case "$1" in
        --calls) CALLS="$2"; shift 2 ;;
        --window) WINDOW="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
OUT="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-comparison.XXXXXX")"
"$BENCH_DIR/bridged.sh" --calls "$CALLS" --window "$WINDOW" 2>&1 | tee "$OUT/centralino.txt" || true
"$BENCH_DIR/rtpengine.sh" --calls "$CALLS" --window "$WINDOW" 2>&1 | tee "$OUT/rtpengine.txt" || true
per_packet() { grep -o 'CPU per relayed packet [0-9.]*' "$1" | awk '{ print $5 }'; }
C="$(per_packet "$OUT/centralino.txt")" R="$(per_packet "$OUT/rtpengine.txt")"
[[ -n "$C" && -n "$R" ]] || die "a run did not report (see $OUT)"
awk -v c="$C" -v r="$R" 'BEGIN {
    printf "\n=== relay comparison ===\ncentralino %.2f us per relayed packet (%.0f packets per CPU-second)\nrtpengine  %.2f us per relayed packet (%.0f packets per CPU-second)\nRESULT     %s: centralino relays %.2fx the packets per CPU-second of rtpengine\n",
        c, 1e6 / c, r, 1e6 / r, (c <= r) ? "PASS" : "MISS", r / c }' | tee "$OUT/summary.txt"
