#!/usr/bin/env bash
# The cost of the cluster: the same load on one node (centralino serve, embedded store, SIP
# straight to it) and on three nodes behind Kamailio sharing PostgreSQL (scripts/cluster.sh),
# one after the other in one run.
#
# For each: (1) call rate: sipp (bench/sipp/uac_hold.xml) calls the Latina number at --rate
# calls/s for --calls calls, each held --hold-ms, then BYE; reported: failed calls and the
# INVITE->200 time. (2) re-announcement: --queue callers wait in section `bench` (the bench
# switchboard of bench/lib.sh, positions announced at most every second); an operator's phone
# registers (through the same entry point) and the operator logs in: the head is answered, and
# the queue journal gives how long after that answer each caller heard their new position (on
# the cluster: decided by the node running the distribution, told over the link to the
# caller's node).
#
#   bench/cluster.sh [--rate 100] [--calls 3000] [--hold-ms 2000] [--queue 300] [--sip-port 15060]
#
# Bounded: sipp's -timeout on every run; every wait has a deadline.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RATE=100 CALLS=3000 HOLD_MS=2000 QUEUE=300 SIP_PORT=15060
while (($#)); do
    case "$1" in
        --rate) RATE="$2"; shift 2 ;;
        --calls) CALLS="$2"; shift 2 ;;
        --hold-ms) HOLD_MS="$2"; shift 2 ;;
        --queue) QUEUE="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools sipp cargo ss awk grep python3 curl psql kamailio
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

build_all
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-cluster.XXXXXX")"
ENGINE_PID="" SIPP_PID="" OP_PID="" CLUSTER_UP=""
cleanup() {
    stop_pid "$OP_PID" INT; stop_pid "$SIPP_PID" INT; stop_pid "$ENGINE_PID"
    [[ -z "$CLUSTER_UP" ]] || CLUSTER_DIR="$WORK/cluster" "$ROOT/scripts/cluster.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT
log "work directory $WORK"
bench_switchboard "$WORK/sb" 1 1
{ echo SEQUENTIAL; for i in $(seq 1 "$QUEUE"); do echo "9;recvonly"; done; } >"$WORK/listen.csv"

# CPU seconds of the processes PIDS... and their children (Kamailio's workers).
cpu_all() {
    local total=0 p
    for p in "$@" $(for q in "$@"; do pgrep -P "$q" || true; done); do
        total="$(awk -v a="$total" -v b="$(cpu_s "$p")" 'BEGIN { print a + b }')"
    done
    echo "$total"
}

# run_calls NAME ENTRY PIDS...: the call-rate phase against ENTRY (addr:port); the CPU of PIDS
# (the engines, Kamailio) is measured over it.
run_calls() {
    local name="$1" entry="$2" dir="$WORK/$1"
    shift 2
    local pids=("$@") c0 c1 t0 t1
    mkdir -p "$dir"
    c0="$(cpu_all "${pids[@]}")" t0="$(date +%s.%N)"
    log "$name: $RATE calls/s x $CALLS calls, hold $HOLD_MS ms, to $entry"
    (cd "$dir" && exec sipp "$entry" -sf "$BENCH_DIR/sipp/uac_hold.xml" -s 0773691001 -t u1 \
        -i 127.0.0.1 -p $((SIP_PORT + 10)) -inf "$WORK/listen.csv" -key hold_ms "$HOLD_MS" \
        -r "$RATE" -rp 1000 -m "$CALLS" -l 50000 -max_socket 60000 -timer_resol 1 \
        -timeout "$((CALLS / RATE + HOLD_MS / 1000 + 60))s" -timeout_error -nostdin \
        -trace_stat -stf "$dir/calls_stat.csv" -fd 1 -trace_rtt -rtt_freq 200 \
        -trace_err -error_file "$dir/calls_errors.log") >"$dir/calls.out" 2>&1 || true
    c1="$(cpu_all "${pids[@]}")" t1="$(date +%s.%N)"
    local s="$dir/calls_stat.csv" rtt
    rtt="$(ls "$dir"/*_rtt.csv 2>/dev/null | head -1)"
    read -r n p50 p90 p99 p999 max <<<"$(rtt_pcts "$rtt" answer)"
    printf '%-8s calls     %s of %s successful, %s failed; INVITE->200 p50 %s ms, p99 %s ms, max %s ms\n' "$name" \
        "$(sipp_stat "$s" 'SuccessfulCall(C)')" "$(sipp_stat "$s" 'TotalCallCreated')" "$(sipp_stat "$s" 'FailedCall(C)')" \
        "$p50" "$p99" "$max" >>"$WORK/summary.txt"
    awk -v n="$name" -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v c="$CALLS" 'BEGIN {
        printf "%-8s cpu       %.1f s for %d calls (%.1f ms per call; %.0f%% of one core over %.0f s), engines and proxy\n",
            n, b - a, c, 1000 * (b - a) / c, 100 * (b - a) / (t1 - t0), t1 - t0 }' >>"$WORK/summary.txt"
}

# run_queue NAME ENTRY HTTP JOURNAL_CMD: the re-announcement phase; JOURNAL_CMD prints the
# queue journal as JSON lines.
run_queue() {
    local name="$1" entry="$2" http="$3" journal="$4" dir="$WORK/$1"
    local count
    count() { eval "$journal" | grep -c "\"event\":\"$1\"" || true; }
    log "$name: $QUEUE callers to the bench queue through $entry"
    (cd "$dir" && exec sipp "$entry" -sf "$BENCH_DIR/sipp/uac_hold.xml" -s 0699999999 -t u1 \
        -i 127.0.0.1 -p $((SIP_PORT + 20)) -inf "$WORK/listen.csv" -key hold_ms 120000 \
        -r 50 -m "$QUEUE" -l $((QUEUE + 10)) -max_socket 60000 -timeout 180s -nostdin \
        -trace_err -error_file "$dir/queue_errors.log") >"$dir/queue.out" 2>&1 &
    SIPP_PID=$!
    local deadline=$((SECONDS + QUEUE / 50 + 60))
    until (($(count entered) >= QUEUE)); do
        ((SECONDS < deadline)) || die "$name: only $(count entered) of $QUEUE callers queued (see $dir)"
        sleep 0.5
    done
    sleep 3
    (cd "$dir" && exec sipp "$entry" -sf "$BENCH_DIR/sipp/operator_phone.xml" -oocsf "$BENCH_DIR/sipp/operator_answers.xml" \
        -inf "$WORK/sb/operators.csv" -s bench -t u1 -i 127.0.0.1 -p $((SIP_PORT + 30)) \
        -key expires 600 -key hold_ms 60000 -key ring_ms 200 -key op_rtp_port 9 \
        -m 1 -timeout 90s -nostdin -trace_err -error_file "$dir/op_errors.log") >"$dir/op.out" 2>&1 &
    OP_PID=$!
    deadline=$((SECONDS + 20))
    until curl -sf -u op0001:pw-op0001 "http://$http/api/operators" | grep -q '"operator":"op0001"[^}]*"reachable":true'; do
        ((SECONDS < deadline)) || die "$name: the operator's phone did not register (see $dir)"
        sleep 0.2
    done
    curl -sf -u op0001:pw-op0001 -X POST "http://$http/api/operator/login" >/dev/null || die "$name: login failed"
    deadline=$((SECONDS + 20))
    until (($(count answered) >= 1)); do
        ((SECONDS < deadline)) || die "$name: the head of the queue was not answered (see $dir)"
        sleep 0.2
    done
    sleep 6
    eval "$journal" >"$dir/queue.jsonl"
    stop_pid "$OP_PID" INT && OP_PID=""
    stop_pid "$SIPP_PID" INT && SIPP_PID=""
    python3 - "$dir/queue.jsonl" "$QUEUE" "$name" >>"$WORK/summary.txt" <<'PY'
import json, sys
from datetime import datetime
def t(s):
    base, frac = s.rstrip("Z").split(".")
    return datetime.fromisoformat(base).timestamp() + float("0." + frac)
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
calls, name = int(sys.argv[2]), sys.argv[3]
ans = next(e for e in events if e["event"] == "answered")
t_ans = t(ans["at"])
after = {}
for e in events:
    if e["event"] == "announced" and t(e["at"]) > t_ans and e["call"] not in after:
        after[e["call"]] = t(e["at"]) - t_ans
d = sorted(v * 1000 for v in after.values())
pct = lambda p: d[min(len(d) - 1, int(p / 100 * len(d)))] if d else float("nan")
print(f"{name:<8} queue     {len(after)} of {calls - 1} callers told their new place after the answer: "
      f"p50 {pct(50):.1f} ms, p99 {pct(99):.1f} ms, last {d[-1]:.1f} ms" if d else f"{name:<8} queue     no announcement after the answer")
PY
}

: >"$WORK/summary.txt"
mkdir -p "$WORK/single"
start_engine "$WORK/single" "$SIP_PORT"
HTTP="$(engine_http "$WORK/single")"
run_calls single "127.0.0.1:$SIP_PORT" "$ENGINE_PID"
run_queue single "127.0.0.1:$SIP_PORT" "$HTTP" "cat '$WORK/single/data/queue.jsonl'"
stop_pid "$ENGINE_PID" && ENGINE_PID=""

log "cluster: three nodes behind Kamailio (scripts/cluster.sh)"
CLUSTER_UP=1
CENTRALINO_BIN="$ENGINE" "$ROOT/scripts/cluster.sh" up --nodes 3 --dir "$WORK/cluster" --net 127.0.77 --rtp-from 20000 \
    --rtp-span 10000 -- --config "$WORK/sb/config.toml" --trees "$WORK/sb/trees" >"$WORK/cluster-up.log" 2>&1 ||
    die "the cluster did not start (see $WORK/cluster-up.log)"
# shellcheck disable=SC1091
source "$WORK/cluster/cluster.env"
mkdir -p "$WORK/three"
run_calls three "$KAMAILIO_SIP" "$NODE1_PID" "$NODE2_PID" "$NODE3_PID" "$KAMAILIO_PID"
run_queue three "$KAMAILIO_SIP" "$NODE1_HTTP" "psql '$STORE_URL' -Atc \"SELECT body FROM journal WHERE kind = 'queue' ORDER BY id\""

{
    echo
    echo "=== cluster: one node against three behind Kamailio; $RATE calls/s x $CALLS, $QUEUE waiting ==="
    echo "machine   $(machine_line)"
    cat "$WORK/summary.txt"
    echo "files     $WORK"
} | tee "$WORK/report.txt"
