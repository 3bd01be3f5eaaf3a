# Sourced by the bench scripts (side-by-side.sh, experiments/forward-at-rate.sh): the brokers they start
# the same way. Each function takes what differs as arguments; the ports come from the caller's
# $gw_port and $http_port, the gateway from $gateway_dll.
#
#   start_rabbit_node FOLDER NODE AMQP_PORT DIST_PORT   # a private node in the background; its pid in $rabbit_pid
#   start_bench_gateway DATA_FOLDER UPSTREAM_URI LOG    # the gateway, route bench/# to that upstream; pid in $gateway_pid
#   gateway_metric NAME                                 # one figure from the gateway's /metrics (gateway_NAME), or nothing

# A private RabbitMQ node (../shared/brokers.md) with its data, logs and plugin list under a folder of
# the run's own, so it never touches the machine's default node. Stop it with `rabbitmqctl -n NODE stop`.
start_rabbit_node() {
  local dir=$1 node=$2 amqp_port=$3 dist_port=$4
  mkdir -p "$dir/mnesia" "$dir/log"
  echo '[].' > "$dir/enabled_plugins"
  chown -R rabbitmq:rabbitmq "$dir" 2>/dev/null || true
  env RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$amqp_port" RABBITMQ_DIST_PORT="$dist_port" \
      RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
      RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_FEATURE_FLAGS_FILE="$dir/feature_flags" \
      rabbitmq-server > "$dir/out.log" 2>&1 &
  rabbit_pid=$!
}

# The gateway as the benchmarks run it: MQTT and HTTP on loopback, no STOMP listener, quotas and
# connection limits far above any load (10,000 idle connections), and one route (bench/#) to one RabbitMQ upstream (an unreachable one stores only).
start_bench_gateway() {
  Gateway__Id=bench Gateway__DataPath="$1" Gateway__Mqtt__Port=$gw_port Gateway__Mqtt__BindAddress=127.0.0.1 \
  Gateway__Http__Port=$http_port Gateway__Http__BindAddress=127.0.0.1 Gateway__Stomp__Port=0 \
  Gateway__Outbox__MaxMessages=20000000 Gateway__Outbox__MaxBytes=20000000000 Gateway__Limits__MaxConnections=20000 \
  Gateway__Upstreams__rabbit__Endpoints__0="$2" Gateway__Upstreams__rabbit__ReconnectMaxDelay=00:00:01 \
  Gateway__Routes__0__Filter='bench/#' Gateway__Routes__0__Upstream=rabbit \
    dotnet "$gateway_dll" > "$3" 2>&1 &
  gateway_pid=$!
}

gateway_metric() {
  curl -s --max-time 5 "http://127.0.0.1:$http_port/metrics" | awk -v m="gateway_$1" '$1 == m { print $2 }' || true
}
