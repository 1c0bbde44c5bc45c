#!/usr/bin/env bash
# Sustained call rate: "answer, 3-second prompt, caller hangs up", open loop, on loopback.
#
# sipp (bench/sipp/uac_hold.xml) calls the Latina number 0773691001 at --rate calls/s for
# --calls calls; each caller holds --hold-ms after the 200 OK, then sends BYE. The engine runs
# on its shipped configuration (answer_delay_ms = 200, max_calls = 4000) with a temporary data
# dir, a JSON log and RTP ports 20000-59999; the prompts it plays go to bench/rtp-meter, which
# reports their pacing as a side figure (and keeps the calls alive like a caller would).
#
#   bench/call_rate.sh [--rate 400] [--calls 24000] [--hold-ms 3000] [--transport u1|t1]
#                      [--sip-port 15060] [--sipp-port 15070] [--meter-port 19000] [--perf SECS]
#
# Target: >= 400 calls/s with < 0.1 % failed calls. Bounded: sipp's -timeout is
# calls/rate + hold + 60 s. Everything is left in the work directory printed at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RATE=400 CALLS=24000 HOLD_MS=3000 TRANSPORT=u1 SIP_PORT=15060 SIPP_PORT=15070 METER_PORT=19000 PERF=0
while (($#)); do
    case "$1" in
        --rate) RATE="$2"; shift 2 ;;
        --calls) CALLS="$2"; shift 2 ;;
        --hold-ms) HOLD_MS="$2"; shift 2 ;;
        --transport) TRANSPORT="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        --sipp-port) SIPP_PORT="$2"; shift 2 ;;
        --meter-port) METER_PORT="$2"; shift 2 ;;
        --perf) PERF="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools sipp cargo ss awk sort grep
((PERF == 0)) || need_tools perf
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

build_all
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-call-rate.XXXXXX")"
ENGINE_PID="" METER_PID="" SIPP_PID="" SAMPLER_PID=""
cleanup() { stop_pid "$SIPP_PID" INT; stop_pid "$METER_PID"; stop_pid "$ENGINE_PID"; stop_pid "$SAMPLER_PID"; }
trap cleanup EXIT

log "work directory $WORK"
start_engine "$WORK" "$SIP_PORT"
media_csv "$WORK/media.csv" "$METER_PORT"
start_meter "$WORK" "$METER_PORT" --keepalive-ms 1000 --max-run $((CALLS / RATE + HOLD_MS / 1000 + 120))
start_sampler "$ENGINE_PID" "$WORK/engine_samples.txt"

DURATION=$((CALLS / RATE))
TIMEOUT=$((DURATION + HOLD_MS / 1000 + 60))
log "sipp: $RATE calls/s x $CALLS calls (~${DURATION} s), hold ${HOLD_MS} ms, transport $TRANSPORT, timeout ${TIMEOUT} s"
CPU0="$(cpu_s "$ENGINE_PID")" T0="$(date +%s.%N)" M0="$(cpu_s "$METER_PID")"
(
    cd "$WORK"
    exec sipp "127.0.0.1:$SIP_PORT" -sf "$SCENARIO" -s 0773691001 -t "$TRANSPORT" \
        -i 127.0.0.1 -p "$SIPP_PORT" -mp $((SIPP_PORT + 10)) \
        -inf "$WORK/media.csv" -key hold_ms "$HOLD_MS" \
        -r "$RATE" -rp 1000 -m "$CALLS" -l 50000 -max_socket 60000 \
        -timer_resol 1 -recv_timeout 10000 -timeout "${TIMEOUT}s" -timeout_error -nostdin \
        -trace_stat -stf "$WORK/sipp_stat.csv" -fd 1 \
        -trace_rtt -rtt_freq 200 \
        -trace_err -error_file "$WORK/sipp_errors.log" \
        -trace_screen -screen_file "$WORK/sipp_screen.log"
) >"$WORK/sipp.out" 2>&1 &
SIPP_PID=$!
SYS0="$(sys_jiffies)" CPUL0="$(cpu_line)"
proc_snapshot >"$WORK/procs0.txt"
start_cpu_watch "$SIPP_PID" "$WORK/sipp_cpu.txt"
if ((PERF > 0)); then
    # Profile the middle of the run (after the ramp to steady concurrency).
    sleep $((HOLD_MS / 1000 + 3))
    log "perf record for $PERF s"
    perf record -F 499 -g -p "$ENGINE_PID" -o "$WORK/perf.data" -- sleep "$PERF" >/dev/null 2>&1 || log "perf record failed"
fi
set +e
wait "$SIPP_PID"
SIPP_RC=$?
set -e
SIPP_PID=""
T1="$(date +%s.%N)" CPU1="$(cpu_s "$ENGINE_PID")" SYS1="$(sys_jiffies)" CPUL1="$(cpu_line)" M1="$(cpu_s "$METER_PID")"
THREADS="$(thread_cpu "$ENGINE_PID" | head -6)"
proc_snapshot >"$WORK/procs1.txt"
TOP="$(top_consumers "$WORK/procs0.txt" "$WORK/procs1.txt" "$(awk -v a="$T0" -v b="$T1" 'BEGIN { print b - a }')")"
sleep 2 # the call log writer batches; let it flush
RECORDS="$("$ENGINE" calls --json --data-dir "$WORK/data" | grep -c '"call_id"' || true)"
ANSWERED="$(grep -c '"message":"answered"' "$WORK/engine.log" || true)"
ENDED="$(grep -c '"message":"call ended"' "$WORK/engine.log" || true)"
RSS_MAX="$(hwm_kib "$ENGINE_PID")"
stop_pid "$METER_PID" && METER_PID=""
stop_pid "$ENGINE_PID" && ENGINE_PID=""
stop_pid "$SAMPLER_PID" && SAMPLER_PID=""
if ((PERF > 0)) && [[ -f "$WORK/perf.data" ]]; then
    perf report -i "$WORK/perf.data" --no-children --sort comm,dso,symbol --stdio 2>/dev/null | grep -v '^$' | head -120 >"$WORK/perf_report.txt" || true
fi

S="$WORK/sipp_stat.csv"
[[ -s "$S" ]] || { tail -20 "$WORK/sipp.out" >&2; die "sipp wrote no statistics (exit $SIPP_RC)"; }
CREATED="$(sipp_stat "$S" 'TotalCallCreated')"
OK="$(sipp_stat "$S" 'SuccessfulCall(C)')"
FAILED="$(sipp_stat "$S" 'FailedCall(C)')"
RETRANS="$(sipp_stat "$S" 'Retransmissions(C)')"
ELAPSED="$(sipp_stat "$S" 'ElapsedTime(C)')"
MAXCUR="$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "CurrentCall") c = i; next } $c > m { m = $c } END { print m + 0 }' "$S")"
FAILPCT="$(awk -v f="$FAILED" -v c="$CREATED" 'BEGIN { printf "%.3f", c ? 100 * f / c : 100 }')"
ENGINE_CPU="$(awk -v a="$CPU0" -v b="$CPU1" -v t0="$T0" -v t1="$T1" 'BEGIN { printf "%.1f s over %.1f s = %.0f%% of one core", b - a, t1 - t0, 100 * (b - a) / (t1 - t0) }')"
PEAK="$(awk 'NR > 1 { d = $2 - p; if (d > m) m = d } { p = $2 } END { printf "%.0f%%", 100 * m }' "$WORK/engine_samples.txt")"
RTT="$(ls "$WORK"/*_rtt.csv 2>/dev/null | head -1)"
FAIL_KINDS="$(for k in FailedMaxUDPRetrans FailedUnexpectedMessage FailedCallRejected FailedTimeoutOnRecv FailedTimeoutOnSend FailedCannotSendMessage FailedTcpClosed FailedOutboundCongestion; do
    v="$(sipp_stat "$S" "$k(C)")"; [[ "${v:-0}" == 0 ]] || printf '%s=%s ' "$k" "$v"; done)"

{
    echo
    echo "=== call_rate: $RATE calls/s x $CALLS calls, hold $HOLD_MS ms, sipp -t $TRANSPORT ==="
    echo "machine   $(machine_line)"
    echo "sipp      attempted $CREATED, successful $OK, failed $FAILED ($FAILPCT %), exit code $SIPP_RC"
    echo "          elapsed $ELAPSED, retransmissions $RETRANS, max concurrent calls $MAXCUR${FAIL_KINDS:+, $FAIL_KINDS}"
    if [[ -n "$RTT" ]]; then
        for r in answer:INVITE-\>200 bye:BYE-\>200; do
            read -r n p50 p90 p99 p999 max <<<"$(rtt_pcts "$RTT" "${r%%:*}")"
            printf '          %-12s n=%-6s p50 %s ms, p90 %s ms, p99 %s ms, p99.9 %s ms, max %s ms\n' "${r#*:}" "$n" "$p50" "$p90" "$p99" "$p999" "$max"
        done
    fi
    echo "engine    CPU $ENGINE_CPU (busiest second $PEAK); peak RSS $((RSS_MAX / 1024)) MiB"
    SIPP_CPU="$(cat "$WORK/sipp_cpu.txt" 2>/dev/null || echo 0)"
    echo "machine   $(sys_busy "$SYS0" "$SYS1") during the run; $(awk -v s="$SIPP_CPU" -v m0="$M0" -v m1="$M1" -v t0="$T0" -v t1="$T1" 'BEGIN { printf "sipp %.0f%%, meter %.0f%% of one core", 100 * s / (t1 - t0), 100 * (m1 - m0) / (t1 - t0) }')"
    echo "          $(cpu_breakdown "$CPUL0" "$CPUL1")"
    echo "          top processes during the run: $TOP"
    echo "          call records $RECORDS (centralino calls --json), log: answered $ANSWERED, ended $ENDED"
    echo "          busiest threads (name tid cpu_s): $(echo "$THREADS" | head -4 | paste -sd ';' | sed 's/;/; /g')"
    W="$(engine_warnings "$WORK/engine.log" 5)"
    [[ -z "$W" ]] || echo "$W" | sed 's/^/          warn: /'
    grep -h '^  ' "$WORK/meter.out" | sed 's/^  /rtp       /' | grep -E 'streams|packets|within|interval|meter' || echo "rtp       (no meter report)"
    if awk -v f="$FAILPCT" 'BEGIN { exit !(f < 0.1) }' && ((CREATED >= CALLS)); then
        echo "RESULT    PASS: $RATE calls/s with $FAILPCT % failed (target < 0.1 %)"
    else
        echo "RESULT    MISS: $RATE calls/s with $FAILPCT % failed (target < 0.1 %), $CREATED of $CALLS attempted"
    fi
    echo "files     $WORK (engine.log, sipp_*.{csv,log}, meter.out, engine_samples.txt$( ((PERF > 0)) && echo ", perf_report.txt"))"
} | tee "$WORK/summary.txt"
