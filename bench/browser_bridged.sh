#!/usr/bin/env bash
# Browser-bridged calls: callers connected to operators answering in the console's phone
# (WebRTC: ICE-lite, DTLS-SRTP, G.711), the engine bridging SRTP to the callers' RTP.
#
# The bench switchboard (bench/lib.sh bench_switchboard) has --calls generated operators in the
# section `bench`. bench/webrtc-operators (str0m, one thread) plays every operator's console:
# it logs the operator in through the API, connects the browser phone exactly as the page does
# (POST /api/phone, data channel `phone`), --concurrency connections being set up at a time,
# answers every ring at once and talks (a timestamped PCMU stream). Then sipp places --calls
# callers (bench/sipp/uac_hold.xml, PCMU, media at the meter) to the bench number: each is
# queued, offered to a free console, answered and bridged. The meter (bench/rtp-meter --talk)
# is every caller: it sends a timestamped 20 ms stream and measures what arrives from the
# consoles; the client measures what arrives from the callers. Both report loss (RTP sequence
# gaps) and one-way delay in a window that opens --settle s after every call talks.
#
#   bench/browser_bridged.sh [--calls 500] [--rate 50] [--window 20] [--settle 5]
#                            [--concurrency 50] [--sip-port 15060] [--sipp-port 15070] [--meter 19000]
#
# Target (issue 16): >= 500 browser-bridged calls, loss < 0.1 %; DTLS handshakes per second.
# Bounded: every wait has a deadline; sipp's -timeout and --max-run end the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CALLS=500 RATE=50 WINDOW=20 SETTLE=5 CONCURRENCY=50 SIP_PORT=15060 SIPP_PORT=15070 MA=19000
while (($#)); do
    case "$1" in
        --calls) CALLS="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --window) WINDOW="$2"; shift 2 ;;
        --settle) SETTLE="$2"; shift 2 ;;
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        --sipp-port) SIPP_PORT="$2"; shift 2 ;;
        --meter) MA="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools sipp cargo ss awk grep
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

build_all
CLIENT="$ROOT/target/webrtc-operators/release/webrtc-operators"
log "cargo build --release (bench/webrtc-operators)"
(cd "$BENCH_DIR/webrtc-operators" && cargo build --release --quiet --target-dir "$ROOT/target/webrtc-operators") ||
    die "webrtc-operators build failed"
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-browser.XXXXXX")"
ENGINE_PID="" MA_PID="" SIPP_PID="" CLIENT_PID=""
cleanup() {
    stop_pid "$ENGINE_PID"
    stop_pid "$SIPP_PID" INT
    stop_pid "$CLIENT_PID"; stop_pid "$MA_PID"
}
trap cleanup EXIT

RAMP=$(((CALLS + RATE - 1) / RATE))
HOLD_S=$((RAMP + SETTLE + WINDOW + 15))
log "work directory $WORK"
bench_switchboard "$WORK" "$CALLS" 1
start_engine "$WORK" "$SIP_PORT"
HTTP="$(engine_http "$WORK")"
[[ -n "$HTTP" ]] || die "no HTTP address in the engine's log"

port_free "$MA" || die "meter port $MA is in use"
"$METER" --listen "127.0.0.1:$MA" --talk --streams "$CALLS" --settle "$SETTLE" --window "$WINDOW" \
    --max-wait $((RAMP + 180)) --max-run $((HOLD_S + 300)) >"$WORK/meter.out" 2>"$WORK/meter.err" &
MA_PID=$!

log "webrtc-operators: $CALLS consoles connect, $CONCURRENCY at a time"
C0="$(cpu_s "$ENGINE_PID")"
"$CLIENT" --http "$HTTP" --operators "$WORK/operators.csv" --concurrency "$CONCURRENCY" \
    --settle "$SETTLE" --window "$WINDOW" --max-run $((HOLD_S + 300)) >"$WORK/client.out" 2>"$WORK/client.err" &
CLIENT_PID=$!
DEADLINE=$((SECONDS + 120))
until grep -q 'connections up' "$WORK/client.err"; do
    ((SECONDS < DEADLINE)) || die "the consoles did not connect within 120 s (see $WORK)"
    kill -0 "$CLIENT_PID" 2>/dev/null || die "webrtc-operators ended (see $WORK/client.err)"
    sleep 0.2
done
C1="$(cpu_s "$ENGINE_PID")"
grep -q "^connections $CALLS up, 0 failed" "$WORK/client.out" ||
    die "not every console connected: $(grep '^connections' "$WORK/client.out") (see $WORK/client.err)"
CONNECT_CPU="$(awk -v a="$C0" -v b="$C1" -v n="$CALLS" 'BEGIN { printf "%.2f", 1000 * (b - a) / n }')"

log "sipp: $CALLS callers at $RATE calls/s, hold ${HOLD_S} s"
media_csv "$WORK/media.csv" "$MA"
start_hold_callers

measure_window "$WORK/meter.err" "$WORK/client.err" "$WORK/meter.out" "$WORK/client.out"
{
    echo
    echo "=== browser-bridged: $CALLS calls at $RATE calls/s, window $WINDOW s after $SETTLE s ==="
    echo "machine   $(machine_line)"
    echo "consoles  $(grep '^connections' "$WORK/client.out"); engine CPU $CONNECT_CPU ms per connection"
    echo "queue     answered $(grep -c '"event":"answered"' "$QUEUE" || true), abandoned $(grep -c '"event":"abandoned"' "$QUEUE" || true); bridged at window start: $BRIDGED"
    echo "engine    CPU in the window $WINDOW_CPU% of one core"
    echo "          machine $(sys_busy "$S0" "$S1") in the window; RSS $((RSS / 1024)) MiB"
    echo "          top processes in the window: $TOP"
    echo "console -> caller (meter):"
    grep -E '^  (streams|packets|delay|meter)' "$WORK/meter.out" | sed 's/^  /          /'
    echo "caller -> console (webrtc-operators):"
    grep -E '^  ' "$WORK/client.out" | sed 's/^  /          /'
    awk -v la="$(result_field "$WORK/meter.out" lost_pct)" -v lb="$(result_field "$WORK/client.out" lost_pct)" \
        -v sa="$(result_field "$WORK/meter.out" streams_in_window)" -v sb="$(result_field "$WORK/client.out" talking)" \
        -v pa="$(result_field "$WORK/meter.out" packets)" -v pb="$(result_field "$WORK/client.out" packets)" \
        -v hs="$(result_field "$WORK/client.out" handshakes_per_s)" \
        -v w="$(result_field "$WORK/meter.out" window_s)" -v c="$CALLS" 'BEGIN {
        nominal = c * 50 * w; ra = 100 * pa / nominal; rb = 100 * pb / nominal
        ok = (la < 0.1 && lb < 0.1 && sa >= c && sb >= c && ra >= 99 && rb >= 99)
        printf "RESULT    %s: %d/%d calls, %.1f%% / %.1f%% of the nominal 50 packets/s per stream (target >= 99), loss %s%% / %s%% (target < 0.1); %s DTLS handshakes/s\n", ok ? "PASS" : "MISS", sa, sb, ra, rb, la, lb, hs }'
    echo "files     $WORK"
} | tee "$WORK/summary.txt"
grep -q '^RESULT    PASS' "$WORK/summary.txt"
