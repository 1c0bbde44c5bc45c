#!/usr/bin/env bash
# Durable ticket creations through the HTTP API under concurrent clients.
#
# Starts the engine on the shipped configuration with a fresh data directory, then wrk
# (bench/tickets.lua) opens tickets as operator mrossi over --connections keep-alive connections
# for --duration seconds: each POST /api/tickets is answered 201 only once its ticket is
# committed (fsync) in the redb store. Afterwards the tickets in the store are counted through
# the API and must equal the 201 answers (nothing acknowledged is missing).
#
#   bench/tickets.sh [--connections 64] [--threads 2] [--duration 20] [--sip-port 15060]
#
# Target (issue 5): >= 2 000 durable ticket creations per second on this machine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CONNS=64 THREADS=2 DURATION=20 SIP_PORT=15060
while (($#)); do
    case "$1" in
        --connections) CONNS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools wrk cargo python3

build_all
start_api_engine tickets "$SIP_PORT"

log "wrk: $CONNS connections, $THREADS threads, ${DURATION} s"
C0="$(cpu_s "$ENGINE_PID")" T0="$(date +%s.%N)" S0="$(sys_jiffies)"
wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --latency --timeout 10s -s "$BENCH_DIR/tickets.lua" \
    "http://$HTTP/api/tickets" >"$WORK/wrk.out" 2>&1 || die "wrk failed (see $WORK/wrk.out)"
C1="$(cpu_s "$ENGINE_PID")" T1="$(date +%s.%N)" S1="$(sys_jiffies)"
RSS="$(rss_kib "$ENGINE_PID")"

# Requests answered: wrk counts all; non-2xx are listed separately.
TOTAL="$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")"
NON2XX="$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk.out")"; NON2XX="${NON2XX:-0}"
OK=$((TOTAL - NON2XX))
STORED="$(python3 - "$HTTP" <<'PY'
import base64, http.client, json, sys
c = http.client.HTTPConnection(sys.argv[1], timeout=120)
c.request("GET", "/api/tickets", headers={"Authorization": "Basic " + base64.b64encode(b"mrossi:demo-mrossi").decode()})
r = c.getresponse()
print(len(json.loads(r.read())))
PY
)"
{
    echo
    echo "=== tickets: $CONNS connections, ${DURATION} s ==="
    echo "machine   $(machine_line)"
    grep -E "Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors" "$WORK/wrk.out" | sed 's/^/wrk       /'
    awk -v a="$C0" -v b="$C1" -v t0="$T0" -v t1="$T1" 'BEGIN { printf "engine    CPU %.1f%% of one core\n", 100 * (b - a) / (t1 - t0) }'
    echo "          machine $(sys_busy "$S0" "$S1"); RSS $((RSS / 1024)) MiB; store $(du -h "$WORK/data/cases.redb" | cut -f1)"
    echo "store     $OK tickets acknowledged (201), $STORED in the store after the run"
    awk -v ok="$OK" -v stored="$STORED" -v secs="$DURATION" 'BEGIN {
        rate = ok / secs; pass = (rate >= 2000 && stored >= ok)
        printf "RESULT    %s: %.0f durable ticket creations/s (target >= 2000), %s acknowledged, %s stored\n", pass ? "PASS" : "MISS", rate, ok, stored }'
    echo "files     $WORK"
} | tee "$WORK/summary.txt"
grep -q '^RESULT    PASS' "$WORK/summary.txt"
