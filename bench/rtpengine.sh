#!/usr/bin/env bash
# The same bridged calls as bench/bridged.sh, relayed by rtpengine instead of centralino: the
# peer the relay's cost is compared with (issue 18: at least as many packets per CPU-second).
#
# rtpengine (Debian's rtpengine-daemon) runs in userspace forwarding only (--table=-1: no kernel
# module), on loopback, driven by its ng control protocol (bencode over UDP): for each of --calls
# calls an `offer` with the caller's SDP (media at meter A) and an `answer` with the operator's
# (media at meter B) open a relay pair, as a SIP proxy in front of it would. The meters are
# bench/bridged.sh's, in --talk mode: meter B answers every stream it hears; meter A starts
# talking to rtpengine's caller-side ports at once (--talk-to: rtpengine only forwards, it never
# sends first). So every call carries 50 packets/s each way through rtpengine, like a bridged
# call through the engine. The summary gives rtpengine's CPU per relayed packet and packets
# per CPU-second, in the same form as bench/bridged.sh's.
#
#   bench/rtpengine.sh [--calls 1500] [--window 20] [--settle 8] [--meter-a 19000]
#                      [--meter-b 19100] [--ng-port 22222] [--ports 30000-39999]
#
# bench/relay_comparison.sh runs bench/bridged.sh and this one after the other, in one run.
# Bounded: every wait has a deadline; the meters' --max-run and this script's cleanup end the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CALLS=1500 WINDOW=20 SETTLE=8 MA=19000 MB=19100 NG=22222 PORTS=30000-39999
while (($#)); do
    case "$1" in
        --calls) CALLS="$2"; shift 2 ;;
        --window) WINDOW="$2"; shift 2 ;;
        --settle) SETTLE="$2"; shift 2 ;;
        --meter-a) MA="$2"; shift 2 ;;
        --meter-b) MB="$2"; shift 2 ;;
        --ng-port) NG="$2"; shift 2 ;;
        --ports) PORTS="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
need_tools rtpengine cargo python3 awk grep
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

build_all
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-rtpengine.XXXXXX")"
ENGINE_PID="" MA_PID="" MB_PID=""
cleanup() {
    stop_pid "$ENGINE_PID"
    stop_pid "$MA_PID"; stop_pid "$MB_PID"
}
trap cleanup EXIT
RAMP=5
log "work directory $WORK"

port_free "$MA" && port_free "$MB" && port_free "$NG" || die "ports $MA/$MB/$NG are in use"
rtpengine --foreground --log-stderr --log-level=4 --table=-1 --interface=127.0.0.1 \
    --listen-ng="127.0.0.1:$NG" --port-min="${PORTS%-*}" --port-max="${PORTS#*-}" --timeout=120 \
    --pidfile="$WORK/rtpengine.pid" >"$WORK/rtpengine.log" 2>&1 &
ENGINE_PID=$!
sleep 1
kill -0 "$ENGINE_PID" 2>/dev/null || die "rtpengine did not start: $(tail -3 "$WORK/rtpengine.log")"

M_ARGS=(--streams "$CALLS" --settle "$SETTLE" --window "$WINDOW" --max-wait 180 --max-run $((SETTLE + WINDOW + 240)))
"$METER" --listen "127.0.0.1:$MB" --talk "${M_ARGS[@]}" >"$WORK/meter_b.out" 2>"$WORK/meter_b.err" &
MB_PID=$!

log "ng: $CALLS calls offered and answered"
python3 - "$NG" "$CALLS" "$MA" "$MB" "$WORK/targets.txt" <<'PY' || die "the ng protocol failed (see $WORK/rtpengine.log)"
import re, socket, sys
ng, calls, ma, mb, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def enc(v):
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return str(len(v)).encode() + b":" + v
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, list):
        return b"l" + b"".join(enc(x) for x in v) + b"e"
    return b"d" + b"".join(enc(k) + enc(x) for k, x in sorted(v.items())) + b"e"

def dec(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c in (b"l", b"d"):
        i, items = i + 1, []
        while b[i:i + 1] != b"e":
            x, i = dec(b, i)
            items.append(x)
        return (items if c == b"l" else dict(zip(items[::2], items[1::2]))), i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n].decode(), j + 1 + n

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
def ng_call(cookie, command):
    s.sendto(cookie.encode() + b" " + enc(command), ("127.0.0.1", ng))
    while True:
        data = s.recv(65536)
        got, rest = data.split(b" ", 1)
        if got.decode() == cookie:
            reply, _ = dec(rest)
            if reply.get("result") != "ok":
                sys.exit(f"{command['command']}: {reply}")
            return reply

def sdp(port, session):
    return (f"v=0\r\no=- {session} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")

def port_of(text):
    return int(re.search(r"^m=audio (\d+) ", text, re.M).group(1))

targets = []
for i in range(calls):
    call = f"bench-{i}"
    ng_call(f"o{i}", {"command": "offer", "call-id": call, "from-tag": "caller", "sdp": sdp(ma, i)})
    answer = ng_call(f"a{i}", {"command": "answer", "call-id": call, "from-tag": "caller", "to-tag": "operator",
                               "sdp": sdp(mb, i)})
    # The answer's SDP goes to the caller: where meter A sends the caller's voice.
    targets.append(f"127.0.0.1:{port_of(answer['sdp'])}")
open(out, "w").write("\n".join(targets) + "\n")
PY
"$METER" --listen "127.0.0.1:$MA" --talk-to "$WORK/targets.txt" "${M_ARGS[@]}" >"$WORK/meter_a.out" 2>"$WORK/meter_a.err" &
MA_PID=$!

measure_window "$WORK/meter_a.err" "$WORK/meter_b.err" "$WORK/meter_a.out" "$WORK/meter_b.out"
{
    echo
    echo "=== rtpengine $(rtpengine --version 2>&1 | awk '/Version/ { print $2 }') (userspace): $CALLS calls, window $WINDOW s after $SETTLE s ==="
    echo "machine   $(machine_line)"
    echo "rtpengine CPU in the window $WINDOW_CPU% of one core"
    awk -v cpu="$WINDOW_CPU" -v pa="$(result_field "$WORK/meter_a.out" packets)" -v pb="$(result_field "$WORK/meter_b.out" packets)" \
        -v w="$(result_field "$WORK/meter_a.out" window_s)" 'BEGIN {
        printf "          CPU per relayed packet %.2f us (%.0f packets/s relayed, %.0f packets per CPU-second)\n",
            cpu / 100 * w * 1e6 / (pa + pb), (pa + pb) / w, (pa + pb) / (cpu / 100 * w) }'
    echo "          machine $(sys_busy "$S0" "$S1") in the window; RSS $((RSS / 1024)) MiB"
    for side in a b; do
        f="$WORK/meter_$side.out"
        what=$([[ $side == a ]] && echo "operator -> caller (meter A)" || echo "caller -> operator (meter B)")
        echo "$what:"
        grep -E '^  (streams|packets|delay|meter)' "$f" | sed 's/^  /          /'
    done
    echo "files     $WORK"
} | tee "$WORK/summary.txt"
