#!/usr/bin/env bash
# Durable ticket creations through the HTTP API under concurrent clients, on each store side by
# side in one run:
#   redb       one engine on the embedded store (fsync'd group commits);
#   postgres   two engines (two nodes of a center) on one PostgreSQL database, the clients split
#              between them.
# For --duration seconds per store, wrk (bench/tickets.lua) opens tickets as operator mrossi over
# --connections keep-alive connections in all: each POST /api/tickets is answered 201 only once
# its ticket is committed. Afterwards the tickets in the store are counted through the API and
# must equal the 201 answers (nothing acknowledged is missing).
#
#   bench/tickets.sh [--store both|redb|postgres] [--connections 64] [--threads 2] [--duration 20]
#                    [--sip-port 15060]
#
# Target: >= 2 000 durable ticket creations per second on this machine, on each store.
# PostgreSQL: the cluster `main` is started (scripts/postgres.sh) and a throw-away database
# created and dropped; BENCH_PG names another server's maintenance database.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STORE=both CONNS=64 THREADS=2 DURATION=20 SIP_PORT=15060
while (($#)); do
    case "$1" in
        --store) STORE="$2"; shift 2 ;;
        --connections) CONNS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
case "$STORE" in both) STORES=(redb postgres) ;; redb|postgres) STORES=("$STORE") ;; *) die "--store both, redb or postgres" ;; esac
need_tools wrk cargo python3 psql

build_all
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-tickets.XXXXXX")"
NODE_PIDS=()
trap 'for p in "${NODE_PIDS[@]}"; do stop_pid "$p"; done; drop_bench_dbs' EXIT
log "work directory $WORK"

# phase STORE NODES [URL]: NODES engines on the store, the clients split between them.
phase() {
    local store="$1" nodes="$2" url="${3:-}" dir i
    local https=() pids=()
    for ((i = 0; i < nodes; i++)); do
        dir="$WORK/$store-$i"
        mkdir -p "$dir"
        ENGINE_EXTRA=(${url:+--store "$url"})
        start_engine "$dir" $((SIP_PORT + 2 * i))
        NODE_PIDS+=("$ENGINE_PID")
        pids+=("$ENGINE_PID")
        https+=("$(engine_http "$dir")")
    done
    log "$store: wrk, $CONNS connections over $nodes node(s), ${DURATION} s"
    local c0=0 c1=0 t0 t1 s0 s1 p
    for p in "${pids[@]}"; do c0=$(awk -v a="$c0" -v b="$(cpu_s "$p")" 'BEGIN { print a + b }'); done
    t0="$(date +%s.%N)" s0="$(sys_jiffies)"
    local wrks=()
    for ((i = 0; i < nodes; i++)); do
        wrk -t "$THREADS" -c $((CONNS / nodes)) -d "${DURATION}s" --latency --timeout 10s -s "$BENCH_DIR/tickets.lua" \
            "http://${https[$i]}/api/tickets" >"$WORK/$store-wrk-$i.out" 2>&1 &
        wrks+=($!)
    done
    for p in "${wrks[@]}"; do wait "$p" || die "wrk failed (see $WORK/$store-wrk-*.out)"; done
    for p in "${pids[@]}"; do c1=$(awk -v a="$c1" -v b="$(cpu_s "$p")" 'BEGIN { print a + b }'); done
    t1="$(date +%s.%N)" s1="$(sys_jiffies)"
    local total=0 non2xx=0 n
    for ((i = 0; i < nodes; i++)); do
        n="$(awk '/requests in/ { print $1 }' "$WORK/$store-wrk-$i.out")"; total=$((total + n))
        n="$(awk '/Non-2xx/ { print $NF }' "$WORK/$store-wrk-$i.out")"; non2xx=$((non2xx + ${n:-0}))
    done
    local ok=$((total - non2xx)) stored size
    # Counted through the last node: with PostgreSQL, what every node acknowledged.
    stored="$(python3 - "${https[$((nodes - 1))]}" <<'PY'
import base64, http.client, json, sys
c = http.client.HTTPConnection(sys.argv[1], timeout=300)
c.request("GET", "/api/tickets/summary", headers={"Authorization": "Basic " + base64.b64encode(b"admin:demo-admin").decode()})
print(sum(n for by_status in json.loads(c.getresponse().read()).values() for n in by_status.values()))
PY
)"
    if [[ -n "$url" ]]; then
        size="$(psql "$url" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    else
        size="$(du -h "$WORK/$store-0/data/cases.redb" | cut -f1)"
    fi
    for p in "${pids[@]}"; do stop_pid "$p"; done
    {
        echo
        echo "--- $store: $nodes node(s), $CONNS connections, ${DURATION} s"
        for ((i = 0; i < nodes; i++)); do
            grep -E "Requests/sec|^ +Latency |^ +50%|^ +99%|Non-2xx|Socket errors" "$WORK/$store-wrk-$i.out" | sed "s/^/wrk $i     /"
        done
        awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v n="$nodes" \
            'BEGIN { printf "engines   CPU %.1f%% of one core (%d node(s) together)\n", 100 * (b - a) / (t1 - t0), n }'
        echo "          machine $(sys_busy "$s0" "$s1"); store $size"
        awk -v s="$store" -v ok="$ok" -v stored="$stored" -v secs="$DURATION" 'BEGIN {
            rate = ok / secs; pass = (rate >= 2000 && stored >= ok)
            printf "RESULT    %s %s: %.0f durable ticket creations/s (target >= 2000), %s acknowledged, %s stored\n",
                s, pass ? "PASS" : "MISS", rate, ok, stored }'
    } >>"$WORK/summary.txt"
}

{ echo; echo "=== tickets: $CONNS connections, ${DURATION} s per store ==="; echo "machine   $(machine_line)"; } >"$WORK/summary.txt"
for store in "${STORES[@]}"; do
    case "$store" in
        redb) phase redb 1 ;;
        postgres) create_bench_db tickets; phase postgres 2 "$BENCH_DB_URL" ;;
    esac
done
echo "files     $WORK" >>"$WORK/summary.txt"
cat "$WORK/summary.txt"
! grep -q '^RESULT.* MISS' "$WORK/summary.txt"
