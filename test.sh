#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs the real brokers the integration
# tests start (RabbitMQ, ActiveMQ, HAProxy) from Debian's packages when they are missing, builds, and tests.
# Usage: ./test.sh [--fast] [extra dotnet test arguments]
#   --fast  leaves out the tests tagged [Trait("Category", "Slow")] (broker clusters, soaks, crashes,
#           loads, the browser): the unit tests and the quick integration tests, in a few minutes.
#           Combines with a --filter of your own (both must hold).
set -euo pipefail
cd "$(dirname "$0")"

fast=false
filter=
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --fast) fast=true ;;
    --filter) [ $# -ge 2 ] || { echo "test.sh: --filter needs an expression" >&2; exit 2; }; filter=$2; shift ;;
    --filter=*) filter=${1#--filter=} ;;
    *) args+=("$1") ;;
  esac
  shift
done
if $fast; then filter=${filter:+($filter)&}'Category!=Slow'; fi
if [ -n "$filter" ]; then args+=(--filter "$filter"); fi

need=()
command -v rabbitmq-server >/dev/null 2>&1 || need+=(rabbitmq-server)
[ -f /usr/share/activemq/bin/activemq.jar ] || need+=(activemq)
# The load balancer in front of the RabbitMQ cluster tests' three nodes (Amazon MQ's one endpoint).
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
# Browser tests: Debian's Chromium driven by Playwright (playwright-core never downloads a browser),
# and Node.js for @stomp/stompjs, MQTT.js and Playwright.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# systemd's own checks of the shipped unit (systemd-analyze verify and security); no init is started.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# An MQTT client that is not MQTTnet, for the packet-limit tests.
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]} from Debian's packages"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  # The packages try to start their system services and are refused without an init system: harmless.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The example page's STOMP library (served by the gateway, never fetched by the browser from the
# internet), then the Node test clients, exactly as locked.
./scripts/web-vendor.sh
if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
  echo "test.sh: installing the browser tests' npm packages (npm ci)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

# The brokers' system services are never used: every test starts private instances on free ports.
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Gateway.sln -c Release --nologo -v quiet
dotnet test Gateway.sln -c Release --no-build --nologo --logger "console;verbosity=normal" ${args[@]+"${args[@]}"}
