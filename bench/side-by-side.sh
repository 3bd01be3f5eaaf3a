#!/usr/bin/env bash
# The side-by-side benchmark: in one run on one machine, Mosquitto (persistence off), a bare MQTTnet
# server, and the gateway (storing only, then forwarding to a private RabbitMQ node), driven by the same loads; plus
# RabbitMQ.Client publishing with confirms straight to the same node (the ceiling of forwarding).
# Writes docs/benchmarks.md. Takes about 10 minutes.
#
#   bench/side-by-side.sh                     # DURATION=10 BACKLOG=1000000 ROUNDS=3 by default
#   DURATION=5 BACKLOG=200000 ROUNDS=1 bench/side-by-side.sh    # a quicker look
#
# Installs mosquitto and rabbitmq-server from Debian's packages when they are missing (as root or via sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
DURATION=${DURATION:-10}
BACKLOG=${BACKLOG:-1000000}
ROUNDS=${ROUNDS:-3}
command_line="DURATION=$DURATION BACKLOG=$BACKLOG ROUNDS=$ROUNDS bench/side-by-side.sh"

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v rabbitmq-server >/dev/null 2>&1 || need+=(rabbitmq-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "side-by-side: installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
source bench/lib.sh
dotnet build src/Gateway -c Release --nologo -v quiet >/dev/null
dotnet build bench/Gateway.Bench -c Release --nologo -v quiet >/dev/null
bench="$root/bench/Gateway.Bench/bin/Release/net10.0/gateway-bench"
gateway_dll="$root/src/Gateway/bin/Release/net10.0/gateway.dll"

work=$(mktemp -d /tmp/side-by-side.XXXXXX)
chmod 755 "$work"
results="$work/results.txt"
: > "$results"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${rabbit_node:-}" ] && rabbitmqctl -n "$rabbit_node" stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  # Keep the logs and results; the stores and the broker's data hold a million messages.
  rm -rf "$work/store-data" "$work/gateway-data" "$work/backlog-data" "$work/rabbit/mnesia"
}
trap cleanup EXIT

log() { echo "side-by-side: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || shuf -i 20000-60000 -n 1; }
wait_port() { # port, seconds
  for _ in $(seq 1 $(( $2 * 20 ))); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  log "port $1 did not open within $2 s"; return 1
}
warm_up() { # port: a short run first, so JIT tiering, caches and new files are not part of the figures
  log "warming up the broker on $1"
  "$bench" mqtt --port "$1" --label warm-up --connections 100 --qos 1 --duration 3 > /dev/null
}
load() { # label, port, extra args... (appends the RESULT line)
  local label=$1 port=$2; shift 2
  log "load $label"
  # The gateway's runs also carry its own account of the load (store wait, commits, fsyncs) from /metrics.
  if [[ $label == gateway-* && $port == "${gw_port:-}" ]]; then set -- "$@" --metrics "http://127.0.0.1:$http_port/metrics"; fi
  "$bench" mqtt --port "$port" --label "$label" "$@" | tee -a "$results" | grep '^RESULT' >&2 || true
}
reference_loads() { # name, port: the loads every broker gets (the gateway's runs add what only it has)
  warm_up "$2"
  load "$1-qos1-x100" "$2" --connections 100 --qos 1 --duration "$DURATION"
  load "$1-qos0-x100" "$2" --connections 100 --qos 0 --duration "$DURATION"
  load "$1-qos1-x1" "$2" --connections 1 --qos 1 --duration "$DURATION"
  # devices that keep several publishes in flight (flushing a queue of their own), not one at a time
  load "$1-qos1-x100-if4" "$2" --connections 100 --qos 1 --in-flight 4 --duration "$DURATION"
}
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
wait_drained() { # the gateway forwarded everything; then empty the queue for the next run
  for _ in $(seq 1 600); do [ "$(gateway_metric outbox_messages)" = "0" ] && break; sleep 1; done
  "$bench" queue --uri "$amqp" --queue bench --purge yes
}
start_gateway() { # data folder, upstream endpoint
  start_bench_gateway "$1" "$2" "$work/gateway-$(date +%s%N).log"
  pids+=("$gateway_pid")
}
stop_gateway() { kill -TERM "$gateway_pid"; wait "$gateway_pid" 2>/dev/null || true; }

# --- RabbitMQ: a private node (brokers.md) -----------------------------------------------------
amqp_port=$(free_port); dist_port=$(free_port)
rabbit_node="bench-$$@localhost"
start_rabbit_node "$work/rabbit" "$rabbit_node" "$amqp_port" "$dist_port"
pids+=("$rabbit_pid")
amqp="amqp://guest:guest@127.0.0.1:$amqp_port/"
log "starting RabbitMQ on $amqp_port"
wait_port "$amqp_port" 60
sleep 2
"$bench" queue --uri "$amqp" --queue bench --purge yes

# --- Mosquitto, persistence off ------------------------------------------------------------------
mq_port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n' "$mq_port" > "$work/mosquitto.conf"
"$mosquitto_bin" -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
mq_pid=$!; pids+=($mq_pid)
wait_port "$mq_port" 10
reference_loads mosquitto "$mq_port" # kept running (idle) for the interleaved rounds below

# --- bare MQTTnet ----------------------------------------------------------------------------------
bare_port=$(free_port)
"$bench" server --port "$bare_port" > "$work/bare.log" 2>&1 &
bare_pid=$!; pids+=($bare_pid)
wait_port "$bare_port" 20
reference_loads mqttnet "$bare_port"

# --- the gateway storing only (upstream unreachable): ingest alone, as the references do it ----------
# Every message is still committed and fsynced before its ack; nothing competes with it for the cores.
gw_port=$(free_port); http_port=$(free_port)
start_gateway "$work/store-data" "amqp://guest:guest@127.0.0.1:$(free_port)/"
wait_port "$gw_port" 60
reference_loads gateway-store "$gw_port"
persistent_loads() { # the gateway's own: the same QoS 1 load with persistent sessions in use
  load gateway-store-qos1-x100-persistent "$gw_port" --connections 100 --qos 1 --duration "$DURATION" --persistent yes
  load gateway-store-qos1-x100-persistent-offline-sub "$gw_port" --connections 100 --qos 1 --duration "$DURATION" --persistent yes --offline-subscriber 'bench/#'
  # and with ten status dashboards open (each an /api/status/events stream, as the page at / keeps)
  load gateway-store-qos1-x100-dashboard "$gw_port" --connections 100 --qos 1 --duration "$DURATION" --dashboard "http://127.0.0.1:$http_port" --dashboard-clients 10
}
persistent_loads
max_store=$(awk '/label=gateway-store-qos1-x100 / { for (i = 1; i <= NF; i++) if ($i ~ /^msgs_per_s=/) { split($i, kv, "="); print int(kv[2]) } }' "$results")
load gateway-store-half-rate "$gw_port" --connections 100 --qos 1 --duration "$DURATION" --rate $(( max_store / 2 ))

# --- the ingest loads again, in interleaved rounds ----------------------------------------------------
# One run of each is at the mercy of the machine's noise (the bare server alone measured 46,000 and
# 63,000 msgs/s a few minutes apart): ROUNDS in all, each broker once per round, so a slow spell
# touches all three; the report uses each load's median run.
for round in $(seq 2 "$ROUNDS"); do
  for broker in mosquitto mqttnet gateway-store; do
    case $broker in mosquitto) port=$mq_port ;; mqttnet) port=$bare_port ;; *) port=$gw_port ;; esac
    load "$broker-qos1-x100" "$port" --connections 100 --qos 1 --duration "$DURATION"
    load "$broker-qos0-x100" "$port" --connections 100 --qos 0 --duration "$DURATION"
    load "$broker-qos1-x100-if4" "$port" --connections 100 --qos 1 --in-flight 4 --duration "$DURATION"
    [ "$broker" = gateway-store ] && persistent_loads
  done
done
kill "$mq_pid" "$bare_pid"
stop_gateway
rm -rf "$work/store-data"

# --- the gateway, forwarding to RabbitMQ ------------------------------------------------------------
start_gateway "$work/gateway-data" "$amqp"
wait_port "$gw_port" 60
sleep 3
echo "RESULT label=gateway-rss-idle rss_mb=$(rss_mb "$gateway_pid")" | tee -a "$results" >&2
warm_up "$gw_port"
wait_drained
load gateway-qos1-x100 "$gw_port" --connections 100 --qos 1 --duration "$DURATION"
wait_drained
load gateway-qos0-x100 "$gw_port" --connections 100 --qos 0 --duration "$DURATION"
wait_drained
load gateway-qos1-x1 "$gw_port" --connections 1 --qos 1 --duration "$DURATION"
wait_drained
max=$(awk '/label=gateway-qos1-x100 / { for (i = 1; i <= NF; i++) if ($i ~ /^msgs_per_s=/) { split($i, kv, "="); print int(kv[2]) } }' "$results")
load gateway-half-rate "$gw_port" --connections 100 --qos 1 --duration "$DURATION" --rate $(( max / 2 ))
wait_drained
load gateway-forward-sustained "$gw_port" --connections 100 --qos 1 --duration "$DURATION" --consume-amqp "$amqp" --queue bench --drain-timeout 600
wait_drained

log "opening 10,000 idle MQTT connections"
"$bench" idle --port "$gw_port" --connections 10000 > "$work/idle.out" 2> "$work/idle.log" &
idle_pid=$!; pids+=($idle_pid)
for _ in $(seq 1 600); do grep -q READY "$work/idle.out" && break; sleep 1; done
sleep 3
echo "RESULT label=gateway-rss-10k rss_mb=$(rss_mb "$gateway_pid")" | tee -a "$results" >&2
load gateway-qos1-x100-with-10k-idle "$gw_port" --connections 100 --qos 1 --duration "$DURATION"
kill "$idle_pid"
wait_drained
stop_gateway

# --- the ceiling: RabbitMQ.Client with confirms -----------------------------------------------------
log "RabbitMQ.Client publishing with confirms"
# With a consumer draining the queue, as in the gateway's forwarding runs: the broker does the same work in both.
direct_reference() { # label, amqp-publish args...
  local label=$1; shift
  "$bench" consume --uri "$amqp" --queue bench --expect 200000 --timeout 600 --label "$label-consumer" > "$work/$label-consume.out" 2> "$work/$label-consume.log" &
  local consumer=$!
  for _ in $(seq 1 100); do grep -q READY "$work/$label-consume.out" && break; sleep 0.1; done
  "$bench" amqp-publish --uri "$amqp" --messages 200000 --batch 500 --label "$label" "$@" | tee -a "$results" | grep '^RESULT' >&2
  wait "$consumer" || log "the $label run's consumer did not see every message (see $work/$label-consume.log)"
  "$bench" queue --uri "$amqp" --queue bench --purge yes
}
direct_reference rabbitmq-client-confirms --routing-key bench.direct
# The same messages as the gateway forwards: its properties and headers on each, and the routing keys of
# the load's 100 devices (bench.c0 ... bench.c99; RabbitMQ's topic exchange takes longer over many keys than one).
direct_reference rabbitmq-client-confirms-gateway-properties --routing-key bench --keys 100 --properties gateway

# --- a backlog: stored while the upstream is unreachable, then a restart that drains it -------------
log "filling a backlog of $BACKLOG with the upstream unreachable"
start_gateway "$work/backlog-data" "amqp://guest:guest@127.0.0.1:$(free_port)/"
wait_port "$gw_port" 60
load gateway-backlog-fill "$gw_port" --connections 100 --qos 1 --messages "$BACKLOG"
stop_gateway
"$bench" consume --uri "$amqp" --queue bench --expect "$BACKLOG" --timeout 1200 --label gateway-backlog-drain > "$work/drain.out" 2> "$work/drain.log" &
drain_pid=$!
for _ in $(seq 1 100); do grep -q READY "$work/drain.out" && break; sleep 0.1; done
log "restarting the gateway on the backlog"
start_ms=$(date +%s%3N)
start_gateway "$work/backlog-data" "$amqp"
wait_port "$gw_port" 120
accept_ms=$(( $(date +%s%3N) - start_ms ))
wait "$drain_pid" || log "the drain did not see every message (see $work/drain.log)"
grep '^RESULT' "$work/drain.out" | tee -a "$results" >&2
first=$(awk '/^RESULT/ { for (i = 1; i <= NF; i++) if ($i ~ /^first_arrival_epoch_ms=/) { split($i, kv, "="); print kv[2] } }' "$work/drain.out")
echo "RESULT label=gateway-restart accept_ms=$accept_ms first_forward_ms=$(( first - start_ms ))" | tee -a "$results" >&2
stop_gateway

machine="$(nproc) cores ($(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), .NET $(dotnet --version), Mosquitto $("$mosquitto_bin" -h 2>/dev/null | awk 'NR==1 { print $3 }'), RabbitMQ $(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null)"
notes=""
[ -f bench/conclusions.md ] && notes="--notes bench/conclusions.md"
"$bench" report --results "$results" --out docs/benchmarks.md --machine "$machine" --command "$command_line" $notes
cp "$results" "$work/results-final.txt"
log "done: docs/benchmarks.md (raw results and logs in $work)"
