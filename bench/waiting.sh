#!/usr/bin/env bash
# Callers waiting in one section: hold music, position announcements, and the time to tell
# everyone their new position when the head of the queue is answered.
#
# The bench switchboard (bench/lib.sh bench_switchboard: the shipped one plus a number whose
# tree queues every call at once in section `bench`, announcements at most every second) gets
# --calls callers from sipp (bench/sipp/uac_hold.xml, RTP to bench/rtp-meter, which keeps them
# alive). Once the queue journal shows them all waiting, the engine's CPU and RSS are measured
# over --window seconds (hold music and announcements playing). Then one operator's phone
# (sipp, bench/sipp/operator_phone.xml + operator_answers.xml as -oocsf) registers with digest
# authentication and the operator logs in through the HTTP API: the head of the queue is offered
# and answered, every other caller moves up one place, and the journal's timestamps give how
# long after the answer each caller's new position was announced (decided and sent to its call
# task). Every caller is announced again: their last announcement is older than the minimum
# interval.
#
#   bench/waiting.sh [--calls 3000] [--rate 200] [--window 20] [--sip-port 15060]
#                    [--sipp-port 15070] [--op-port 15090] [--meter-port 19000]
#
# Target (issue 4): 3 000 callers waiting in one section; report the re-announcement time, CPU
# and memory. Bounded: every wait has a deadline; sipp's -timeout ends the callers.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CALLS=3000 RATE=200 WINDOW=20 SIP_PORT=15060 SIPP_PORT=15070 OP_PORT=15090 METER_PORT=19000
while (($#)); do
    case "$1" in
        --calls) CALLS="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --window) WINDOW="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        --sipp-port) SIPP_PORT="$2"; shift 2 ;;
        --op-port) OP_PORT="$2"; shift 2 ;;
        --meter-port) METER_PORT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools sipp cargo ss awk grep python3 curl
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

build_all
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-waiting.XXXXXX")"
ENGINE_PID="" METER_PID="" SIPP_PID="" OP_PID=""
cleanup() { stop_pid "$OP_PID" INT; stop_pid "$SIPP_PID" INT; stop_pid "$METER_PID"; stop_pid "$ENGINE_PID"; }
trap cleanup EXIT

RAMP=$(((CALLS + RATE - 1) / RATE))
HOLD_S=$((RAMP + WINDOW + 60))
log "work directory $WORK"
bench_switchboard "$WORK" 1 1
start_engine "$WORK" "$SIP_PORT"
HTTP="$(engine_http "$WORK")"
[[ -n "$HTTP" ]] || die "no HTTP address in the engine's log"
RSS0="$(rss_kib "$ENGINE_PID")"
media_csv "$WORK/media.csv" "$METER_PORT"
start_meter "$WORK" "$METER_PORT" --keepalive-ms 1000 --max-run $((HOLD_S + 120))
QUEUE="$WORK/data/queue.jsonl"
count() { grep -c "\"event\":\"$1\"" "$QUEUE" 2>/dev/null || true; }

log "sipp: $CALLS callers at $RATE calls/s to the bench queue, hold ${HOLD_S} s"
start_hold_callers

DEADLINE=$((SECONDS + RAMP + 60))
until (($(count entered) >= CALLS)); do
    ((SECONDS < DEADLINE)) || die "only $(count entered) of $CALLS callers queued (see $WORK)"
    kill -0 "$SIPP_PID" 2>/dev/null || die "sipp ended early (see $WORK/sipp.out)"
    sleep 0.5
done
log "$CALLS callers waiting; settling 5 s, then a ${WINDOW} s window"
sleep 5
C0="$(cpu_s "$ENGINE_PID")" T0="$(date +%s.%N)" S0="$(sys_jiffies)" A0="$(count announced)"
sleep "$WINDOW"
C1="$(cpu_s "$ENGINE_PID")" T1="$(date +%s.%N)" S1="$(sys_jiffies)" A1="$(count announced)"
RSS_WAIT="$(rss_kib "$ENGINE_PID")"

log "operator op0001 registers and logs in: the head of the queue is answered"
(
    cd "$WORK"
    exec sipp "127.0.0.1:$SIP_PORT" -sf "$BENCH_DIR/sipp/operator_phone.xml" -oocsf "$BENCH_DIR/sipp/operator_answers.xml" \
        -inf "$WORK/operators.csv" -s bench -t u1 -i 127.0.0.1 -p "$OP_PORT" -mp $((OP_PORT + 2)) \
        -key expires 600 -key hold_ms 60000 -key ring_ms 200 -key op_rtp_port "$METER_PORT" \
        -m 1 -timeout 90s -nostdin -trace_err -error_file "$WORK/op_errors.log" -trace_msg -message_file "$WORK/op_messages.log"
) >"$WORK/op.out" 2>&1 &
OP_PID=$!
DEADLINE=$((SECONDS + 20))
until grep -q '"operator phone registered"' "$WORK/engine.log"; do
    ((SECONDS < DEADLINE)) || die "the operator's phone did not register (see $WORK/op_messages.log)"
    sleep 0.2
done
curl -sf -u op0001:pw-op0001 -X POST "http://$HTTP/api/operator/login" >"$WORK/login.json" || die "API login failed"
DEADLINE=$((SECONDS + 20))
until (($(count answered) >= 1)); do
    ((SECONDS < DEADLINE)) || die "the head of the queue was not answered (see $WORK)"
    sleep 0.2
done
sleep 5
RSS_MAX="$(hwm_kib "$ENGINE_PID")"

REPORT="$(python3 - "$QUEUE" "$CALLS" <<'PY'
import json, sys
from datetime import datetime
def t(s):
    # 2026-11-23T17:00:24.777660319Z -> seconds (microseconds are enough)
    base, frac = s.rstrip("Z").split(".")
    return datetime.fromisoformat(base).timestamp() + float("0." + frac)
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
calls = int(sys.argv[2])
ans = next(e for e in events if e["event"] == "answered")
t_ans = t(ans["at"])
last_before = {}
for e in events:
    if e["event"] == "announced" and t(e["at"]) <= t_ans:
        last_before[e["call"]] = e["ahead"]
after = {}
for e in events:
    if e["event"] == "announced" and t(e["at"]) > t_ans and e["call"] not in after:
        after[e["call"]] = (t(e["at"]) - t_ans, e["ahead"])
d = sorted(v[0] * 1000 for v in after.values())
moved_up = sum(1 for c, (_, a) in after.items() if c in last_before and a == last_before[c] - 1)
pct = lambda p: d[min(len(d) - 1, int(p / 100 * len(d)))] if d else float("nan")
print(f"announced {len(after)} of {calls - 1} remaining callers after the answer; {moved_up} one place up")
print(f"delay after the answer: first {d[0]:.1f} ms, p50 {pct(50):.1f} ms, p99 {pct(99):.1f} ms, last {d[-1]:.1f} ms")
PY
)"

{
    echo
    echo "=== waiting: $CALLS callers in one section (rate $RATE/s), window $WINDOW s ==="
    echo "machine   $(machine_line)"
    echo "sipp      $(grep -c . "$WORK/sipp_errors.log" 2>/dev/null || echo 0) error line(s); queued $(count entered), abandoned $(count abandoned)"
    awk -v a="$C0" -v b="$C1" -v t0="$T0" -v t1="$T1" -v n0="$A0" -v n1="$A1" 'BEGIN {
        printf "engine    CPU while %s callers wait: %.1f%% of one core; announcements in the window: %d (%.0f/s)\n", "'"$CALLS"'", 100 * (b - a) / (t1 - t0), n1 - n0, (n1 - n0) / (t1 - t0) }'
    echo "          machine $(sys_busy "$S0" "$S1") in the window"
    echo "          RSS $((RSS0 / 1024)) MiB idle, $((RSS_WAIT / 1024)) MiB with $CALLS waiting ($(((RSS_WAIT - RSS0) / CALLS)) KiB per waiting caller), peak $((RSS_MAX / 1024)) MiB"
    echo "$REPORT" | sed 's/^/queue     /'
    echo "files     $WORK"
} | tee "$WORK/summary.txt"
