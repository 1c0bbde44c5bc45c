#!/usr/bin/env bash
# A center of several nodes on this machine: PostgreSQL (the shared store), Kamailio in front,
# and N engine nodes on loopback addresses. See docs/cluster.md.
#
#   scripts/cluster.sh up [--nodes N] [--dir DIR] [--net 127.X.Y] [--rtp-from PORT] [--rtp-span N]
#                         [-- SERVE_ARGS...]
#   scripts/cluster.sh kill I       SIGKILL node I (no drain, nothing flushed)
#   scripts/cluster.sh stop I       SIGTERM node I: it drains (no new calls) and stops
#   scripts/cluster.sh start I      start node I again (after kill or stop)
#   scripts/cluster.sh down         stop everything and drop the cluster's database
#
# `up` writes DIR/cluster.env (DIR defaults to target/cluster): KAMAILIO_SIP, STORE_URL, NODES,
# and per node NODE<i>_SIP, NODE<i>_HTTP, NODE<i>_LINK, NODE<i>_PID. The other commands read it
# (give the same --dir, or CLUSTER_DIR). CLUSTER_PG_PORT_<i>=PORT at `up` has node i reach
# PostgreSQL through another port on 127.0.0.1 (a relay a test can cut). Kamailio listens on <net>.1:5060; node i on <net>.(10+i)
# with SIP on 5060, HTTP on 8080 and its distribution link on 7000; node i's RTP ports are
# <rtp-from> + (i-1)*<rtp-span> and the span's others (default 1000). Anything after `--` is given to every node's
# `centralino serve` (for example --trees DIR). The binary is CENTRALINO_BIN, else
# target/debug/centralino (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

cmd=${1:-}
[ -n "$cmd" ] || { sed -n '2,20p' "$0"; exit 2; }
shift

DIR=${CLUSTER_DIR:-$ROOT/target/cluster}
NODES=3
NET=127.0.10
RTP_FROM=40000
RTP_SPAN=1000
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) NODES=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --net) NET=$2; shift 2 ;;
    --rtp-from) RTP_FROM=$2; shift 2 ;;
    --rtp-span) RTP_SPAN=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) break ;;
  esac
done
ENV=$DIR/cluster.env
BIN=${CENTRALINO_BIN:-$ROOT/target/debug/centralino}

log() { echo "== $*" >&2; }

# Wait until URL answers 200, or fail after $2 seconds.
wait_ready() {
  local url=$1 within=$2 i
  for ((i = 0; i < within * 10; i++)); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Start node I (reads the environment file for the shared values).
start_node() {
  local i=$1
  # shellcheck disable=SC1090
  source "$ENV"
  local ip=$NET.$((10 + i))
  local rtp_lo=$((RTP_FROM + (i - 1) * RTP_SPAN))
  local -a extra=()
  [ -f "$DIR/serve.args" ] && mapfile -t extra < "$DIR/serve.args"
  mkdir -p "$DIR/node$i"
  # CLUSTER_PG_PORT_<i> (at `up`): node i reaches PostgreSQL on another port (a test's relay
  # that can cut it off), remembered as NODE<i>_STORE.
  local store_var="NODE${i}_STORE" port_var="CLUSTER_PG_PORT_$i"
  local store=${!store_var:-$STORE_URL}
  if [ -n "${!port_var:-}" ]; then
    store=$(echo "$STORE_URL" | sed -E "s#:[0-9]+/#:${!port_var}/#")
    echo "NODE${i}_STORE=$store" >> "$ENV"
  fi
  "$BIN" serve \
    --sip-udp "$ip:5060" --sip-tcp "$ip:5060" --http "$ip:8080" \
    --rtp-ports "$rtp_lo-$((rtp_lo + RTP_SPAN - 1))" \
    --data-dir "$DIR/node$i" --store "$store" \
    --cluster "$ip:7000" --node "node$i" --trusted-proxy "$NET.1" \
    --log-format json "${extra[@]}" \
    >>"$DIR/node$i/engine.log" 2>&1 &
  local pid=$!
  sed -i "/^NODE${i}_PID=/d" "$ENV"
  echo "NODE${i}_PID=$pid" >> "$ENV"
  if ! wait_ready "http://$ip:8080/readyz" 90; then
    echo "node $i did not become ready; its log:" >&2
    tail -20 "$DIR/node$i/engine.log" >&2
    return 1
  fi
  log "node $i ready (pid $pid): SIP $ip:5060, HTTP $ip:8080"
}

node_pid() {
  # shellcheck disable=SC1090
  source "$ENV"
  local var="NODE${1}_PID"
  echo "${!var:-}"
}

case $cmd in
  up)
    [ -x "$BIN" ] || cargo build --quiet
    mkdir -p "$DIR"
    [ ! -f "$ENV" ] || { echo "a cluster is already up in $DIR (scripts/cluster.sh down first)" >&2; exit 1; }
    # shellcheck source=scripts/postgres.sh
    source scripts/postgres.sh
    start_postgres >&2
    db="centralino_t_cluster_$(echo "$DIR" | md5sum | cut -c1-8)"
    psql "$CENTRALINO_TEST_PG" -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    psql "$CENTRALINO_TEST_PG" -q -c "CREATE DATABASE \"$db\""
    store="${CENTRALINO_TEST_PG%/*}/$db"
    {
      echo "DIR=$DIR"
      echo "NET=$NET"
      echo "RTP_FROM=$RTP_FROM"
      echo "RTP_SPAN=$RTP_SPAN"
      echo "NODES=$NODES"
      echo "DATABASE=$db"
      echo "STORE_URL=$store"
      echo "KAMAILIO_SIP=$NET.1:5060"
      for ((i = 1; i <= NODES; i++)); do
        echo "NODE${i}_SIP=$NET.$((10 + i)):5060"
        echo "NODE${i}_HTTP=$NET.$((10 + i)):8080"
        echo "NODE${i}_LINK=$NET.$((10 + i)):7000"
      done
    } > "$ENV"
    printf '%s\n' "${EXTRA[@]}" > "$DIR/serve.args"
    [ ${#EXTRA[@]} -gt 0 ] || : > "$DIR/serve.args"
    # Kamailio first: its dispatcher probes the nodes as they come up.
    : > "$DIR/dispatcher.list"
    for ((i = 1; i <= NODES; i++)); do
      echo "1 sip:$NET.$((10 + i)):5060" >> "$DIR/dispatcher.list"
    done
    mkdir -p "$DIR/kamailio"
    kamailio -DD -E -f deploy/kamailio/kamailio.cfg -A "DISPATCHER_LIST=\"$DIR/dispatcher.list\"" \
      -l "udp:$NET.1:5060" -l "tcp:$NET.1:5060" -Y "$DIR/kamailio" -P "$DIR/kamailio/kamailio.pid" \
      >"$DIR/kamailio.log" 2>&1 &
    echo "KAMAILIO_PID=$!" >> "$ENV"
    for ((i = 1; i <= NODES; i++)); do
      start_node "$i"
    done
    log "cluster up: Kamailio $NET.1:5060, $NODES nodes; $ENV"
    ;;
  kill)
    pid=$(node_pid "$1")
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    log "node $1 killed"
    ;;
  stop)
    pid=$(node_pid "$1")
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    log "node $1 stopped"
    ;;
  start)
    start_node "$1"
    ;;
  down)
    [ -f "$ENV" ] || exit 0
    # shellcheck disable=SC1090
    source "$ENV"
    for ((i = 1; i <= NODES; i++)); do
      var="NODE${i}_PID"
      [ -z "${!var:-}" ] || kill -KILL "${!var}" 2>/dev/null || true
    done
    [ -z "${KAMAILIO_PID:-}" ] || kill -TERM "$KAMAILIO_PID" 2>/dev/null || true
    # shellcheck source=scripts/postgres.sh
    source scripts/postgres.sh
    start_postgres >/dev/null
    psql "$CENTRALINO_TEST_PG" -q -c "DROP DATABASE IF EXISTS \"$DATABASE\" WITH (FORCE)" || true
    rm -f "$ENV"
    log "cluster down"
    ;;
  *)
    sed -n '2,20p' "$0"
    exit 2
    ;;
esac
