#!/usr/bin/env bash
# Slot bookings through the HTTP API under concurrent clients.
#
# Starts the engine on the shipped configuration with a fresh data directory, collects every
# free slot of every agency for the next --windows x 31 days through the API, then wrk
# (bench/bookings.lua) books them, each request a different slot, over --connections
# connections for --duration seconds. Each 201 is a durable booking (committed with fsync).
# Afterwards the booked slots are counted through the API (free slots before - free slots
# after): every acknowledged booking must be among them (a few more may be booked by requests
# still in flight when wrk stopped, at most one per connection).
#
#   bench/bookings.sh [--connections 64] [--threads 2] [--duration 3] [--windows 5] [--sip-port 15060]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CONNS=64 THREADS=2 DURATION=3 WINDOWS=5 SIP_PORT=15060
while (($#)); do
    case "$1" in
        --connections) CONNS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --windows) WINDOWS="$2"; shift 2 ;;
        --sip-port) SIP_PORT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools wrk cargo python3

build_all
start_api_engine bookings "$SIP_PORT"

count_free() {
    python3 - "$HTTP" "$WINDOWS" "$1" <<'PY'
import base64, datetime, http.client, json, sys
host, windows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection(host, timeout=60)
h = {"Authorization": "Basic " + base64.b64encode(b"mrossi:demo-mrossi").decode()}
c.request("GET", "/api/agencies", headers=h)
agencies = [a["id"] for a in json.loads(c.getresponse().read())]
today = datetime.date.today() + datetime.timedelta(days=1)
slots = []
for w in range(windows):
    start = today + datetime.timedelta(days=31 * w)
    for a in agencies:
        c.request("GET", f"/api/agencies/{a}/slots?from={start}&days=31", headers=h)
        slots += [(a, s) for s in json.loads(c.getresponse().read())]
if out != "-":
    with open(out, "w") as f:
        f.write("return {\n" + "".join(f'{{"{a}","{s}"}},\n' for a, s in slots) + "}\n")
print(len(slots))
PY
}
log "collecting free slots ($WINDOWS x 31 days, every agency)"
BEFORE="$(count_free "$WORK/slots.lua")"
log "$BEFORE free slots; wrk: $CONNS connections, $THREADS threads, ${DURATION} s"
C0="$(cpu_s "$ENGINE_PID")" T0="$(date +%s.%N)"
BENCH_SLOTS="$WORK/slots.lua" BENCH_THREADS="$THREADS" wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --latency \
    --timeout 10s -s "$BENCH_DIR/bookings.lua" "http://$HTTP" >"$WORK/wrk.out" 2>&1 || die "wrk failed (see $WORK/wrk.out)"
C1="$(cpu_s "$ENGINE_PID")" T1="$(date +%s.%N)"
AFTER="$(count_free -)"
BOOKED=$((BEFORE - AFTER))
CREATED="$(grep -c '"appointment booked"' "$WORK/engine.log" || true)"
RPS="$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.out")"
NON2XX="$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk.out")"; NON2XX="${NON2XX:-0}"
{
    echo
    echo "=== bookings: $CONNS connections, ${DURATION} s, $BEFORE free slots ==="
    echo "machine   $(machine_line)"
    grep -E "Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors" "$WORK/wrk.out" | sed 's/^/wrk       /'
    awk -v a="$C0" -v b="$C1" -v t0="$T0" -v t1="$T1" 'BEGIN { printf "engine    CPU %.1f%% of one core\n", 100 * (b - a) / (t1 - t0) }'
    echo "store     $CREATED bookings acknowledged (engine log), $BOOKED slots no longer free"
    awk -v n="$CREATED" -v booked="$BOOKED" -v all="$BEFORE" -v rps="$RPS" -v bad="$NON2XX" -v conns="$CONNS" 'BEGIN {
        exhausted = (n >= all) ? " (every slot booked: a lower bound)" : ""
        printf "RESULT    %s: %.0f durable bookings/s%s, %d refused; acknowledged %d, no longer free %d\n", (n <= booked && booked - n <= conns && bad == 0) ? "PASS" : "MISS", rps, exhausted, bad, n, booked }'
    echo "files     $WORK"
} | tee "$WORK/summary.txt"
grep -q '^RESULT    PASS' "$WORK/summary.txt"
