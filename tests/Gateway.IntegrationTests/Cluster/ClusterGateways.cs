namespace Gateway.IntegrationTests.Cluster;

/// <summary>What the cluster tests share: a fresh quorum queue per test, gateways pointed at the cluster's one endpoint.</summary>
internal static class ClusterGateways
{
    public const string Upstream = "cluster";

    /// <summary>A topic prefix of its own and a quorum queue bound to it on amq.topic, with every node running.</summary>
    public static async Task<(string Prefix, string Queue)> NewRouteAsync(RabbitMqCluster cluster)
    {
        await cluster.RestoreAsync();
        var prefix = "c" + Guid.NewGuid().ToString("N")[..8];
        var queue = prefix + "-qq";
        await cluster.DeclareQuorumQueueAsync(queue, "amq.topic", $"{prefix}.#");
        return (prefix, queue);
    }

    /// <summary>
    /// A gateway with the product's reconnect delays (not the tests' shorter ones), so the pauses
    /// measured are what a deployment sees; its AMQP connection is named after its id.
    /// </summary>
    public static async Task<GatewayProcess> StartAsync(RabbitMqCluster cluster, string id, string prefix)
    {
        var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream(Upstream, cluster.Endpoint)
            .Set($"Gateway__Upstreams__{Upstream}__ReconnectMinDelay", "00:00:00.500")
            .Set($"Gateway__Upstreams__{Upstream}__ReconnectMaxDelay", "00:00:30")
            .Route($"{prefix}/#", Upstream).Build(), id: id);
        await gateway.StartAsync();
        return gateway;
    }

    /// <summary>The cluster node the gateway's AMQP connection landed on (through the load balancer).</summary>
    public static async Task<RabbitMqNode> NodeOfAsync(RabbitMqCluster cluster, GatewayProcess gateway)
    {
        RabbitMqNode? node = null;
        await Poll.UntilAsync(async () => (node = await cluster.NodeOfConnectionAsync($"edge-gateway {gateway.Id}")) is not null,
            Patience.Reaction, $"the connection of gateway {gateway.Id} to show in list_connections");
        return node!;
    }

    /// <summary>Waits until forwarding moved well past <paramref name="sequence"/> (it is flowing again after a fault).</summary>
    public static Task ForwardedPastAsync(ForwardingWatch watch, long sequence) =>
        Poll.UntilAsync(async () => await watch.CursorAsync() > sequence + 200, Patience.Failover, $"forwarding to pass sequence {sequence + 200}");

    /// <summary>What the gateway logged about its link to the cluster, for the test output.</summary>
    public static string LinkLog(GatewayProcess gateway) =>
        string.Join('\n', gateway.Output.Split('\n').Where(l => l.Contains($"Upstream {Upstream}:", StringComparison.Ordinal)));

    /// <summary>The reconnect is in the log and counted in /metrics.</summary>
    public static async Task<double> AssertReconnectShownAsync(GatewayProcess gateway)
    {
        var reconnects = await gateway.MetricAsync("upstream_reconnects_total", Upstream);
        Assert.True(reconnects >= 1, $"gateway {gateway.Id}: gateway_upstream_reconnects_total is {reconnects}");
        Assert.Contains($"Upstream {Upstream}: reconnected to amqp://", gateway.Output);
        return reconnects;
    }
}
