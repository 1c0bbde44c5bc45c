#!/usr/bin/env bash
# Resident memory per established call.
#
# The engine's RSS (/proc/<pid>/status VmRSS) is sampled with 0, 500, 1000, 2000 and 3000
# calls established and held open (each call hearing its prompt; the RTP goes to
# bench/rtp-meter, which keeps the calls alive), and a least-squares line is fitted through
# the points: its slope is the memory per call. Each step is one sipp run (its own SIP port)
# adding calls at --rate calls/s; a sample is taken --settle seconds after the engine's log
# shows the step's calls answered (median of 3 readings 0.5 s apart). The callers hang up by
# themselves (hold --hold seconds), and a last sample shows what is returned afterwards.
#
#   bench/memory.sh [--steps "500 1000 2000 3000"] [--rate 250] [--settle 5] [--hold 75]
#                   [--sip-port 15060] [--sipp-port 15100] [--meter-port 19000]
#
# Target: under 64 KiB per call. Bounded: every wait has a deadline.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STEPS="500 1000 2000 3000" RATE=250 SETTLE=5 HOLD=75 SIP_PORT=15060 SIPP_PORT=15100 METER_PORT=19000
while (($#)); do
    case "$1" in
        --steps) STEPS="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --settle) SETTLE="$2"; shift 2 ;;
        --hold) HOLD="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        --sipp-port) SIPP_PORT="$2"; shift 2 ;;
        --meter-port) METER_PORT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools sipp cargo ss awk sort grep
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

build_all
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-memory.XXXXXX")"
ENGINE_PID="" METER_PID="" SIPP_PIDS=()
cleanup() {
    local p
    for p in "${SIPP_PIDS[@]}"; do stop_pid "$p" INT; done
    stop_pid "$METER_PID"; stop_pid "$ENGINE_PID"
}
trap cleanup EXIT

log "work directory $WORK"
start_engine "$WORK" "$SIP_PORT"
media_csv "$WORK/media.csv" "$METER_PORT"
start_meter "$WORK" "$METER_PORT" --keepalive-ms 1000 --max-run $((HOLD + 300))

established() {
    local a e
    a="$(grep -c '"message":"answered"' "$WORK/engine.log" || true)"
    e="$(grep -c '"message":"call ended"' "$WORK/engine.log" || true)"
    echo $((a - e))
}
# Median of three RSS readings.
rss3() {
    local a b c
    a="$(rss_kib "$ENGINE_PID")"; sleep 0.5; b="$(rss_kib "$ENGINE_PID")"; sleep 0.5; c="$(rss_kib "$ENGINE_PID")"
    printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -n | sed -n 2p
}

POINTS="$WORK/points.txt"
sleep "$SETTLE"
echo "0 $(rss3)" >"$POINTS"
log "0 calls: RSS $(awk '{print $2}' "$POINTS") KiB"
PREV=0 I=0
for TARGET in $STEPS; do
    ADD=$((TARGET - PREV))
    ((ADD > 0)) || die "--steps must increase"
    PORT=$((SIPP_PORT + 2 * I))
    (
        cd "$WORK"
        exec sipp "127.0.0.1:$SIP_PORT" -sf "$SCENARIO" -s 0773691001 -t u1 \
            -i 127.0.0.1 -p "$PORT" -mp $((SIPP_PORT + 1000 + 10 * I)) \
            -inf "$WORK/media.csv" -key hold_ms $((HOLD * 1000)) \
            -r "$RATE" -rp 1000 -m "$ADD" -l $((ADD + 100)) -max_socket 60000 \
            -timer_resol 1 -recv_timeout 10000 -timeout $((HOLD + ADD / RATE + 60))s -timeout_error -nostdin \
            -trace_stat -stf "$WORK/sipp_stat_$TARGET.csv" -fd 1 \
            -trace_err -error_file "$WORK/sipp_errors_$TARGET.log"
    ) >"$WORK/sipp_$TARGET.out" 2>&1 &
    SIPP_PIDS+=($!)
    DEADLINE=$((SECONDS + ADD / RATE + 30))
    until (($(established) >= TARGET)); do
        if ! kill -0 "${SIPP_PIDS[-1]}" 2>/dev/null; then
            tail -5 "$WORK/sipp_$TARGET.out" "$WORK/sipp_errors_$TARGET.log" >&2 2>/dev/null
            die "sipp of step $TARGET ended before its calls were established (see $WORK)"
        fi
        if ((SECONDS >= DEADLINE)); then
            log "only $(established) of $TARGET calls established after the deadline: sampling anyway"
            break
        fi
        sleep 0.5
    done
    sleep "$SETTLE"
    NOW="$(established)"
    echo "$NOW $(rss3)" >>"$POINTS"
    log "$NOW calls: RSS $(tail -1 "$POINTS" | awk '{print $2}') KiB"
    PREV=$TARGET I=$((I + 1))
done
PEAK_CALLS="$(established)"
THREADS="$(ls /proc/"$ENGINE_PID"/task | wc -l)"
log "waiting for the callers to hang up (hold ${HOLD} s)"
for p in "${SIPP_PIDS[@]}"; do wait "$p" || true; done
SIPP_PIDS=()
sleep "$SETTLE"
AFTER_CALLS="$(established)" AFTER_RSS="$(rss3)"
HWM="$(hwm_kib "$ENGINE_PID")"
RECORDS="$("$ENGINE" calls --json --data-dir "$WORK/data" | grep -c '"call_id"' || true)"
FAILED="$(for f in "$WORK"/sipp_stat_*.csv; do sipp_stat "$f" 'FailedCall(C)'; done | awk '{ s += $1 } END { print s + 0 }')"
stop_pid "$METER_PID" && METER_PID=""
stop_pid "$ENGINE_PID" && ENGINE_PID=""

FIT="$(awk '{ n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2; x[n] = $1; y[n] = $2 }
    END { b = (n * sxy - sx * sy) / (n * sxx - sx * sx); a = (sy - b * sx) / n;
          for (i = 1; i <= n; i++) { r = y[i] - (a + b * x[i]); ss += r * r; st += (y[i] - sy / n) ^ 2 }
          printf "%.1f %.0f %.4f", b, a, 1 - ss / st }' "$POINTS")"
read -r SLOPE ICPT R2 <<<"$FIT"

{
    echo
    echo "=== memory: RSS per established call (steps 0 $STEPS, $RATE calls/s) ==="
    echo "machine   $(machine_line)"
    echo "points    calls  VmRSS_KiB"
    awk '{ printf "          %5d  %9d\n", $1, $2 }' "$POINTS"
    echo "fit       $SLOPE KiB per call (intercept $ICPT KiB, r^2 $R2); socket buffers are kernel memory, not in RSS"
    echo "engine    threads $THREADS at $PEAK_CALLS calls; peak RSS $((HWM / 1024)) MiB; after hang-up ($AFTER_CALLS calls): $AFTER_RSS KiB"
    echo "          call records $RECORDS, sipp failed calls $FAILED"
    if awk -v s="$SLOPE" 'BEGIN { exit !(s < 64) }'; then
        echo "RESULT    PASS: $SLOPE KiB per call (target < 64 KiB)"
    else
        echo "RESULT    MISS: $SLOPE KiB per call (target < 64 KiB)"
    fi
    echo "files     $WORK"
} | tee "$WORK/summary.txt"
