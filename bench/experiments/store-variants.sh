#!/usr/bin/env bash
# Takes the QoS 1 ack path apart (bench/notes.md, round 11): builds the gateway with
# store-variants.patch applied (in a throwaway worktree), then runs each variant named and the bare
# MQTTnet server ("M") one after the other, round after round, under the same load, storing only.
# Prints each run and, per variant, its ratio to the bare server's run of the same round.
#
#   bench/experiments/store-variants.sh 5 1 2 3 0 M      # 5 rounds of variants 1, 2, 3, 0 and the bare server
#   QOS=0 bench/experiments/store-variants.sh 5 1 0 M
#   bench/experiments/store-variants.sh 4 10:20 8 0 M    # variant 10 with GW_INDEX_LINGER=20
#
# Each run: a fresh gateway (or bare server) on a fresh data folder, 4 s of the load to warm up, then
# MEASURE (10) seconds measured; CONNECTIONS (100) connections at QOS (1), one publish in flight each.
# About 17 s per run. Run it on a quiet machine, and build nothing meanwhile.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
rounds=${1:?usage: store-variants.sh rounds variant... (see store-variants.patch)}
shift
variants=("$@")
[ ${#variants[@]} -gt 0 ] || { echo "name at least one variant" >&2; exit 2; }
QOS=${QOS:-1}
MEASURE=${MEASURE:-10}
CONNECTIONS=${CONNECTIONS:-100}

port=18930
http=18980
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $port $http; do
  if port_open $p; then echo "port $p is in use (another run of this script, or a leftover gateway?)" >&2; exit 1; fi
done
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work=$(mktemp -d /tmp/store-variants.XXXXXX)
tree="$work/tree"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  git -C "$root" worktree remove --force "$tree" 2>/dev/null || true
  rm -rf "$work/data" "$work/gateway" # the runs, logs and build log stay
}
trap cleanup EXIT

echo "store-variants: building the patched gateway and the load tool" >&2
git worktree add --detach "$tree" HEAD > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
git -C "$tree" apply "$root/bench/experiments/store-variants.patch"
build() { dotnet build "$@" -c Release --nologo -v quiet > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }; }
build "$tree/src/Gateway/Gateway.csproj" -o "$work/gateway"
build bench/Gateway.Bench # the load tool as it is in the working tree
bench="$root/bench/Gateway.Bench/bin/Release/net10.0/gateway-bench"

measure() { # label: warm up, then the measured load; prints msgs/s
  "$bench" mqtt --port "$port" --connections "$CONNECTIONS" --qos "$QOS" --duration 4 --label warm > /dev/null 2>> "$work/bench.log"
  "$bench" mqtt --port "$port" --connections "$CONNECTIONS" --qos "$QOS" --duration "$MEASURE" --label "$1" 2>> "$work/bench.log" \
    | grep -o 'msgs_per_s=[0-9]*' | cut -d= -f2
}
wait_port() {
  for _ in $(seq 1 200); do port_open "$1" && return 0; sleep 0.05; done
  echo "port $1 did not open" >&2; return 1
}

out="$work/runs.txt"
for round in $(seq 1 "$rounds"); do
  for v in "${variants[@]}"; do
    rm -rf "$work/data"; mkdir -p "$work/data"
    if [ "$v" = M ]; then
      "$bench" server --port "$port" > "$work/server.log" 2>&1 &
    else
      IFS=: read -r mode linger <<< "$v"
      env GW_NULLSTORE="$mode" GW_LANES=1 GW_INDEX_LINGER="${linger:-0}" \
        Gateway__Id=variants Gateway__DataPath="$work/data" Gateway__Mqtt__Port=$port Gateway__Mqtt__BindAddress=127.0.0.1 \
        Gateway__Http__Port=$http Gateway__Http__BindAddress=127.0.0.1 Gateway__Stomp__Port=0 \
        Gateway__Outbox__MaxMessages=20000000 Gateway__Outbox__MaxBytes=20000000000 \
        Gateway__Upstreams__rabbit__Endpoints__0="amqp://guest:guest@127.0.0.1:1/" \
        Gateway__Routes__0__Filter='bench/#' Gateway__Routes__0__Upstream=rabbit \
        dotnet "$work/gateway/gateway.dll" > "$work/gateway-$v-$round.log" 2>&1 &
    fi
    pid=$!
    # A run that fails (the process did not start, the load tool found nothing) counts as 0 and the rest go on.
    rate=0
    if wait_port $port; then rate=$(measure "$v-$round") || rate=0; fi
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=
    echo "round $round variant $v msgs_per_s $rate" | tee -a "$out"
  done
done

# Each variant's ratio to the bare server's run of the same round, and the median over the rounds.
awk '{ rate[$2, $4] = $6; seen[$4] = 1 } END {
  for (v in seen) if (v != "M") {
    line = ""; for (r = 1; (r, "M") in rate; r++) if (rate[r, "M"] > 0) line = line sprintf(" %.2f", rate[r, v] / rate[r, "M"]);
    print v, line
  } }' "$out" | while read -r v ratios; do
  median=$(tr ' ' '\n' <<< "$ratios" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  echo "variant $v: ratio to the bare server, median $median (rounds:$ratios)"
done
echo "runs and logs in $work" >&2
