#!/usr/bin/env bash
# QoS 1 ingest from 100 connections (gateway storing only, its upstream unreachable) with a QoS 1
# subscriber of bench/# that is: none, clean (no session kept), persistent and online (mosquitto_sub -c),
# persistent and offline (subscribed, then gone: every message queued for it, the oldest dropped past
# Gateway:Mqtt:MaxPendingMessagesPerClient). Modes run in rounds, interleaved, as side-by-side.sh does.
#
#   GATEWAY_DLL=path/to/gateway.dll DURATION=10 ROUNDS=3 MODES="none clean persistent offline" bench/experiments/persistent-subscriber.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
gateway_dll=${GATEWAY_DLL:-src/Gateway/bin/Release/net10.0/gateway.dll}
bench_dll=bench/Gateway.Bench/bin/Release/net10.0/gateway-bench.dll
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
modes=${MODES:-none clean persistent offline}
source bench/lib.sh

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run_once() {
  local mode=$1 data sub_pid=""
  data=$(mktemp -d /tmp/persistent-subscriber-XXXXXX)
  gw_port=$(free_port); http_port=$(free_port)
  start_bench_gateway "$data" "amqp://guest:guest@127.0.0.1:1/" "$data/gateway.log"
  until (exec 3<>"/dev/tcp/127.0.0.1/$gw_port") 2>/dev/null; do sleep 0.2; done
  case $mode in
    clean) mosquitto_sub -p "$gw_port" -i sub -q 1 -t 'bench/#' > /dev/null & sub_pid=$! ;;
    persistent) mosquitto_sub -p "$gw_port" -c -i sub -q 1 -t 'bench/#' > /dev/null & sub_pid=$! ;;
    offline) mosquitto_sub -p "$gw_port" -c -i sub -q 1 -t 'bench/#' -E ;;
  esac
  sleep 1 # the subscriber's SUBSCRIBE in before the load
  local rate
  rate=$(dotnet "$bench_dll" mqtt --port "$gw_port" --connections 100 --qos 1 --duration "$duration" 2>&1 | grep -o '[0-9.]* msgs/s' | head -1)
  echo "$mode: $rate (kept sessions: $(gateway_metric mqtt_sessions_kept), kept messages: $(gateway_metric mqtt_session_messages_kept), dropped: $(gateway_metric mqtt_session_messages_dropped_total))"
  [ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null || true
  kill "$gateway_pid"; wait "$gateway_pid" 2>/dev/null || true
  rm -rf "$data"
}

for round in $(seq "$rounds"); do
  for mode in $modes; do run_once "$mode"; done
done
