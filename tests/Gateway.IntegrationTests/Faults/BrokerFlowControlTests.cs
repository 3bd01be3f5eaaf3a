using System.Diagnostics;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Faults;

/// <summary>
/// RabbitMQ's flow control seen through the real gateway process: a memory alarm on the node blocks
/// publishing connections (<c>connection.blocked</c>). The link is then alive but confirms nothing,
/// and must be shown as blocked, not taken for a dead broker and torn down again and again.
/// </summary>
[Trait("Category", "Slow")] // a private node and an alarm held for a few confirm timeouts
public sealed class BrokerFlowControlTests(BrokerFlowControlTests.AlarmNode node, ITestOutputHelper output)
    : IClassFixture<BrokerFlowControlTests.AlarmNode>
{
    /// <summary>Short, so that holding the alarm for a few of them keeps the test to seconds.</summary>
    private static readonly TimeSpan ConfirmTimeout = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_memory_alarm_shows_the_link_blocked_keeps_it_without_reconnects_and_everything_arrives_once_it_clears()
    {
        const string prefix = "flow";
        var queue = prefix + "-q";
        await node.Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", node.Node.AmqpUri)
            .Set("Gateway__Upstreams__cloud__ConfirmTimeout", "00:00:01")
            .Set("Gateway__Upstreams__cloud__Heartbeat", "00:00:01") // the block outlasts several: heartbeats go on meanwhile
            .Set("Gateway__Upstreams__cloud__BatchMaxMessages", "50")
            .Route($"{prefix}/#", "cloud").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");
        var acked = await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 100);
        await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the first messages to be confirmed");

        try
        {
            await node.SetMemoryAlarmAsync(on: true);
            var blocked = Stopwatch.StartNew();
            // QoS 1 while blocked: each ack means stored, the broker takes none of them for now.
            acked.AddRange(await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 300, start: 100));
            await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_blocked", "cloud") == 1, Patience.Reaction, "the link to be reported blocked");
            output.WriteLine($"alarm set to the gateway reporting the link blocked: {blocked.Elapsed.TotalSeconds:0.0} s");
            Assert.Contains("\"blocked\":true", await gateway.GetAsync("/healthz"));
            Assert.Contains("\"connected\":true", await gateway.GetAsync("/healthz"));
            Assert.True(await gateway.MetricAsync("outbox_messages") > 0, "the messages sent while blocked should wait in the outbox");

            // Held for several confirm timeouts: a forwarder taking the silence for a stall would have
            // restarted the link by now, and again after each reconnect.
            await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_blocked_seconds_total", "cloud") >= 4 * ConfirmTimeout.TotalSeconds,
                Patience.Reaction, "the link to stay blocked for four confirm timeouts");
            Assert.Equal(0, await gateway.MetricAsync("upstream_stalls_total", "cloud"));
            Assert.Equal(0, await gateway.MetricAsync("upstream_failures_total", "cloud"));
            Assert.Equal(1, await gateway.MetricAsync("upstream_connects_total", "cloud"));

            await node.SetMemoryAlarmAsync(on: false);
            var cleared = Stopwatch.StartNew();
            await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the backlog to drain once unblocked");
            output.WriteLine($"alarm cleared to the backlog of {acked.Count - 100} drained: {cleared.Elapsed.TotalSeconds:0.0} s");
            Assert.Equal(0, await gateway.MetricAsync("upstream_blocked", "cloud"));
            Assert.Contains("\"blocked\":false", await gateway.GetAsync("/healthz"));
        }
        finally
        {
            await node.SetMemoryAlarmAsync(on: false);
        }

        var received = await QueueReader.ReadAsync(node.Node.AmqpUri, queue, acked.Count, Patience.Delivery);
        Assert.Equal(acked, received.Select(m => m.Body)); // all, once each, in order: nothing was sent twice
        Assert.Equal(1, await gateway.MetricAsync("upstream_connects_total", "cloud"));
        Assert.Equal(1, gateway.Output.Split('\n').Count(l => l.Contains("the broker blocked publishing", StringComparison.Ordinal)));
        Assert.Equal(1, gateway.Output.Split('\n').Count(l => l.Contains("the broker takes publishes again", StringComparison.Ordinal)));
    }

    /// <summary>A node of its own: an alarm blocks every publisher on the node, and must not reach other tests.</summary>
    public sealed class AlarmNode : IAsyncLifetime
    {
        public RabbitMqNode Node { get; private set; } = null!;

        public async Task InitializeAsync() => Node = await RabbitMqNode.StartAsync();

        public async Task DisposeAsync() => await Node.DisposeAsync();

        /// <summary>
        /// A watermark so low that any node is over it (memory alarm: publishers blocked), or RabbitMQ's
        /// default 0.4 again (alarm cleared).
        /// </summary>
        public async Task SetMemoryAlarmAsync(bool on)
        {
            var (code, text) = await ChildProcesses.RunAsync("rabbitmqctl",
                ["-n", Node.NodeName, "set_vm_memory_high_watermark", on ? "0.0000001" : "0.4"]);
            if (code != 0) throw new InvalidOperationException($"rabbitmqctl set_vm_memory_high_watermark failed: {text}");
        }
    }
}
