#!/usr/bin/env bash
# Simultaneous calls, each hearing a prompt: RTP pacing measured by bench/rtp-meter.
#
# sipp (bench/sipp/uac_hold.xml) places --calls calls to the Latina number 0773691001 at
# --rate calls/s; every SDP offer points the media at the meter's one UDP port, which tells the
# streams apart by SSRC and source port and keeps the calls alive (a 13-byte RTP keepalive to
# each stream's source every second; --echo instead returns every packet, like callers who talk
# all the time). The meter's window starts --settle seconds after it has seen --calls streams
# and lasts --window seconds; the callers hold long enough for all of them to be up during the
# whole window (hold = calls/rate + settle + window + 6 s).
#
# With the shipped national tree a caller who presses nothing hears language_choice (3.6 s),
# 5 s of silence (the menu timeout), then welcome (11 s) and main_menu (26.4 s) back to back:
# the default settle of 9 s puts the window where every stream is playing continuously.
#
#   bench/concurrent.sh [--calls 3000] [--rate 200] [--window 20] [--settle 9] [--echo]
#                       [--measure-every N] [--sip-port 15060] [--sipp-port 15070]
#                       [--meter-port 19000] [--perf SECS]
#                       [--clock-priority realtime|raised|normal]
#
# --measure-every N (diagnostic) meters one call in N; the others offer a=recvonly and point
# their media at a port the meter binds and never reads, so the engine does the same work while
# the meter's own CPU drops N-fold (on a 2-core machine it otherwise competes with the engine).
#
# Target: >= 99 % of packet intervals within 20 ms +- 2 ms. Bounded: sipp's -timeout is
# hold + calls/rate + 60 s; the meter exits after its own --max-run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CALLS=3000 RATE=200 WINDOW=20 SETTLE=9 ECHO=0 EVERY=1 SIP_PORT=15060 SIPP_PORT=15070 METER_PORT=19000 PERF=0
while (($#)); do
    case "$1" in
        --calls) CALLS="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --window) WINDOW="$2"; shift 2 ;;
        --settle) SETTLE="$2"; shift 2 ;;
        --echo) ECHO=1; shift ;;
        --measure-every) EVERY="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        --sipp-port) SIPP_PORT="$2"; shift 2 ;;
        --meter-port) METER_PORT="$2"; shift 2 ;;
        --perf) PERF="$2"; shift 2 ;;
        --clock-priority) CLOCK_PRIORITY="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools sipp cargo ss awk sort grep
((PERF == 0)) || need_tools perf
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

build_all
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-concurrent.XXXXXX")"
ENGINE_PID="" METER_PID="" SIPP_PID="" SAMPLER_PID=""
cleanup() { stop_pid "$SIPP_PID" INT; stop_pid "$METER_PID"; stop_pid "$ENGINE_PID"; stop_pid "$SAMPLER_PID"; }
trap cleanup EXIT

RAMP=$(((CALLS + RATE - 1) / RATE))
HOLD_S=$((RAMP + SETTLE + WINDOW + 6))
TIMEOUT=$((RAMP + HOLD_S + 60))
log "work directory $WORK"
start_engine "$WORK" "$SIP_PORT"
METERED=$(((CALLS + EVERY - 1) / EVERY))
METER_ARGS=(--streams "$METERED" --window "$WINDOW" --settle "$SETTLE" --max-wait $((RAMP + 30)) --max-run $((TIMEOUT + 30)))
((ECHO)) && METER_ARGS+=(--echo)
((EVERY > 1)) && METER_ARGS+=(--discard $((METER_PORT + 2)))
media_csv "$WORK/media.csv" "$METER_PORT" "$EVERY" $((METER_PORT + 2))
start_meter "$WORK" "$METER_PORT" "${METER_ARGS[@]}"
start_sampler "$ENGINE_PID" "$WORK/engine_samples.txt"

log "sipp: $CALLS calls at $RATE calls/s (ramp ${RAMP} s), hold ${HOLD_S} s, window ${WINDOW} s after ${SETTLE} s"
(
    cd "$WORK"
    exec sipp "127.0.0.1:$SIP_PORT" -sf "$SCENARIO" -s 0773691001 -t u1 \
        -i 127.0.0.1 -p "$SIPP_PORT" -mp $((SIPP_PORT + 10)) \
        -inf "$WORK/media.csv" -key hold_ms $((HOLD_S * 1000)) \
        -r "$RATE" -rp 1000 -m "$CALLS" -l $((CALLS + 100)) -max_socket 60000 \
        -timer_resol 1 -recv_timeout 10000 -timeout "${TIMEOUT}s" -timeout_error -nostdin \
        -trace_stat -stf "$WORK/sipp_stat.csv" -fd 1 \
        -trace_rtt -rtt_freq 200 \
        -trace_err -error_file "$WORK/sipp_errors.log" \
        -trace_screen -screen_file "$WORK/sipp_screen.log"
) >"$WORK/sipp.out" 2>&1 &
SIPP_PID=$!
start_cpu_watch "$SIPP_PID" "$WORK/sipp_cpu.txt"

# The window, as the meter sees it: measure the engine over the same span.
established() {
    local a e
    a="$(grep -c '"message":"answered"' "$WORK/engine.log" || true)"
    e="$(grep -c '"message":"call ended"' "$WORK/engine.log" || true)"
    echo $((a - e))
}
DEADLINE=$((SECONDS + RAMP + 40))
until grep -q 'window started' "$WORK/meter.err"; do
    ((SECONDS < DEADLINE)) || die "the meter's window did not start (see $WORK)"
    kill -0 "$SIPP_PID" 2>/dev/null || die "sipp ended before the window (see $WORK/sipp.out)"
    sleep 0.2
done
W_CPU0="$(cpu_s "$ENGINE_PID")" W_T0="$(date +%s.%N)" W_SYS0="$(sys_jiffies)" W_CPUL0="$(cpu_line)" W_M0="$(cpu_s "$METER_PID")"
EST0="$(established)"
proc_snapshot >"$WORK/procs0.txt"
log "window started with $EST0 calls established in the engine"
if ((PERF > 0)); then
    perf record -F 499 -g -p "$ENGINE_PID" -o "$WORK/perf.data" -- sleep "$PERF" >/dev/null 2>&1 || log "perf record failed"
fi
DEADLINE=$((SECONDS + WINDOW + 20))
until grep -q '^RESULT' "$WORK/meter.out"; do
    ((SECONDS < DEADLINE)) || die "the meter did not report (see $WORK)"
    sleep 0.2
done
W_CPU1="$(cpu_s "$ENGINE_PID")" W_T1="$(date +%s.%N)" W_SYS1="$(sys_jiffies)" W_CPUL1="$(cpu_line)" W_M1="$(cpu_s "$METER_PID")"
EST1="$(established)"
proc_snapshot >"$WORK/procs1.txt"
TOP="$(top_consumers "$WORK/procs0.txt" "$WORK/procs1.txt" "$(awk -v a="$W_T0" -v b="$W_T1" 'BEGIN { print b - a }')")"
THREADS="$(thread_cpu "$ENGINE_PID" | head -4)"
log "window over with $EST1 calls established; waiting for the callers to hang up"

set +e
wait "$SIPP_PID"
SIPP_RC=$?
set -e
SIPP_PID=""
sleep 2
RECORDS="$("$ENGINE" calls --json --data-dir "$WORK/data" | grep -c '"call_id"' || true)"
RSS_MAX="$(hwm_kib "$ENGINE_PID")"
stop_pid "$METER_PID" && METER_PID=""
stop_pid "$ENGINE_PID" && ENGINE_PID=""
stop_pid "$SAMPLER_PID" && SAMPLER_PID=""
if ((PERF > 0)) && [[ -f "$WORK/perf.data" ]]; then
    perf report -i "$WORK/perf.data" --no-children --sort dso,symbol -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 >"$WORK/perf_flat.txt" || true
    perf report -i "$WORK/perf.data" --children --sort symbol -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -80 >"$WORK/perf_children.txt" || true
fi

S="$WORK/sipp_stat.csv"
CREATED="$(sipp_stat "$S" 'TotalCallCreated')"
OK="$(sipp_stat "$S" 'SuccessfulCall(C)')"
FAILED="$(sipp_stat "$S" 'FailedCall(C)')"
RETRANS="$(sipp_stat "$S" 'Retransmissions(C)')"
RESULT_LINE="$(grep '^RESULT' "$WORK/meter.out")"
val() { sed -E "s/.* $1=([^ ]*).*/\1/" <<<"$RESULT_LINE"; }
WITHIN="$(val within_pct)" IN_WINDOW="$(val streams_in_window)" LOST="$(val lost_pct)" DROPS="$(val socket_drops)"
RTT="$(ls "$WORK"/*_rtt.csv 2>/dev/null | head -1)"

{
    echo
    echo "=== concurrent: $CALLS calls at $RATE calls/s, window $WINDOW s, clock priority ${CLOCK_PRIORITY:-as configured}, keepalive $( ((ECHO)) && echo 'echo (full duplex)' || echo '1/s')$( ((EVERY > 1)) && echo ", metering 1 call in $EVERY") ==="
    echo "machine   $(machine_line)"
    echo "sipp      attempted $CREATED, successful $OK, failed $FAILED, retransmissions $RETRANS, exit code $SIPP_RC"
    if [[ -n "$RTT" ]]; then
        read -r n p50 p90 p99 p999 max <<<"$(rtt_pcts "$RTT" answer)"
        echo "          INVITE->200 p50 $p50 ms, p99 $p99 ms, max $max ms (n=$n)"
    fi
    echo "engine    calls established (log): $EST0 at window start, $EST1 at window end; records $RECORDS"
    awk -v a="$W_CPU0" -v b="$W_CPU1" -v t0="$W_T0" -v t1="$W_T1" -v m0="$W_M0" -v m1="$W_M1" 'BEGIN {
        printf "          CPU in the window %.1f%% of one core (meter %.1f%%)\n", 100 * (b - a) / (t1 - t0), 100 * (m1 - m0) / (t1 - t0) }'
    echo "          machine $(sys_busy "$W_SYS0" "$W_SYS1") in the window; peak RSS $((RSS_MAX / 1024)) MiB"
    echo "          $(cpu_breakdown "$W_CPUL0" "$W_CPUL1")"
    echo "          top processes in the window: $TOP"
    echo "          busiest threads (name tid cpu_s): $(echo "$THREADS" | paste -sd ';' | sed 's/;/; /g')"
    W="$(engine_warnings "$WORK/engine.log" 5)"
    [[ -z "$W" ]] || echo "$W" | sed 's/^/          warn: /'
    grep -h '^  ' "$WORK/meter.out" | sed 's/^  /rtp       /'
    if awk -v w="$WITHIN" -v s="$IN_WINDOW" -v c="$METERED" 'BEGIN { exit !(w >= 99 && s >= c) }'; then
        echo "RESULT    PASS: $IN_WINDOW streams, $WITHIN % of intervals within 20+-2 ms (target >= 99 %), loss $LOST %, meter drops $DROPS"
    else
        echo "RESULT    MISS: $IN_WINDOW of $METERED streams, $WITHIN % of intervals within 20+-2 ms (target >= 99 %), loss $LOST %, meter drops $DROPS"
    fi
    echo "files     $WORK"
} | tee "$WORK/summary.txt"
