using System.Diagnostics;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Cluster;

/// <summary>
/// The gateway against Amazon MQ's RabbitMQ shape (three clustered nodes, a quorum queue, one
/// load-balanced endpoint) under continuous QoS 1 load while nodes die or restart one by one. The
/// figures measured (pause, messages sent again, drain) go to the test output and docs/deployment.md.
/// </summary>
[Collection(RabbitMqClusterCollection.Name)]
[Trait("Category", "Slow")] // a three-node cluster, nodes killed and restarted
public sealed class ClusterFailoverTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private RabbitMqCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Killing_the_node_under_the_gateways_connection_loses_no_acknowledged_message_and_keeps_the_route_in_order()
    {
        var (prefix, queue) = await ClusterGateways.NewRouteAsync(Cluster);
        await using var gateway = await ClusterGateways.StartAsync(Cluster, "gw-kill", prefix);
        await using var watch = new ForwardingWatch(gateway, ClusterGateways.Upstream);
        await using var load = await SensorLoad.StartAsync(gateway, prefix, sensors: 2);
        await ClusterGateways.ForwardedPastAsync(watch, 0);

        var node = await ClusterGateways.NodeOfAsync(Cluster, gateway);
        var atKill = await watch.LastSequenceAsync();
        var killed = Stopwatch.StartNew();
        await Cluster.KillAsync(node);
        await ClusterGateways.ForwardedPastAsync(watch, atKill);
        var resumed = killed.Elapsed;

        await load.StopAsync();
        var backlog = await watch.LastSequenceAsync() - await watch.CursorAsync();
        var drain = await watch.DrainAsync();
        var check = await QuorumQueueCheck.ReadAsync(Cluster, queue, load.Acked);
        var reconnects = await ClusterGateways.AssertReconnectShownAsync(gateway);

        output.WriteLine($"SIGKILL of {node.NodeName} (the gateway's node): forwarding paused {watch.LongestPause.TotalSeconds:0.00} s " +
                         $"(kill to 200 more messages forwarded: {resumed.TotalSeconds:0.00} s); {check.SentAgain} of {check.Distinct} messages sent again; " +
                         $"drain of {backlog} left at the load's end: {drain.TotalSeconds:0.00} s; {reconnects} reconnect(s); queue {await Cluster.DescribeQueueAsync(queue)}");
        output.WriteLine(ClusterGateways.LinkLog(gateway));
        Assert.True(check.Distinct >= load.Acked.Count);
    }

    [Fact]
    public async Task A_rolling_restart_of_every_node_loses_no_acknowledged_message_and_keeps_the_route_in_order()
    {
        var (prefix, queue) = await ClusterGateways.NewRouteAsync(Cluster);
        await using var gateway = await ClusterGateways.StartAsync(Cluster, "gw-roll", prefix);
        await using var watch = new ForwardingWatch(gateway, ClusterGateways.Upstream);
        // Sensors reporting every 5 ms: a restart takes a minute here, and unpaced QoS 1 would queue some 80,000 messages to check.
        await using var load = await SensorLoad.StartAsync(gateway, prefix, sensors: 2, every: TimeSpan.FromMilliseconds(5));
        await ClusterGateways.ForwardedPastAsync(watch, 0);

        var restarting = Stopwatch.StartNew();
        foreach (var node in Cluster.Nodes)
        {
            // As a maintenance window does it: a node goes only when no quorum queue needs it for its majority.
            await Cluster.WaitUntilSafeToStopAsync(node);
            await Cluster.StopAsync(node);
            await Cluster.StartAsync(node);
        }
        await Cluster.WaitUntilAllRunAsync();
        var restarted = restarting.Elapsed;
        await ClusterGateways.ForwardedPastAsync(watch, await watch.LastSequenceAsync());

        await load.StopAsync();
        var backlog = await watch.LastSequenceAsync() - await watch.CursorAsync();
        var drain = await watch.DrainAsync();
        var check = await QuorumQueueCheck.ReadAsync(Cluster, queue, load.Acked);
        var reconnects = await ClusterGateways.AssertReconnectShownAsync(gateway);

        output.WriteLine($"rolling restart of 3 nodes ({restarted.TotalSeconds:0.0} s): longest forwarding pause {watch.LongestPause.TotalSeconds:0.00} s; " +
                         $"{check.SentAgain} of {check.Distinct} messages sent again; drain of {backlog} left at the load's end: {drain.TotalSeconds:0.00} s; " +
                         $"{reconnects} reconnect(s); queue {await Cluster.DescribeQueueAsync(queue)}");
        output.WriteLine(ClusterGateways.LinkLog(gateway));
        Assert.True(check.Distinct >= load.Acked.Count);
    }
}
