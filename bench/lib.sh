# Shared helpers of the bench/ scripts (sourced, not run). Loopback only.
# shellcheck shell=bash

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
# BENCH_ENGINE=/path/to/centralino measures another build (e.g. an older commit) instead.
ENGINE="${BENCH_ENGINE:-$ROOT/target/release/centralino}"
METER="$ROOT/target/rtp-meter/release/rtp-meter"
# The caller's scenario (override to experiment, e.g. without the random start offset).
SCENARIO="${BENCH_SCENARIO:-$BENCH_DIR/sipp/uac_hold.xml}"
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
# BENCH_SRTP=1: the bench's phones (sipp's SDP, the meters' streams) use SRTP with this key, and
# the bench switchboard requires it on both legs (see srtp_scenario).
BENCH_SRTP_KEY="YmVuY2gtc3J0cC1tYXN0ZXIta2V5LWFuZC1zYWx0"
# Extra sipp arguments of the callers (start_hold_callers), e.g. the SRTP key log.
SIPP_LOG=()

# srtp_scenario IN OUT: the sipp scenario IN made SRTP into OUT: RTP/SAVP with the bench's
# crypto line, and the engine's port and key (from its answer, or its offer to a phone) logged
# as `srtp PORT KEY` for the meter (run sipp with -trace_logs -log_file). Each line is padded
# past stdio's buffer so that it reaches the file at once (sipp flushes its log only at exit;
# an <exec> per call makes sipp fork, too slow at 100 calls/s). Derived at bench time so that
# the plain scenarios stay as every other bench runs them.
srtp_scenario() {
    python3 - "$1" "$2" "$BENCH_SRTP_KEY" <<'PY'
import re, sys
src, out, key = sys.argv[1:4]
text = open(src).read()
text, n = re.subn(r"(m=audio \S+) RTP/AVP", r"\1 RTP/SAVP", text)
assert n == 1, src
text = text.replace("a=ptime:20\n", f"a=ptime:20\n      a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\n", 1)
note = f""">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="media_line,engine_port"/>
      <ereg regexp="inline:([A-Za-z0-9+/=]+)" search_in="body" check_it="true" assign_to="inline,engine_key"/>
      <log message="srtp [$engine_port] [$engine_key] [$media_line] [$inline] {'.' * 9000}"/>
    </action>
  </recv>"""
text, n = re.subn(r'(<recv (?:response="200" rtd="answer" rrs="true"|request="INVITE" crlf="true"))/>', lambda m: m.group(1) + note, text, count=1)
assert n == 1, src
open(out, "w").write(text)
PY
}

die() { echo "bench: $*" >&2; exit 1; }
trap 'echo "bench: failed at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# Fail early, with a clear message, when a tool is missing.
need_tools() {
    local missing=()
    for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
    if ((${#missing[@]})); then
        echo "bench: missing tools: ${missing[*]}" >&2
        for t in "${missing[@]}"; do
            case "$t" in
                sipp) echo "  sipp: apt-get install sip-tester" >&2 ;;
                cargo) echo "  cargo: install a Rust toolchain (rustup)" >&2 ;;
                perf) echo "  perf: apt-get install linux-perf" >&2 ;;
                wrk) echo "  wrk: apt-get install wrk" >&2 ;;
                *) echo "  $t: install it with your package manager" >&2 ;;
            esac
        done
        exit 1
    fi
}

# One bench at a time on a machine: they share ports and would disturb each other's figures.
bench_lock() {
    exec 9>"${BENCH_TMP:-/tmp}/centralino-bench.lock"
    if ! flock -n 9; then
        log "another bench is running; waiting for it (at most 10 minutes)"
        flock -w 600 9 || die "another bench still holds ${BENCH_TMP:-/tmp}/centralino-bench.lock"
    fi
}

# Release binaries: the engine and the RTP meter (a separate cargo package, own target dir).
build_all() {
    bench_lock
    if [[ -z "${BENCH_ENGINE:-}" ]]; then
        log "cargo build --release (engine)"
        (cd "$ROOT" && cargo build --release --quiet) || die "engine build failed"
    else
        log "engine: $BENCH_ENGINE (BENCH_ENGINE; not built)"
    fi
    log "cargo build --release (bench/rtp-meter)"
    (cd "$BENCH_DIR/rtp-meter" && cargo build --release --quiet --target-dir "$ROOT/target/rtp-meter") ||
        die "rtp-meter build failed"
    [[ -x "$ENGINE" && -x "$METER" ]] || die "binaries not found after the build"
    check_quiet
}

# A UDP or TCP port on 127.0.0.1 must be free.
port_free() {
    ! ss -Hlnu "sport = :$1" 2>/dev/null | grep -q . && ! ss -Hlnt "sport = :$1" 2>/dev/null | grep -q .
}

# Extra `serve` arguments (e.g. the bench switchboard's --config and --trees).
ENGINE_EXTRA=()

# start_engine WORKDIR SIP_PORT: engine on 127.0.0.1, JSON log to WORKDIR/engine.log,
# data dir in WORKDIR/data, RTP ports 20000-59999, media clock priority $CLOCK_PRIORITY if set
# (realtime, raised, normal; default: the configuration's); sets ENGINE_PID.
start_engine() {
    local dir="$1" port="$2"
    port_free "$port" || die "port $port is in use on this machine: choose another with --sip-port"
    # fd 9 (the bench lock) is not passed on: an orphaned engine must not keep the lock.
    (cd "$ROOT" && exec 9>&- && exec "$ENGINE" serve --sip-udp "127.0.0.1:$port" --sip-tcp "127.0.0.1:$port" --http 127.0.0.1:0 \
        --rtp-ports 20000-59999 --data-dir "$dir/data" --log-format json "${ENGINE_EXTRA[@]}" \
        ${CLOCK_PRIORITY:+--clock-priority "$CLOCK_PRIORITY"}) 2>"$dir/engine.log" &
    ENGINE_PID=$!
    local i
    for i in $(seq 1 100); do
        grep -q '"switchboard ready"' "$dir/engine.log" 2>/dev/null && return 0
        kill -0 "$ENGINE_PID" 2>/dev/null || { tail -5 "$dir/engine.log" >&2; die "the engine did not start"; }
        sleep 0.1
    done
    die "the engine did not log 'switchboard ready' within 10 s (see $dir/engine.log)"
}

# start_meter WORKDIR PORT ARGS...: sets METER_PID; report in WORKDIR/meter.out.
# The engine's HTTP address, from the "switchboard ready" line of its log in directory $1.
engine_http() { grep -o '"http":"[0-9.:]*"' "$1/engine.log" | head -1 | cut -d'"' -f4; }

# For the API benches: a work directory (WORK), the engine started in it on SIP port $2 and
# stopped on exit (ENGINE_PID), and its HTTP address (HTTP). $1 names the bench.
start_api_engine() {
    WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/centralino-bench-$1.XXXXXX")"
    ENGINE_PID=""
    trap 'stop_pid "$ENGINE_PID"' EXIT
    log "work directory $WORK"
    start_engine "$WORK" "$2"
    HTTP="$(engine_http "$WORK")"
    [[ -n "$HTTP" ]] || die "no HTTP address in the engine's log"
}

start_meter() {
    local dir="$1" port="$2"
    shift 2
    port_free "$port" || die "meter port $port is in use: choose another with --meter-port"
    "$METER" --listen "127.0.0.1:$port" "$@" >"$dir/meter.out" 2>"$dir/meter.err" &
    METER_PID=$!
    sleep 0.2
    kill -0 "$METER_PID" 2>/dev/null || { cat "$dir/meter.err" >&2; die "the RTP meter did not start"; }
}

# The measured window of a bridged run (the callers' side A, the operators' side B): waits,
# bounded, until both sides' windows started (`window started` in their stderr files ERR_A,
# ERR_B), then until both reported (`RESULT` in OUT_A, OUT_B). Sets QUEUE, BRIDGED (calls
# answered when the window opened), WINDOW_CPU (the engine's, % of one core), S0/S1 (machine
# jiffies), TOP (the top processes in the window) and RSS (the engine's, KiB).
measure_window() {
    local err_a="$1" err_b="$2" out_a="$3" out_b="$4" c0 c1 t0 t1 p0 deadline
    deadline=$((SECONDS + RAMP + 90))
    until grep -q 'window started' "$err_a" && grep -q 'window started' "$err_b"; do
        ((SECONDS < deadline)) || die "the measurement windows did not start (see $WORK)"
        sleep 0.2
    done
    c0="$(cpu_s "$ENGINE_PID")" t0="$(date +%s.%N)" S0="$(sys_jiffies)" p0="$(proc_snapshot)"
    QUEUE="$WORK/data/queue.jsonl"
    BRIDGED="$(grep -c '"event":"answered"' "$QUEUE" 2>/dev/null || true)"
    log "windows open${BRIDGED:+ with $BRIDGED calls bridged}"
    deadline=$((SECONDS + WINDOW + 30))
    until grep -q '^RESULT' "$out_a" && grep -q '^RESULT' "$out_b"; do
        ((SECONDS < deadline)) || die "the measurements did not report (see $WORK)"
        sleep 0.2
    done
    c1="$(cpu_s "$ENGINE_PID")" t1="$(date +%s.%N)" S1="$(sys_jiffies)"
    echo "$p0" >"$WORK/procs0.txt"
    proc_snapshot >"$WORK/procs1.txt"
    TOP="$(top_consumers "$WORK/procs0.txt" "$WORK/procs1.txt" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")"
    RSS="$(rss_kib "$ENGINE_PID")"
    WINDOW_CPU="$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.1f", 100 * (b - a) / (t1 - t0) }')"
}

# A field of the RESULT line of a meter's or client's output: `result_field FILE KEY`.
result_field() { sed -E "s/.* $2=([^ ]*).*/\1/" <<<"$(grep '^RESULT' "$1")"; }

# sipp callers to the bench number, CALLS of them at RATE a second, each holding HOLD_S s with
# its media at the address list of media_csv (bench/sipp/uac_hold.xml by default); sets SIPP_PID.
# Reads SIP_PORT, SIPP_PORT, RAMP and WORK.
start_hold_callers() {
    (
        cd "$WORK"
        exec sipp "127.0.0.1:$SIP_PORT" -sf "$SCENARIO" -s "$BENCH_NUMBER" -t u1 \
            -i 127.0.0.1 -p "$SIPP_PORT" -mp $((SIPP_PORT + 10)) \
            -inf "$WORK/media.csv" -key hold_ms $((HOLD_S * 1000)) "${SIPP_LOG[@]}" \
            -r "$RATE" -rp 1000 -m "$CALLS" -l $((CALLS + 100)) -max_socket 60000 \
            -timer_resol 1 -recv_timeout 10000 -timeout "$((HOLD_S + RAMP + 60))s" -timeout_error -nostdin \
            -trace_stat -stf "$WORK/sipp_stat.csv" -fd 1 -trace_err -error_file "$WORK/sipp_errors.log"
    ) >"$WORK/sipp.out" 2>&1 &
    SIPP_PID=$!
}

# media_csv FILE METER_PORT [EVERY DISCARD_PORT]: sipp -inf file; every EVERY-th call sends
# its media to the meter (sendrecv), the others to the meter's unread discard port (recvonly).
media_csv() {
    local file="$1" port="$2" every="${3:-1}" discard="${4:-0}" i
    { echo SEQUENTIAL; echo "$port;sendrecv;"; for ((i = 1; i < every; i++)); do echo "$discard;recvonly;"; done; } >"$file"
}

# CPU seconds (user+system) of a process so far.
cpu_s() {
    awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# Per-thread CPU seconds of a process: "name tid seconds", busiest first.
thread_cpu() {
    local t
    for t in /proc/"$1"/task/*; do
        awk -v hz="$CLK_TCK" -v tid="${t##*/}" '{ c = $0; sub(/^[^(]*\(/, "", c); sub(/\).*$/, "", c);
            s = $0; sub(/^.*\) /, "", s); split(s, f, " "); printf "%s %s %.2f\n", c, tid, (f[12] + f[13]) / hz }' "$t/stat" 2>/dev/null || true
    done | sort -k3 -nr
}

# Sample once a second: "elapsed_s engine_cpu_s rss_kib threads" into FILE until the process ends.
start_sampler() {
    local pid="$1" file="$2" t0
    t0=$(date +%s.%N)
    (
        while kill -0 "$pid" 2>/dev/null; do
            echo "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') $(cpu_s "$pid") $(rss_kib "$pid") $(ls /proc/"$pid"/task 2>/dev/null | wc -l)"
            sleep 1
        done
    ) >"$file" &
    SAMPLER_PID=$!
}

# stop PID [SIGNAL]: end a process we started and wait for it (bounded).
stop_pid() {
    local pid="$1" sig="${2:-TERM}" i
    [[ -n "$pid" ]] || return 0
    kill -"$sig" "$pid" 2>/dev/null || return 0
    # `|| true`: under `set -e` (cleanup traps included) a killed child's status would end the
    # caller here, before it stops the next process.
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        # The engine drains its calls on the first TERM and stops at once on a second one.
        ((i != 20)) || kill -"$sig" "$pid" 2>/dev/null || true
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 0
}

# Value of column NAME in the last line of a sipp -trace_stat CSV.
sipp_stat() {
    awk -F';' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
        { last = $c } END { print last }' "$1"
}

# sipp's "HH:MM:SS:uuuuuu" to milliseconds.
hms_ms() { awk -F: -v v="$1" 'BEGIN { split(v, f, ":"); printf "%.1f", ((f[1] * 60 + f[2]) * 60 + f[3]) * 1000 + f[4] / 1000 }'; }

# Percentiles of one response-time timer from a sipp -trace_rtt CSV: "n p50 p90 p99 p99.9 max" (ms).
rtt_pcts() {
    awk -F';' -v name="$2" 'NR > 1 && $3 == name { print $2 }' "$1" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 - - - - -"; exit }
            n = NR; split("50 90 99 99.9", p, " "); printf "%d", n
            for (i = 1; i <= 4; i++) { r = int(p[i] / 100 * n + 0.999999); if (r < 1) r = 1; printf " %s", v[r] }
            printf " %s\n", v[n] }'
}

# Engine log lines at WARN or ERROR, grouped by message (JSON log).
engine_warnings() {
    { grep -E '"level":"(WARN|ERROR)"' "$1" || true; } | sed -E 's/.*"message":"([^"]*)".*/\1/' | sort | uniq -c | sort -nr | head -"${2:-10}"
}

# Busy and total jiffies of the whole machine (all CPUs), from /proc/stat: "busy total".
sys_jiffies() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }

# Machine CPU busy % between two sys_jiffies readings, in cores: "1.85 of 2 cores (92%)".
sys_busy() {
    awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ");
        f = (y[1] - x[1]) / (y[2] - x[2]); printf "%.2f of %d cores busy (%.0f%%)", f * n, n, 100 * f }'
}

# Keep the last CPU reading of a process that is about to exit: "cpu_s" in FILE every 0.5 s.
start_cpu_watch() {
    local pid="$1" file="$2"
    ( while kill -0 "$pid" 2>/dev/null; do c="$(cpu_s "$pid")"; [[ -z "$c" ]] || echo "$c" >"$file"; sleep 0.5; done ) &
    WATCH_PID=$!
}

# The whole machine's /proc/stat "cpu" line, to be compared with cpu_breakdown.
cpu_line() { grep '^cpu ' /proc/stat; }

# Where the machine's time went between two cpu_line readings, in cores:
# "user 0.80 system 0.60 softirq 0.30 steal 0.00 idle 0.30".
cpu_breakdown() {
    awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " "); t = 0
        for (i = 2; i <= 9; i++) { d[i] = y[i] - x[i]; t += d[i] }
        printf "user %.2f, system %.2f, softirq %.2f, irq %.2f, steal %.2f, idle %.2f cores",
            n * (d[2] + d[3]) / t, n * d[4] / t, n * d[8] / t, n * d[7] / t, n * d[9] / t, n * (d[5] + d[6]) / t }'
}

# CPU ticks of every process: "pid comm ticks" lines (for top_consumers).
proc_snapshot() {
    local f
    for f in /proc/[0-9]*/stat; do
        awk '{ c = $0; sub(/^[^(]*\(/, "", c); sub(/\).*$/, "", c); gsub(/ /, "_", c);
            s = $0; sub(/^.*\) /, "", s); split(s, x, " "); print $1, c, x[12] + x[13] }' "$f" 2>/dev/null || true
    done
    return 0
}

# The processes that used the most CPU between two proc_snapshot files, in % of one core.
top_consumers() {
    local secs="$3"
    awk -v hz="$CLK_TCK" -v secs="$secs" 'NR == FNR { a[$1] = $3; next }
        { d = $3 - ($1 in a ? a[$1] : 0); if (d > 0) printf "%s(%s) %.0f\n", $2, $1, 100 * d / hz / secs }' "$1" "$2" |
        sort -k2 -nr | head -"${4:-6}" | awk '{ printf "%s%s %s%%", (NR > 1 ? ", " : ""), $1, $2 }'
}

# Warn when the machine is already busy (other test runs disturb the figures): sets QUIET_NOTE.
check_quiet() {
    local a b pct
    a="$(sys_jiffies)"; sleep 2; b="$(sys_jiffies)"
    pct="$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }')"
    QUIET_NOTE="machine ${pct}% busy before the start"
    if ((pct > 10)); then
        QUIET_NOTE="$QUIET_NOTE (WARNING: figures may be disturbed; busiest: $(ps -eo pcpu=,comm= --sort=-pcpu | head -3 | awk '{printf "%s %s%%; ", $2, $1}'))"
        log "$QUIET_NOTE"
    fi
}

machine_line() {
    echo "$(date -u +%Y-%m-%dT%H:%MZ) $(hostname) nproc=$(nproc) mem=$(free -h | awk '/^Mem:/ {print $2}') load=$(cut -d' ' -f1-3 /proc/loadavg) engine=${BENCH_ENGINE:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')}; ${QUIET_NOTE:-}"
}

# The number of the bench switchboard: every call to it queues at once in section `bench`.
BENCH_NUMBER=0699999999

# bench_switchboard WORKDIR OPERATORS [ANNOUNCE_MIN_S]: the shipped configuration and trees
# plus a tree `bench-queue` (start: queue to `bench`), its number +390699999999, the section
# `bench` (announcements at most every ANNOUNCE_MIN_S, default 1 s; no overflow routes) and
# OPERATORS operators op0001.. (password pw-op0001.., section bench, MD5 offered first for
# sipp). Writes WORKDIR/config.toml, WORKDIR/trees/, WORKDIR/operators.csv (sipp -inf:
# user;password) and sets ENGINE_EXTRA to use them.
bench_switchboard() {
    local dir="$1" ops="$2" announce="${3:-1}"
    mkdir -p "$dir/trees"
    cp "$ROOT"/ivr-trees/*.yaml "$dir/trees/"
    cat >"$dir/trees/bench-queue.yaml" <<'YAML'
description: Benchmark tree (bench/lib.sh); every call queues at once in section bench.
languages: [it, en]
start: queue
prompts: {}
nodes:
  queue:
    queue:
      section: bench
YAML
    python3 - "$ROOT/config/centralino.toml" "$dir" "$ops" "$announce" "${RTP_IO:-}" "${BENCH_SRTP:-0}" <<'PY'
import hashlib, sys
src, out, ops, announce, rtp_io, srtp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
text = open(src).read()
# RTP_IO (auto, io_uring, epoll): how the media receivers talk to the kernel (rtp.io); "unset"
# leaves the key out, for builds older than it (BENCH_ENGINE).
if rtp_io:
    text = text.replace('io = "auto"\n', '' if rtp_io == "unset" else f'io = "{rtp_io}"\n')
# The bench section must not inherit the shipped routes to nodes of the national tree.
text = text.replace('after_max_wait = { message = "queue_timeout" }\n', '')
text = text.replace('max_wait_seconds = 1200            # 20 minutes, then:\n', '')
text = text.replace('when_no_operators = { node = "no_operator_now" }\n', '')
text = text.replace('digest_algorithms = ["SHA-256", "MD5"]', 'digest_algorithms = ["MD5", "SHA-256"]')
# BENCH_SRTP=1 requires SRTP on both legs; "unset" leaves the keys out, for builds older than them.
if srtp == "1":
    text = text.replace('srtp = "optional"\noperators_srtp = "optional"', 'srtp = "required"\noperators_srtp = "required"')
elif srtp == "unset":
    text = text.replace('srtp = "optional"\noperators_srtp = "optional"\n', '')
realm = "centralino.inps.example"
parts = [text, f"""
[[numbers]]
number = "+390699999999"
province = "RM"
label = "Benchmark queue"
tree = "bench-queue"

[sections.bench]
name = "Benchmark"
tree = "bench-queue"

[sections.bench.queue]
announce_min_interval_seconds = {announce}
announce_every_seconds = 600
wrap_up_seconds = 0
"""]
csv = ["SEQUENTIAL"]
for i in range(1, ops + 1):
    u, p = f"op{i:04d}", f"pw-op{i:04d}"
    md5 = hashlib.md5(f"{u}:{realm}:{p}".encode()).hexdigest()
    sha = hashlib.sha256(f"{u}:{realm}:{p}".encode()).hexdigest()
    parts.append(f'\n[[operators]]\nusername = "{u}"\ndisplay_name = "Bench {i}"\nsections = ["bench"]\nha1_md5 = "{md5}"\nha1_sha256 = "{sha}"\n')
    csv.append(f"{u};{p}")
open(f"{out}/config.toml", "w").write("".join(parts))
open(f"{out}/operators.csv", "w").write("\n".join(csv) + "\n")
PY
    ENGINE_EXTRA=(--config "$dir/config.toml" --trees "$dir/trees")
    (cd "$ROOT" && "$ENGINE" check --config "$dir/config.toml" --trees "$dir/trees" >"$dir/check.out" 2>&1) ||
        die "the bench switchboard does not pass centralino check (see $dir/check.out)"
}

# Throw-away PostgreSQL databases for a bench: `create_bench_db NAME` starts the server if
# needed (scripts/postgres.sh), creates one and sets BENCH_DB_URL; `drop_bench_dbs` (in the
# EXIT trap) drops them. BENCH_PG names another server's maintenance database.
BENCH_DBS=()
create_bench_db() {
    if [[ -z "${BENCH_PG:-}" ]]; then
        # shellcheck source=../scripts/postgres.sh
        source "$ROOT/scripts/postgres.sh"
        start_postgres >&2
        BENCH_PG="$CENTRALINO_TEST_PG"
    fi
    local name="centralino_bench_$$_$1"
    psql "$BENCH_PG" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" ||
        die "cannot create the database $name on ${BENCH_PG%%@*}@..."
    BENCH_DBS+=("$name")
    BENCH_DB_URL="${BENCH_PG%/*}/$name"
}
drop_bench_dbs() {
    local db
    for db in "${BENCH_DBS[@]}"; do psql "$BENCH_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; done
}
