using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.ActiveMq;

/// <summary>
/// The gateway against an ActiveMQ active/standby pair on shared storage (<see cref="SharedStoragePair"/>):
/// the active is SIGKILLed under QoS 1 load, the standby takes the store's lock and opens with the
/// active's messages, and the gateway fails over to it.
/// </summary>
[Trait("Category", "Slow")] // two brokers, a kill and a failover
public sealed class SharedStorageFailoverTests(ITestOutputHelper output)
{
    private const int BatchMaxMessages = 50;
    private const string Queue = "/queue/pair";

    [Fact]
    public async Task When_the_active_is_killed_mid_stream_the_standby_opens_on_the_same_store_and_every_acknowledged_message_is_in_the_queue()
    {
        await using var pair = await SharedStoragePair.StartAsync();
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("mq", pair.Active.StompUri, pair.Standby.StompUri).Set("Gateway__Upstreams__mq__Kind", "ActiveMq")
            .Set("Gateway__Upstreams__mq__BatchMaxMessages", BatchMaxMessages.ToString())
            // The product's reconnect delays, not the tests' short ones: the pause measured is an operator's.
            .Set("Gateway__Upstreams__mq__ReconnectMinDelay", "00:00:00.500").Set("Gateway__Upstreams__mq__ReconnectMaxDelay", "00:00:30")
            .Route("plant/#", "mq").Set("Gateway__Routes__0__Destination", Queue).Build());
        await gateway.StartAsync();
        using var stopPublishing = new CancellationTokenSource();
        var acked = new List<string>();
        var publishers = Enumerable.Range(0, 3).Select(d => PublishUntilAsync(gateway, $"dev{d}", acked, stopPublishing.Token)).ToArray();

        double cursorAtKill;
        try
        {
            await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_cursor", "mq") >= 500, Patience.Delivery, "forwarding to the active under way");
            var killed = Stopwatch.StartNew();
            await pair.Active.KillAsync();
            // Once the link's failure is counted, the batch in flight has been given up and no receipt can
            // move the cursor any more: what follows it was not confirmed.
            await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_failures_total", "mq") >= 1, Patience.Reaction, "the gateway to give the link up");
            cursorAtKill = await gateway.MetricAsync("upstream_cursor", "mq");
            await pair.Standby.WaitUntilOpenAsync(Patience.Failover);
            var standbyOpen = killed.Elapsed;
            await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_cursor", "mq") > cursorAtKill, Patience.Failover, "forwarding to resume on the standby");
            var resumed = killed.Elapsed;
            output.WriteLine($"SIGKILL of the active to the standby answering STOMP: {standbyOpen.TotalSeconds:0.0} s");
            output.WriteLine($"SIGKILL of the active to the gateway's cursor moving on the standby (the pause in forwarding): {resumed.TotalSeconds:0.0} s");

            // More load on the standby, so the last messages come after any batch sent again.
            await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_cursor", "mq") >= cursorAtKill + 300, Patience.Delivery, "load on the standby");
        }
        finally
        {
            await stopPublishing.CancelAsync();
        }
        await Task.WhenAll(publishers);
        await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the standby to confirm everything");

        var received = await SharedStoragePair.ReadAllOfAsync(pair.Standby, Queue, acked, Patience.Delivery);
        var bodies = received.Select(f => Encoding.UTF8.GetString(f.Body.Span)).ToList();
        var ids = received.Select(f => f["gateway-message-id"]!).ToList();
        var sentAgain = received.Count - ids.Distinct().Count();
        var copied = received.GroupBy(f => f["gateway-message-id"]!).Where(g => g.Count() > 1).ToList();
        output.WriteLine($"{acked.Count} acknowledged, {received.Count} in the queue, {sentAgain} sent again (cursor at the kill: {cursorAtKill}, " +
                         $"sent again: sequences {string.Join(",", copied.Select(g => g.First()["gateway-seq"]).Take(3))}..)");

        foreach (var line in gateway.Output.Split('\n').Where(l => l.Contains("failed: ", StringComparison.Ordinal) || l.Contains("connected to", StringComparison.Ordinal)))
            output.WriteLine(line);

        Assert.Empty(acked.Except(bodies)); // the old active's committed transactions came with the store
        Assert.Equal(ids.Distinct().Count(), bodies.Distinct().Count()); // one id per message: copies are told apart by it
        // Only the transaction in flight at the kill can have been committed and not confirmed: that
        // batch, sent again whole from its first message, is the only source of copies.
        Assert.All(copied, g => Assert.InRange(long.Parse(g.First()["gateway-seq"]!), (long)cursorAtKill + 1, (long)cursorAtKill + BatchMaxMessages));
        Assert.All(copied, g => Assert.Single(g.Select(f => Encoding.UTF8.GetString(f.Body.Span)).Distinct()));
        var firstSeen = received.Select(f => long.Parse(f["gateway-seq"]!)).Distinct().ToList();
        Assert.Equal(firstSeen.Order(), firstSeen); // FIFO among first deliveries
        Assert.Equal(1, await gateway.MetricAsync("upstream_endpoint_index", "mq"));
        Assert.Contains("connected to " + pair.Standby.StompUri, gateway.Output);
    }

    /// <summary>QoS 1 publishes one after another until stopped; each acknowledged payload is recorded.</summary>
    private static async Task PublishUntilAsync(GatewayProcess gateway, string device, List<string> acked, CancellationToken stop)
    {
        await using var client = await MqttTestClient.ConnectAsync(gateway.MqttPort, device);
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var payload = $"{device}:{i}";
            var result = await client.PublishAsync($"plant/{device}/temp", payload);
            if (!result.IsSuccess) throw new InvalidOperationException($"publish {payload} refused: {result.ReasonCode}");
            lock (acked) acked.Add(payload);
        }
    }
}
