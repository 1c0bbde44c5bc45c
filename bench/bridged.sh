#!/usr/bin/env bash
# Bridged calls: callers connected to operators, RTP relayed by the engine both ways.
#
# The bench switchboard (bench/lib.sh bench_switchboard) has --calls generated operators in the
# section `bench`. One sipp registers all their phones with digest authentication
# (bench/sipp/operator_phone.xml, answering with operator_answers.xml as -oocsf, PCMU, media at
# meter B); the operators log in through the HTTP API; then sipp places --calls callers
# (bench/sipp/uac_hold.xml, PCMU, media at meter A) to the bench number: each is queued, offered
# to a free operator, answered and bridged at once. Both meters run `bench/rtp-meter --talk`:
# each sends a timestamped 20 ms stream to every engine port it hears from and measures what
# arrives, so every call carries 50 packets/s each way through the engine's relay (A -> engine
# -> B for the caller's voice, B -> engine -> A for the operator's). Each meter's window opens
# --settle s after it has seen --calls streams and lasts --window s; it reports loss (sequence
# gaps of the relayed streams) and the one-way delay through the engine (kernel receive time
# minus the sender's timestamp, both on this machine's clock: an upper bound of the delay the
# relay adds).
#
#   bench/bridged.sh [--calls 1500] [--rate 100] [--window 20] [--settle 8] [--sip-port 15060]
#                    [--sipp-port 15070] [--op-port 15090] [--meter-a 19000] [--meter-b 19100]
#                    [--io auto|io_uring|epoll|unset] [--srtp]
#
# --srtp: SRTP on both legs (AES_CM_128_HMAC_SHA1_80, SDES): the switchboard requires it, the
# phones' SDP carries the bench key, the meters protect their streams with it and decrypt the
# engine's with the keys of its SDP (which sipp logs): the relay decrypts, checks and encrypts
# every packet.
# --io sets rtp.io (how the media receivers talk to the kernel; "unset" leaves it out, for builds
# older than it); BENCH_ENGINE=<binary> measures another build (with BENCH_SRTP=unset for one older than
# rtp.srtp). The summary gives the engine's CPU per relayed packet: its CPU time in the
# window over the packets the meters received from it.
#
# Target (issue 4): >= 1 500 bridged calls, loss < 0.1 %, relay delay p99 < 1 ms.
# Bounded: every wait has a deadline; sipp's -timeout and the meters' --max-run end the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CALLS=1500 RATE=100 WINDOW=20 SETTLE=8 SIP_PORT=15060 SIPP_PORT=15070 OP_PORT=15090 MA=19000 MB=19100
while (($#)); do
    case "$1" in
        --calls) CALLS="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --window) WINDOW="$2"; shift 2 ;;
        --settle) SETTLE="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        --sipp-port) SIPP_PORT="$2"; shift 2 ;;
        --op-port) OP_PORT="$2"; shift 2 ;;
        --meter-a) MA="$2"; shift 2 ;;
        --meter-b) MB="$2"; shift 2 ;;
        --io) RTP_IO="$2"; shift 2 ;;
        --srtp) BENCH_SRTP=1; shift ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools sipp cargo ss awk grep python3
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

build_all
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-bridged.XXXXXX")"
ENGINE_PID="" MA_PID="" MB_PID="" SIPP_PID="" OP_PID=""
cleanup() {
    # The engine first: it is the one process that must never outlive the bench.
    stop_pid "$ENGINE_PID"
    stop_pid "$SIPP_PID" INT; stop_pid "$OP_PID" INT
    stop_pid "$MA_PID"; stop_pid "$MB_PID"
}
trap cleanup EXIT

RAMP=$(((CALLS + RATE - 1) / RATE))
HOLD_S=$((RAMP + SETTLE + WINDOW + 15))
log "work directory $WORK"
bench_switchboard "$WORK" "$CALLS" 1
start_engine "$WORK" "$SIP_PORT"
HTTP="$(engine_http "$WORK")"
[[ -n "$HTTP" ]] || die "no HTTP address in the engine's log"

# Meters: A stands for the callers' phones, B for the operators'.
port_free "$MA" && port_free "$MB" || die "meter ports $MA/$MB are in use"
M_ARGS=(--talk --streams "$CALLS" --settle "$SETTLE" --window "$WINDOW" --max-wait $((RAMP + 120)) --max-run $((HOLD_S + 200)))
SRTP_A=() SRTP_B=() OP_LOG=() ANSWERS="$BENCH_DIR/sipp/operator_answers.xml"
if [[ "${BENCH_SRTP:-0}" == 1 ]]; then
    SCENARIO="$WORK/uac_hold_srtp.xml" ANSWERS="$WORK/operator_answers_srtp.xml"
    srtp_scenario "$BENCH_DIR/sipp/uac_hold.xml" "$SCENARIO"
    srtp_scenario "$BENCH_DIR/sipp/operator_answers.xml" "$ANSWERS"
    SIPP_LOG=(-trace_logs -log_file "$WORK/caller_keys.log") OP_LOG=(-trace_logs -log_file "$WORK/op_keys.log")
    SRTP_A=(--srtp-key "$BENCH_SRTP_KEY" --srtp-keys "$WORK/caller_keys.log")
    SRTP_B=(--srtp-key "$BENCH_SRTP_KEY" --srtp-keys "$WORK/op_keys.log")
fi
"$METER" --listen "127.0.0.1:$MA" "${M_ARGS[@]}" "${SRTP_A[@]}" >"$WORK/meter_a.out" 2>"$WORK/meter_a.err" &
MA_PID=$!
"$METER" --listen "127.0.0.1:$MB" "${M_ARGS[@]}" "${SRTP_B[@]}" >"$WORK/meter_b.out" 2>"$WORK/meter_b.err" &
MB_PID=$!

log "sipp: $CALLS operators' phones register"
(
    cd "$WORK"
    exec sipp "127.0.0.1:$SIP_PORT" -sf "$BENCH_DIR/sipp/operator_phone.xml" -oocsf "$ANSWERS" \
        -inf "$WORK/operators.csv" -s bench -t u1 -i 127.0.0.1 -p "$OP_PORT" -mp $((OP_PORT + 2)) \
        -key expires 3600 -key hold_ms $(((HOLD_S + RAMP + 60) * 1000)) -key ring_ms 100 -key op_rtp_port "$MB" "${OP_LOG[@]}" \
        -r 300 -rp 1000 -m "$CALLS" -l $((2 * CALLS + 100)) -max_socket 60000 -timer_resol 1 \
        -timeout "$((HOLD_S + RAMP + 120))s" -nostdin -trace_err -error_file "$WORK/op_errors.log" \
        -trace_stat -stf "$WORK/op_stat.csv" -fd 1
) >"$WORK/op.out" 2>&1 &
OP_PID=$!
DEADLINE=$((SECONDS + 60))
until (($(grep -c '"operator phone registered"' "$WORK/engine.log" || true) >= CALLS)); do
    ((SECONDS < DEADLINE)) || die "only $(grep -c '"operator phone registered"' "$WORK/engine.log" || true) of $CALLS phones registered (see $WORK)"
    sleep 0.5
done
log "all phones registered; logging the operators in through the API"
python3 - "$HTTP" "$CALLS" <<'PY' || die "API logins failed"
import base64, http.client, sys
host, n = sys.argv[1], int(sys.argv[2])
conn = http.client.HTTPConnection(host, timeout=10)
for i in range(1, n + 1):
    u = f"op{i:04d}"
    auth = base64.b64encode(f"{u}:pw-{u}".encode()).decode()
    conn.request("POST", "/api/operator/login", headers={"Authorization": f"Basic {auth}"})
    r = conn.getresponse(); r.read()
    if r.status != 200:
        sys.exit(f"login {u}: {r.status}")
PY

log "sipp: $CALLS callers at $RATE calls/s, hold ${HOLD_S} s"
media_csv "$WORK/media.csv" "$MA"
start_hold_callers

measure_window "$WORK/meter_a.err" "$WORK/meter_b.err" "$WORK/meter_a.out" "$WORK/meter_b.out"
{
    echo
    echo "=== bridged: $CALLS calls at $RATE calls/s, window $WINDOW s after $SETTLE s$([[ "${BENCH_SRTP:-0}" == 1 ]] && echo ", SRTP on both legs") ==="
    echo "machine   $(machine_line)"
    echo "queue     answered $(grep -c '"event":"answered"' "$QUEUE" || true), abandoned $(grep -c '"event":"abandoned"' "$QUEUE" || true); bridged at window start: $BRIDGED"
    echo "engine    CPU in the window $WINDOW_CPU% of one core (rtp.io ${RTP_IO:-as configured})"
    awk -v cpu="$WINDOW_CPU" -v pa="$(result_field "$WORK/meter_a.out" packets)" -v pb="$(result_field "$WORK/meter_b.out" packets)" \
        -v w="$(result_field "$WORK/meter_a.out" window_s)" 'BEGIN {
        printf "          CPU per relayed packet %.2f us (%.0f packets/s relayed)\n", cpu / 100 * w * 1e6 / (pa + pb), (pa + pb) / w }'
    echo "          machine $(sys_busy "$S0" "$S1") in the window; RSS $((RSS / 1024)) MiB"
    echo "          top processes in the window: $TOP"
    for side in a b; do
        f="$WORK/meter_$side.out"
        what=$([[ $side == a ]] && echo "operator -> caller (meter A)" || echo "caller -> operator (meter B)")
        echo "$what:"
        grep -E '^  (streams|packets|delay|meter)' "$f" | sed 's/^  /          /'
    done
    awk -v la="$(result_field "$WORK/meter_a.out" lost_pct)" -v lb="$(result_field "$WORK/meter_b.out" lost_pct)" \
        -v da="$(result_field "$WORK/meter_a.out" delay_p99_ms)" -v db="$(result_field "$WORK/meter_b.out" delay_p99_ms)" \
        -v sa="$(result_field "$WORK/meter_a.out" streams_in_window)" -v sb="$(result_field "$WORK/meter_b.out" streams_in_window)" \
        -v pa="$(result_field "$WORK/meter_a.out" packets)" -v pb="$(result_field "$WORK/meter_b.out" packets)" \
        -v w="$(result_field "$WORK/meter_a.out" window_s)" -v c="$CALLS" 'BEGIN {
        # The load counts only if it was offered: every stream at 50 packets/s each way.
        nominal = c * 50 * w; ra = 100 * pa / nominal; rb = 100 * pb / nominal
        ok = (la < 0.1 && lb < 0.1 && da < 1 && db < 1 && sa >= c && sb >= c && ra >= 99 && rb >= 99)
        printf "RESULT    %s: %d/%d streams, %.1f%% / %.1f%% of the nominal 50 packets/s per stream (target >= 99), loss %s%% / %s%% (target < 0.1), delay p99 %s / %s ms (target < 1)\n", ok ? "PASS" : "MISS", sa, sb, ra, rb, la, lb, da, db }'
    echo "files     $WORK"
} | tee "$WORK/summary.txt"
grep -q '^RESULT    PASS' "$WORK/summary.txt"
