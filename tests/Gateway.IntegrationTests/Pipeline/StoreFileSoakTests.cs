using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Pipeline;

/// <summary>
/// Outage after outage: the broker is down while the store fills with the same backlog, then back up
/// while it drains. The store's files must not keep growing: the second half of the cycles stays
/// within what the first half needed (a short soak; longer runs by hand with GATEWAY_SOAK_CYCLES,
/// figures in docs/reliability.md).
/// </summary>
[Trait("Category", "Slow")] // a soak
[Collection(PipelineCollection.Name)]
public sealed class StoreFileSoakTests(PipelineFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Store_files_stay_flat_across_fill_and_drain_cycles()
    {
        var node = fixture.Node;
        var cycles = int.TryParse(Environment.GetEnvironmentVariable("GATEWAY_SOAK_CYCLES"), out var n) ? Math.Max(n, 2) : 6;
        const int perCycle = 5000;
        await node.DeclareQueueBoundAsync("soak-q", "amq.topic", "soak.#");
        await using var gateway = new GatewayProcess(new GatewaySettings().Upstream("cloud", node.AmqpUri).Route("soak/#", "cloud").Build());
        await gateway.StartAsync();
        var clients = await Task.WhenAll(Enumerable.Range(0, 5).Select(p => MqttTestClient.ConnectAsync(gateway.MqttPort, $"soak{p}")));

        var sizes = new List<(double Data, double Log)>();
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            await node.StopAsync();
            await Task.WhenAll(clients.Select((c, p) => c.PublishSequenceAsync($"soak/dev{p}/temp", $"soak{p}", perCycle / clients.Length, start: cycle * perCycle)));
            Assert.Equal(perCycle, await gateway.MetricAsync("outbox_messages"));
            await node.StartAgainAsync();
            var draining = System.Diagnostics.Stopwatch.StartNew();
            await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, $"cycle {cycle} to drain");
            var drainSeconds = draining.Elapsed.TotalSeconds;
            await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_log_bytes") == 0, Patience.Delivery, $"the log to be checkpointed after cycle {cycle}");
            sizes.Add((await gateway.MetricAsync("outbox_data_file_bytes"), await gateway.MetricAsync("outbox_log_file_bytes")));
            output.WriteLine($"cycle {cycle + 1}: backlog of {perCycle} drained in {drainSeconds:0.0} s after the broker returned " +
                             $"({perCycle / drainSeconds:0} msgs/s, reconnect backoff included); data file {sizes[^1].Data:0} bytes, log file {sizes[^1].Log:0} bytes (preallocated)");
            await QueueReader.ReadAsync(node.AmqpUri, "soak-q", perCycle, Patience.Delivery); // keep the broker drained too
        }
        foreach (var client in clients) await client.DisposeAsync();

        // The first outages size the data file; later ones reuse its freed pages. How much room a backlog
        // takes depends on how its messages fell into group commits (a chunk each), which varies with
        // timing, so the bound is the largest of the first half of the cycles, not the first alone:
        // no growth from one half to the next.
        var firstHalf = sizes.Take(cycles / 2).Max(s => s.Data);
        Assert.All(sizes.Skip(cycles / 2), s => Assert.InRange(s.Data, 0, firstHalf * 1.10 + 64 * 1024));
        // The log is emptied after each drain (waited for above); its file keeps the size it was given.
        Assert.All(sizes, s => Assert.Equal(sizes[0].Log, s.Log));
    }
}
