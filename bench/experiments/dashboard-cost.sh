#!/usr/bin/env bash
# What open status dashboards cost ingest: the gateway storing only (upstream unreachable, as the
# side-by-side's storing-only loads), QoS 1 from 100 connections for DURATION seconds, without and
# with CLIENTS /api/status/events streams open (each what the page at / keeps), in ROUNDS interleaved
# pairs (without, with) so that the machine's slow spells touch both; prints each run, the ratio of
# the medians, and the median of the rounds' ratios (each "with" run against the "without" just before). The side-by-side runs the same pair (gateway-store-qos1-x100 and ...-dashboard).
#
#   bench/experiments/dashboard-cost.sh             # DURATION=10 ROUNDS=5 CLIENTS=10
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-10}
source bench/lib.sh
dotnet build src/Gateway -c Release --nologo -v quiet >/dev/null
dotnet build bench/Gateway.Bench -c Release --nologo -v quiet >/dev/null
bench="$root/bench/Gateway.Bench/bin/Release/net10.0/gateway-bench"
gateway_dll="$root/src/Gateway/bin/Release/net10.0/gateway.dll"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d /tmp/dashboard-cost.XXXXXX)
trap 'kill "${gateway_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work/data"' EXIT
gw_port=$(free_port); http_port=$(free_port)
start_bench_gateway "$work/data" "amqp://guest:guest@127.0.0.1:$(free_port)/" "$work/gateway.log"
for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$gw_port") 2>/dev/null && break; sleep 0.1; done
"$bench" mqtt --port "$gw_port" --label warm-up --connections 100 --qos 1 --duration 3 > /dev/null

: > "$work/results.txt"
for round in $(seq 1 "$ROUNDS"); do
  "$bench" mqtt --port "$gw_port" --label without --connections 100 --qos 1 --duration "$DURATION" | grep '^RESULT' | tee -a "$work/results.txt"
  "$bench" mqtt --port "$gw_port" --label with-dashboards --connections 100 --qos 1 --duration "$DURATION" \
      --dashboard "http://127.0.0.1:$http_port" --dashboard-clients "$CLIENTS" | grep '^RESULT' | tee -a "$work/results.txt"
done
awk '
  /^RESULT/ { label = ""; rate = 0
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "label") label = kv[2]; if (kv[1] == "msgs_per_s") rate = kv[2] }
    runs[label] = runs[label] " " rate
    if (label == "without") last = rate; else ratios = ratios " " rate / last }
  function median(list,   a, n, i, j, t) { n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END { w = median(runs["without"]); d = median(runs["with-dashboards"])
    printf "median without: %.0f msgs/s; with dashboards: %.0f msgs/s; ratio %.3f; median of the rounds'"'"' ratios %.3f\n", w, d, d / w, median(ratios) }' "$work/results.txt"
