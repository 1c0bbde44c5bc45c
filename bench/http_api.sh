#!/usr/bin/env bash
# The HTTP listener's cost: wrk over keep-alive connections against two cheap endpoints, the
# static OpenAPI description (the listener and the router alone) and GET /api/sections with
# HTTP Basic (plus the password check, the password guard and the distribution's figures).
# Run it for two engines side by side (BENCH_ENGINE=...) to compare listeners.
#
#   bench/http_api.sh [--connections 64] [--threads 2] [--duration 10] [--sip-port 15062]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CONNS=64 THREADS=2 DURATION=10 SIP_PORT=15062
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
need_tools wrk cargo

bench_lock
if [[ -z "${BENCH_ENGINE:-}" ]]; then
    log "cargo build --release (engine)"
    (cd "$ROOT" && cargo build --release --quiet) || die "engine build failed"
fi
start_api_engine http "$SIP_PORT"

AUTH="Authorization: Basic $(printf 'mrossi:demo-mrossi' | base64)"
echo
echo "=== HTTP API: $CONNS connections, ${DURATION} s each; engine $ENGINE ==="
echo "machine   $(machine_line)"
for target in "/api/openapi.json" "/api/sections"; do
    C0="$(cpu_s "$ENGINE_PID")" T0="$(date +%s.%N)"
    header=()
    [[ "$target" == /api/sections ]] && header=(-H "$AUTH")
    wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --latency --timeout 10s "${header[@]}" "http://$HTTP$target" \
        >"$WORK/wrk.out" 2>&1 || die "wrk failed (see $WORK/wrk.out)"
    C1="$(cpu_s "$ENGINE_PID")" T1="$(date +%s.%N)"
    echo "GET $target"
    grep -E "Requests/sec|Latency |99%|Non-2xx|Socket errors" "$WORK/wrk.out" | sed 's/^/  wrk     /'
    awk -v a="$C0" -v b="$C1" -v t0="$T0" -v t1="$T1" 'BEGIN { printf "  engine  CPU %.1f%% of one core\n", 100 * (b - a) / (t1 - t0) }'
done
