#!/usr/bin/env bash
# What rate of forwarding the gateway can keep up, as against how fast it forwards while 100
# connections publish flat out (the side-by-side's "sustained" row).
# Starts a private RabbitMQ node and the gateway forwarding to it (as side-by-side.sh does), then for
# each offered rate runs 100 connections publishing QoS 1 at that total rate (0 = flat out) with a
# consumer on the queue, and prints what arrived upstream and how late. Ends with RabbitMQ.Client
# publishing with confirms to the same node (the reference of the forwarding targets). Builds the
# gateway and the load tool first (Release, into their usual bin/ folders); needs rabbitmq-server
# (bench/side-by-side.sh installs it).
#
#   bench/experiments/forward-at-rate.sh 0 9000 12000 14000     # offered rates, msgs/s
#   DURATION=20 bench/experiments/forward-at-rate.sh 12000
#   RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none" bench/experiments/forward-at-rate.sh 0 9000 12000
#
# "arrived" is the rate of arrival upstream while the publishers ran (the load tool's
# upstream_during_load_msgs_per_s); "whole" runs from the first arrival to the last, so it also takes
# in the drain after the load, when the forwarder has the cores to itself. A rate is kept up with when
# the publishers got it in (within 1 % of the offered rate) and it arrived as fast as it was taken in
# (within 1 %); otherwise a backlog grew behind it. Each rate takes DURATION (15) seconds plus the
# drain after it. Run it on a quiet machine, and build nothing meanwhile.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
[ $# -gt 0 ] || { echo "usage: forward-at-rate.sh RATE... (msgs/s; 0 = flat out)" >&2; exit 2; }
for r in "$@"; do [[ $r =~ ^(0|[1-9][0-9]*)$ ]] || { echo "forward-at-rate: '$r' is not a rate in msgs/s" >&2; exit 2; }; done
DURATION=${DURATION:-15}
command -v rabbitmq-server >/dev/null 2>&1 || { echo "forward-at-rate: needs rabbitmq-server (bench/side-by-side.sh installs it)" >&2; exit 1; }

amqp_port=18972 dist_port=18973 gw_port=18931 http_port=18981
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $amqp_port $dist_port $gw_port $http_port; do
  if port_open $p; then echo "forward-at-rate: port $p is in use (another run, or a leftover gateway or node?)" >&2; exit 1; fi
done
wait_port() { # port, seconds
  for _ in $(seq 1 $(( $2 * 20 ))); do port_open "$1" && return 0; sleep 0.05; done
  echo "forward-at-rate: port $1 did not open within $2 s" >&2; return 1
}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work=$(mktemp -d /tmp/forward-at-rate.XXXXXX)
chmod 755 "$work"
build() { dotnet build "$1" -c Release --nologo -v quiet > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }; }
build src/Gateway
build bench/Gateway.Bench
bench="$root/bench/Gateway.Bench/bin/Release/net10.0/gateway-bench"
gateway_dll="$root/src/Gateway/bin/Release/net10.0/gateway.dll"
source bench/lib.sh
node="forward-at-rate-$$@localhost"
gateway_pid= rabbit_pid=
trap 'echo "forward-at-rate: failed at line $LINENO (logs in $work)" >&2' ERR
cleanup() {
  [ -n "$gateway_pid" ] && kill "$gateway_pid" 2>/dev/null || true
  [ -n "$rabbit_pid" ] && { rabbitmqctl -n "$node" stop >/dev/null 2>&1 || kill "$rabbit_pid" 2>/dev/null || true; }
  wait 2>/dev/null || true
  rm -rf "$work/rabbit/mnesia" "$work/gateway-data" # the logs stay
  echo "forward-at-rate: results and logs in $work" >&2
}
trap cleanup EXIT

start_rabbit_node "$work/rabbit" "$node" "$amqp_port" "$dist_port"
amqp="amqp://guest:guest@127.0.0.1:$amqp_port/"
wait_port $amqp_port 60 || { tail -20 "$work/rabbit/out.log" >&2; exit 1; }
sleep 2
"$bench" queue --uri "$amqp" --queue bench --purge yes 2>> "$work/bench.log"

start_bench_gateway "$work/gateway-data" "$amqp" "$work/gateway.log"
wait_port $gw_port 60 || { tail -20 "$work/gateway.log" >&2; exit 1; }

drained() { # everything forwarded, then the queue emptied for the next rate
  for _ in $(seq 1 600); do
    kill -0 "$gateway_pid" 2>/dev/null || { echo "forward-at-rate: the gateway exited (see $work/gateway.log)" >&2; exit 1; }
    [ "$(gateway_metric outbox_messages)" = "0" ] && break
    sleep 1
  done
  [ "$(gateway_metric outbox_messages)" = "0" ] || { echo "forward-at-rate: the gateway did not drain within 10 minutes" >&2; exit 1; }
  "$bench" queue --uri "$amqp" --queue bench --purge yes 2>> "$work/bench.log"
}
field() { tr ' ' '\n' <<< "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
whole() { [[ $1 =~ ^[0-9]+([.][0-9]*)?$ ]] && printf '%.0f' "$1" || printf '%s' "${1:--}"; } # "-": the load tool had no figure

echo "forward-at-rate: warming up" >&2
"$bench" mqtt --port $gw_port --connections 100 --qos 1 --duration 4 --label warm-up > /dev/null 2>> "$work/bench.log"
drained
printf '%-10s %10s %11s %10s %10s %11s %11s %8s %8s\n' offered ingested ack_p99_ms arrived whole e2e_p50_ms e2e_p99_ms kept_up missing
for rate in "$@"; do
  line=$("$bench" mqtt --port $gw_port --connections 100 --qos 1 --duration "$DURATION" --rate "$rate" --label "rate-$rate" \
           --consume-amqp "$amqp" --queue bench --drain-timeout 600 2>> "$work/bench.log" | grep '^RESULT' || true)
  [ -n "$line" ] || { echo "forward-at-rate: the run at $rate msgs/s printed no result (see $work/bench.log)" >&2; exit 1; }
  echo "$line" >> "$work/results.txt"
  ingested=$(field "$line" msgs_per_s) arrived=$(field "$line" upstream_during_load_msgs_per_s)
  kept=$(awk -v o="$rate" -v i="$ingested" -v a="$arrived" 'BEGIN { print (o > 0 && a != "-" && i >= 0.99 * o && a >= 0.99 * i) ? "yes" : "no" }')
  offered=$rate; [ "$rate" = 0 ] && offered=flat-out
  printf '%-10s %10s %11s %10s %10s %11s %11s %8s %8s\n' "$offered" "$(whole "$ingested")" "$(field "$line" ack_p99_ms)" "$(whole "$arrived")" \
    "$(whole "$(field "$line" upstream_msgs_per_s)")" "$(field "$line" e2e_p50_ms)" "$(field "$line" e2e_p99_ms)" "$kept" "$(field "$line" upstream_missing)"
  drained
done
kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true; gateway_pid=

# The reference, with a consumer draining the queue as in the runs above.
"$bench" consume --uri "$amqp" --queue bench --expect 200000 --timeout 600 --label reference-consumer > "$work/reference-consume.out" 2>> "$work/bench.log" &
consumer=$!
for _ in $(seq 1 100); do grep -q READY "$work/reference-consume.out" && break; sleep 0.1; done
reference=$("$bench" amqp-publish --uri "$amqp" --messages 200000 --batch 500 --routing-key bench.direct --label reference 2>> "$work/bench.log" | grep '^RESULT')
wait "$consumer" || echo "forward-at-rate: the reference's consumer did not see every message" >&2
echo "RabbitMQ.Client with confirms (batches of 500, a consumer draining): $(field "$reference" msgs_per_s) msgs/s"
