#!/usr/bin/env bash
# The flood (issue 23): the gateway with its default limits, storing only, on loopback; 10 sensors
# publishing QoS 1 at 20/s each before, during and after 5,000 connects, 1,000 half-open sockets and
# 20 slow WebSocket handshakes (from 127.0.1.x, 127.0.2.x, 127.0.3.x); its RSS sampled throughout.
# Prints the RESULT line docs/benchmarks.md quotes. Extra arguments go to `gateway-bench flood`
# (--sources 50 spreads the flood over 50 addresses, so the total limit meets it, not the per-address ones).
#   bench/flood.sh [--sources N] [...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/Gateway -c Release --nologo -v quiet >/dev/null
dotnet build bench/Gateway.Bench -c Release --nologo -v quiet >/dev/null
bench="$root/bench/Gateway.Bench/bin/Release/net10.0/gateway-bench"
gateway_dll="$root/src/Gateway/bin/Release/net10.0/gateway.dll"

# 5,000 connects and 1,000 held sockets need more descriptors than a default soft limit of 1,024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 8192 ] || echo "flood: warning: ulimit -n is $(ulimit -n); raise it to 8192 or more" >&2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mqtt_port=$(free_port); http_port=$(free_port)
data=$(mktemp -d /tmp/flood.XXXXXX)
Gateway__Id=flood Gateway__DataPath="$data/data" Gateway__Mqtt__Port=$mqtt_port Gateway__Mqtt__BindAddress=0.0.0.0 \
Gateway__Http__Port=$http_port Gateway__Http__BindAddress=0.0.0.0 Gateway__Stomp__Port=0 \
  dotnet "$gateway_dll" > "$data/gateway.log" 2>&1 &
gateway_pid=$!
trap 'kill $gateway_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data/data"' EXIT
for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null && break; sleep 0.05; done

"$bench" flood --pid "$gateway_pid" --port "$mqtt_port" --http-port "$http_port" "$@"
echo "flood: the gateway's log is $data/gateway.log ($(grep -c 'Limit ' "$data/gateway.log" || true) limit lines)" >&2
