using System.Diagnostics;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Cluster;

/// <summary>
/// Scaling out: several gateways, each with its own id and store, publishing into one RabbitMQ
/// cluster at once while a node dies. Consumers tell the gateways' messages apart and drop replays by
/// <c>message-id</c> (<c>&lt;gateway-id&gt;-&lt;sequence&gt;</c>) alone.
/// </summary>
[Collection(RabbitMqClusterCollection.Name)]
[Trait("Category", "Slow")] // a three-node cluster, three gateways, a node killed
public sealed class ManyGatewaysTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly string[] Ids = ["gw-a", "gw-b", "gw-c"];

    private RabbitMqCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Three_gateways_into_one_cluster_keep_each_message_once_and_in_each_gateways_order_when_the_queue_leader_is_killed()
    {
        var (prefix, queue) = await ClusterGateways.NewRouteAsync(Cluster);
        var gateways = new List<GatewayProcess>();
        var watches = new List<ForwardingWatch>();
        var loads = new List<SensorLoad>();
        try
        {
            foreach (var id in Ids) gateways.Add(await ClusterGateways.StartAsync(Cluster, id, prefix));
            foreach (var gateway in gateways)
            {
                watches.Add(new ForwardingWatch(gateway, ClusterGateways.Upstream));
                loads.Add(await SensorLoad.StartAsync(gateway, $"{prefix}/{gateway.Id}", sensors: 2));
            }
            foreach (var watch in watches) await ClusterGateways.ForwardedPastAsync(watch, 0);

            // The leader, not a connection's node: every gateway's enqueues wait for the election, wherever it is connected.
            var leader = await Cluster.LeaderOfAsync(queue);
            var connectedThere = new List<string>();
            foreach (var gateway in gateways)
            {
                if (await ClusterGateways.NodeOfAsync(Cluster, gateway) == leader) connectedThere.Add(gateway.Id);
            }
            var atKill = new List<long>();
            foreach (var watch in watches) atKill.Add(await watch.LastSequenceAsync());
            var killed = Stopwatch.StartNew();
            await Cluster.KillAsync(leader);
            for (var i = 0; i < watches.Count; i++) await ClusterGateways.ForwardedPastAsync(watches[i], atKill[i]);
            var resumed = killed.Elapsed;

            foreach (var load in loads) await load.StopAsync();
            var drains = new List<TimeSpan>();
            foreach (var watch in watches) drains.Add(await watch.DrainAsync());
            var acked = loads.SelectMany(l => l.Acked).ToList();
            var check = await QuorumQueueCheck.ReadAsync(Cluster, queue, acked);

            foreach (var id in connectedThere) await ClusterGateways.AssertReconnectShownAsync(gateways.Single(g => g.Id == id));
            output.WriteLine($"SIGKILL of the quorum queue's leader {leader.NodeName} under 3 gateways ({string.Join(", ", connectedThere.DefaultIfEmpty("none"))} connected to it): " +
                             $"all forwarding again {resumed.TotalSeconds:0.00} s after the kill; longest pause per gateway {string.Join(" / ", watches.Select(w => $"{w.LongestPause.TotalSeconds:0.00}"))} s; " +
                             $"{check.SentAgain} of {check.Distinct} messages sent again; drain {string.Join(" / ", drains.Select(d => $"{d.TotalSeconds:0.00}"))} s; " +
                             $"queue now {await Cluster.DescribeQueueAsync(queue)}");
            // Each gateway's messages are all there, from that gateway alone.
            foreach (var (gateway, load) in gateways.Zip(loads))
            {
                var mine = check.FirstDeliveries.Where(m => m.MessageId!.StartsWith(gateway.Id + "-", StringComparison.Ordinal)).Select(m => m.Body).ToList();
                Assert.Equal(load.Acked.Count, mine.Count(b => b.StartsWith(gateway.Id + "-s", StringComparison.Ordinal)));
                Assert.All(mine, b => Assert.StartsWith(gateway.Id + "-s", b));
            }
        }
        finally
        {
            foreach (var load in loads) await load.DisposeAsync();
            foreach (var watch in watches) await watch.DisposeAsync();
            foreach (var gateway in gateways) await gateway.DisposeAsync();
        }
    }
}
