#!/usr/bin/env bash
# The back office's and the wallboard's reads on a store that holds a long history.
#
# On each store in turn (--store both|redb|postgres; PostgreSQL: a throw-away database of the
# cluster `main`, see bench/tickets.sh), starts the engine on the shipped configuration and fills
# its store through the API until it holds --tickets tickets (bench/backoffice-fill.lua: tickets
# for Lazio, one in 500 for Lombardia). Then, for --duration seconds each, wrk reads what the pages read:
#   list     GET /api/tickets?status=open as officer pgallo (Lombardia): the back-office page's
#            load, a few hundred tickets among all the others;
#   summary  GET /api/tickets/summary as an administrator: the wallboard's tickets per region
#            and status, polled every 2 s by each wallboard.
# The list must return exactly Lombardia's open tickets.
#
#   bench/backoffice.sh [--store both] [--tickets 100000] [--duration 10] [--connections 16]
#                       [--threads 2] [--sip-port 15060]
#
# Target: with >= 100 000 tickets in the store, list p99 <= 50 ms and summary p99 <= 50 ms
# (16 clients reading without pause). BENCH_ENGINE=<binary> measures another build.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STORE=both TICKETS=100000 DURATION=10 CONNS=16 THREADS=2 SIP_PORT=15060
while (($#)); do
    case "$1" in
        --store) STORE="$2"; shift 2 ;;
        --tickets) TICKETS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --connections) CONNS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
case "$STORE" in both) STORES=(redb postgres) ;; redb|postgres) STORES=("$STORE") ;; *) die "--store both, redb or postgres" ;; esac
need_tools wrk cargo python3 psql

build_all
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-backoffice.XXXXXX")"
ENGINE_PID=""
trap 'stop_pid "$ENGINE_PID"; drop_bench_dbs' EXIT
log "work directory $WORK"

# What the store holds: the summary, and Lombardia's open list (checked against it).
store_figures() {
    python3 - "$HTTP" <<'PY'
import base64, http.client, json, sys
def get(path, who):
    c = http.client.HTTPConnection(sys.argv[1], timeout=300)
    c.request("GET", path, headers={"Authorization": "Basic " + base64.b64encode(who).decode()})
    return json.loads(c.getresponse().read())
summary = get("/api/tickets/summary", b"admin:demo-admin")
total = sum(n for by_status in summary.values() for n in by_status.values())
listed = get("/api/tickets?status=open", b"pgallo:demo-pgallo")
assert all(t["region"] == "lombardia" and t["status"] == "open" for t in listed), "another region's ticket listed"
print(total, summary.get("lombardia", {}).get("open", 0), len(listed))
PY
}

read_phase() { # name path user:password
    local auth
    auth="$(printf '%s' "$3" | base64)"
    wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --latency --timeout 10s -H "Authorization: Basic $auth" \
        "http://$HTTP$2" >"$WORK/$1.out" 2>&1 || die "wrk failed (see $WORK/$1.out)"
}
p99_ms() { awk '$1 == "99%" { v = $2; if (v ~ /us$/) v /= 1000; else if (v ~ /ms$/) v += 0; else if (v ~ /s$/) v *= 1000; print v + 0 }' "$1"; }

# phase STORE [URL]
phase() {
    local store="$1" url="${2:-}" dir="$WORK/$1" total=0 lombardia listed size
    mkdir -p "$dir"
    ENGINE_EXTRA=(${url:+--store "$url"})
    start_engine "$dir" "$SIP_PORT"
    HTTP="$(engine_http "$dir")"
    while ((total < TICKETS)); do
        log "$store: $total tickets; filling for 10 s"
        wrk -t 2 -c 64 -d 10s --timeout 10s -s "$BENCH_DIR/backoffice-fill.lua" "http://$HTTP/api/tickets" \
            >"$WORK/$store-fill.out" 2>&1 || die "wrk failed (see $WORK/$store-fill.out)"
        read -r total lombardia listed < <(store_figures)
    done
    log "$store: $total tickets, $lombardia open in Lombardia ($listed listed)"
    log "$store list: ${DURATION} s, $CONNS connections"
    read_phase "$store-list" "/api/tickets?status=open" "pgallo:demo-pgallo"
    log "$store summary: ${DURATION} s, $CONNS connections"
    read_phase "$store-summary" "/api/tickets/summary" "admin:demo-admin"
    if [[ -n "$url" ]]; then
        size="$(psql "$url" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    else
        size="$(du -h "$dir/data/cases.redb" | cut -f1)"
    fi
    stop_pid "$ENGINE_PID"
    local l s
    l="$(p99_ms "$WORK/$store-list.out")" s="$(p99_ms "$WORK/$store-summary.out")"
    {
        echo
        echo "--- $store: $total tickets ($size); Lombardia: $lombardia open, $listed listed"
        for p in list summary; do
            grep -E "Requests/sec|^ +Latency |^ +50%|^ +99%|Non-2xx|Socket errors" "$WORK/$store-$p.out" | sed "s/^/$(printf '%-9s' "$p") /"
        done
        awk -v st="$store" -v total="$total" -v lomb="$lombardia" -v listed="$listed" -v l="$l" -v s="$s" -v want="$TICKETS" 'BEGIN {
            pass = (total >= want && listed == lomb && l <= 50 && s <= 50)
            printf "RESULT    %s %s: list p99 %.1f ms (target <= 50), summary p99 %.1f ms (target <= 50) with %d tickets stored\n",
                st, pass ? "PASS" : "MISS", l, s, total }'
    } >>"$WORK/summary.txt"
}

{ echo; echo "=== back office reads: >= $TICKETS tickets, $CONNS connections, ${DURATION} s each ==="; echo "machine   $(machine_line)"; echo "engine    $ENGINE"; } >"$WORK/summary.txt"
for store in "${STORES[@]}"; do
    case "$store" in
        redb) phase redb ;;
        postgres) create_bench_db backoffice; phase postgres "$BENCH_DB_URL" ;;
    esac
done
echo "files     $WORK" >>"$WORK/summary.txt"
cat "$WORK/summary.txt"
! grep -q '^RESULT.* MISS' "$WORK/summary.txt"
