using RabbitMQ.Client;

namespace Gateway.TestUtilities;

/// <summary>
/// Amazon MQ's RabbitMQ cluster shape on one machine: three private <see cref="RabbitMqNode"/>s joined
/// with <c>rabbitmqctl join_cluster</c>, and <see cref="HaProxy"/> in front as the one endpoint
/// clients get. Nodes can be killed, stopped and started again; queues are quorum queues.
/// </summary>
public sealed class RabbitMqCluster : IAsyncDisposable
{
    private readonly HashSet<RabbitMqNode> _down = [];

    private RabbitMqCluster(IReadOnlyList<RabbitMqNode> nodes, HaProxy proxy)
    {
        Nodes = nodes;
        Proxy = proxy;
    }

    public IReadOnlyList<RabbitMqNode> Nodes { get; }
    public HaProxy Proxy { get; }

    /// <summary>The cluster's one endpoint, through the load balancer.</summary>
    public string Endpoint => $"amqp://guest:guest@127.0.0.1:{Proxy.Port}/";

    public IEnumerable<RabbitMqNode> Running => Nodes.Where(n => !_down.Contains(n));

    public static async Task<RabbitMqCluster> StartAsync()
    {
        var nodes = await Task.WhenAll(RabbitMqNode.StartAsync(), RabbitMqNode.StartAsync(), RabbitMqNode.StartAsync());
        try
        {
            foreach (var node in nodes.Skip(1))
            {
                await MustAsync(node, "stop_app");
                await MustAsync(node, "join_cluster", nodes[0].NodeName);
                await MustAsync(node, "start_app");
            }
            var cluster = new RabbitMqCluster(nodes, await HaProxy.StartAsync(nodes.Select(n => n.AmqpPort).ToArray()));
            await cluster.WaitUntilAllRunAsync();
            return cluster;
        }
        catch
        {
            foreach (var node in nodes) await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until every node reports all three nodes running (after a start or a restart).</summary>
    public async Task WaitUntilAllRunAsync()
    {
        foreach (var node in Nodes)
        {
            await Poll.UntilAsync(async () =>
            {
                var (code, output) = await node.ControlAsync("rabbitmqctl", "eval", "length(rabbit_nodes:all_running()).");
                return code == 0 && output.Trim() == Nodes.Count.ToString();
            }, Patience.Failover, $"node {node.NodeName} to see all {Nodes.Count} nodes running");
        }
    }

    /// <summary>Starts again any node a test killed or stopped, so the next test finds the whole cluster.</summary>
    public async Task RestoreAsync()
    {
        foreach (var node in _down.ToList()) await StartAsync(node);
        await WaitUntilAllRunAsync();
    }

    /// <summary>SIGKILL: the node is gone at once, with whatever it had not replicated or confirmed.</summary>
    public async Task KillAsync(RabbitMqNode node)
    {
        _down.Add(node);
        await node.KillAsync();
    }

    /// <summary>A graceful stop, as a maintenance window's rolling restart does it.</summary>
    public async Task StopAsync(RabbitMqNode node)
    {
        _down.Add(node);
        await node.StopAsync();
    }

    public async Task StartAsync(RabbitMqNode node)
    {
        await node.StartAgainAsync();
        _down.Remove(node);
    }

    /// <summary>
    /// Waits until <paramref name="node"/> can go without costing any quorum queue its majority: the
    /// check a rolling restart makes before taking each node down.
    /// </summary>
    public Task WaitUntilSafeToStopAsync(RabbitMqNode node) =>
        Poll.UntilAsync(async () => (await node.ControlAsync("rabbitmq-diagnostics", "check_if_node_is_quorum_critical")).ExitCode == 0,
            Patience.Failover, $"node {node.NodeName} to be safe to stop (no quorum queue critical on it)");

    /// <summary>
    /// The node a client's connection is on, found by the connection's client-provided name in
    /// <c>rabbitmqctl list_connections</c>' client properties (RabbitMQ 3.10 has no user_provided_name
    /// column there); a connection's pid names its node. Null while it has none.
    /// </summary>
    public async Task<RabbitMqNode?> NodeOfConnectionAsync(string clientProvidedName)
    {
        foreach (var asked in Running)
        {
            var (code, output) = await asked.ControlAsync("rabbitmqctl", "list_connections", "-q", "--no-table-headers", "pid", "client_properties");
            if (code != 0) continue;
            var line = output.Split('\n').FirstOrDefault(l => l.Contains(clientProvidedName, StringComparison.Ordinal));
            if (line is null) return null;
            return Nodes.FirstOrDefault(n => line.Contains($"<{n.NodeName}.", StringComparison.Ordinal));
        }
        return null;
    }

    /// <summary>A durable quorum queue (replicated on every node) bound to <paramref name="exchange"/>.</summary>
    public async Task DeclareQuorumQueueAsync(string queue, string exchange, string bindingKey)
    {
        await using var connection = await ConnectDirectAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
        await channel.QueueBindAsync(queue, exchange, bindingKey);
    }

    /// <summary>The queue's line in <c>rabbitmqctl list_queues</c>: type, members (replicas) and leader, for the test output.</summary>
    public async Task<string> DescribeQueueAsync(string queue)
    {
        var (_, output) = await Running.First().ControlAsync("rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name", "type", "members", "leader");
        return output.Split('\n').FirstOrDefault(l => l.StartsWith(queue + "\t", StringComparison.Ordinal))?.Trim() ?? $"{queue}: not listed";
    }

    /// <summary>The node holding the quorum queue's leader (where every enqueue goes through).</summary>
    public async Task<RabbitMqNode> LeaderOfAsync(string queue)
    {
        var (code, output) = await Running.First().ControlAsync("rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name", "leader");
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(queue + "\t", StringComparison.Ordinal));
        return Nodes.FirstOrDefault(n => line is not null && line.TrimEnd().EndsWith(n.NodeName, StringComparison.Ordinal))
               ?? throw new InvalidOperationException($"no leader listed for {queue} (exit {code}): {output}");
    }

    /// <summary>An AMQP URI of a running node, bypassing the load balancer (for consumers that check the result).</summary>
    public string DirectUri => Running.First().AmqpUri;

    private async Task<IConnection> ConnectDirectAsync() =>
        await new ConnectionFactory { Uri = new Uri(DirectUri) }.CreateConnectionAsync();

    private static async Task MustAsync(RabbitMqNode node, params string[] args)
    {
        var (code, output) = await node.ControlAsync("rabbitmqctl", args);
        if (code != 0) throw new InvalidOperationException($"rabbitmqctl -n {node.NodeName} {string.Join(' ', args)} failed: {output}");
    }

    public async ValueTask DisposeAsync()
    {
        await Proxy.DisposeAsync();
        // Followers first: a node stopped last would wait for the others when it starts; nothing starts again here.
        foreach (var node in Nodes.Reverse()) await node.DisposeAsync();
    }
}
