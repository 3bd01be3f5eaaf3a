# Sourced by the bench scripts: a private RabbitMQ node (../shared/brokers.md) with its data, logs and
# plugin list under a folder of the run's own, so it never touches the machine's default node.
#
#   start_rabbit_node FOLDER NODE AMQP_PORT DIST_PORT   # starts it in the background; its pid in $rabbit_pid
#   rabbitmqctl -n NODE stop                            # stops it
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
