using System.Diagnostics;
using Gateway.IntegrationTests.GatewayUnderTest;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Faults;

/// <summary>
/// A broker that stops answering (SIGSTOP: sockets open, nothing said) or goes away, seen through the
/// real gateway process: failover must not wait on the frozen broker, and /healthz must tell.
/// </summary>
[Trait("Category", "Slow")] // two broker nodes and a failover
public sealed class FrozenBrokerTests(TwoRabbitMqNodes nodes, ITestOutputHelper output) : IClassFixture<TwoRabbitMqNodes>
{
    private static string NewPrefix() => "f" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task A_frozen_broker_under_traffic_is_left_for_the_second_endpoint_within_10_s_and_nothing_acknowledged_is_lost()
    {
        var prefix = NewPrefix();
        var queue = prefix + "-q";
        await nodes.First.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await nodes.Second.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", nodes.First.AmqpUri, nodes.Second.AmqpUri) // default Heartbeat and ConfirmTimeout: the 10 s is the product's
            .Route($"{prefix}/#", "cloud").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");
        using var stopPublishing = new CancellationTokenSource();
        var acked = new List<string>();
        var publishing = PublishUntilAsync(device, $"{prefix}/dev/temp", acked, stopPublishing.Token);

        try
        {
            await Poll.UntilAsync(async () => await nodes.First.CountAsync(queue) >= 200, Patience.Delivery, "traffic to reach the first node");
            var frozen = Stopwatch.StartNew();
            await nodes.First.FreezeAsync();
            await Poll.UntilAsync(async () => await nodes.Second.CountAsync(queue) > 0, Patience.Delivery, "the second node to take over");
            var takeover = frozen.Elapsed;
            output.WriteLine($"freeze to first message on the second endpoint: {takeover.TotalSeconds:0.0} s");

            await stopPublishing.CancelAsync();
            await publishing;
            await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the second node to confirm everything");
            await nodes.First.ThawAsync();

            var onSecond = await QueueReader.ReadAsync(nodes.Second.AmqpUri, queue, (int)await nodes.Second.CountAsync(queue), Patience.Delivery);
            var missing = acked.ToHashSet();
            missing.ExceptWith(onSecond.Select(m => m.Body));
            var onFirst = await QueueReader.ReadAllOfAsync(nodes.First.AmqpUri, queue, missing, Patience.Delivery);
            missing.ExceptWith(onFirst.Select(m => m.Body));

            var detected = LoggedAt(gateway.Output, $"link to amqp://127.0.0.1:{nodes.First.AmqpPort}/ failed");
            var connected = LoggedAt(gateway.Output, $"connected to amqp://127.0.0.1:{nodes.Second.AmqpPort}/");
            output.WriteLine($"stall detected to connected to the second endpoint: {(connected - detected).TotalSeconds:0.0} s");

            Assert.True(takeover < TimeSpan.FromSeconds(10), $"the second endpoint took over {takeover.TotalSeconds:0.0} s after the freeze");
            Assert.True(connected - detected < TimeSpan.FromSeconds(3), $"failover started {(connected - detected).TotalSeconds:0.0} s after the stall was detected");
            Assert.Empty(missing); // every acknowledged message reached one of the two
            Assert.True(acked.Count > 200, $"only {acked.Count} messages were published");
        }
        finally
        {
            await stopPublishing.CancelAsync();
            await nodes.First.ThawAsync();
        }
    }

    [Fact]
    public async Task A_first_endpoint_frozen_before_the_start_is_given_up_after_the_connect_timeout_and_the_second_used()
    {
        var prefix = NewPrefix();
        var queue = prefix + "-q";
        await nodes.Second.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await nodes.First.FreezeAsync();
        try
        {
            await using var gateway = new GatewayProcess(new GatewaySettings()
                .Upstream("cloud", nodes.First.AmqpUri, nodes.Second.AmqpUri).Route($"{prefix}/#", "cloud").Build());
            var started = Stopwatch.StartNew();
            await gateway.StartAsync();
            await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");
            await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 10);

            await Poll.UntilAsync(async () => await nodes.Second.CountAsync(queue) >= 10, Patience.Delivery, "the second node to get the messages");
            output.WriteLine($"start with the first endpoint frozen to messages on the second: {started.Elapsed.TotalSeconds:0.0} s");

            // The TCP handshake succeeds (the kernel answers for the frozen node); AMQP's does not.
            Assert.Contains($"no AMQP connection to 127.0.0.1:{nodes.First.AmqpPort} within 10 s", gateway.Output);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(25), $"the second endpoint was used only {started.Elapsed.TotalSeconds:0.0} s after the start");
        }
        finally
        {
            await nodes.First.ThawAsync();
        }
    }

    [Fact]
    public async Task A_broker_that_stops_shows_as_disconnected_in_healthz_within_seconds_with_no_traffic()
    {
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", nodes.Second.AmqpUri).Route("idle/#", "cloud").Build());
        await gateway.StartAsync();
        await Poll.UntilAsync(async () => (await gateway.GetAsync("/healthz")).Contains("\"connected\":true"), Patience.Delivery, "the link to come up");

        try
        {
            var stopping = nodes.Second.StopAsync();
            await Poll.UntilAsync(async () => !await FreePort.AcceptsAsync(nodes.Second.AmqpPort), Patience.Delivery, "the node to stop listening");
            var stopped = Stopwatch.StartNew();
            await Poll.UntilAsync(async () => (await gateway.GetAsync("/healthz")).Contains("\"connected\":false"), Patience.Delivery, "/healthz to show the link down");
            var seen = stopped.Elapsed;
            output.WriteLine($"broker no longer listening to /healthz connected:false: {seen.TotalSeconds:0.0} s");
            await stopping;

            Assert.True(seen < TimeSpan.FromSeconds(3), $"/healthz showed the link down {seen.TotalSeconds:0.0} s after the broker stopped");
        }
        finally
        {
            if (!await FreePort.AcceptsAsync(nodes.Second.AmqpPort)) await nodes.Second.StartAgainAsync();
        }
    }

    [Fact]
    public async Task A_broker_that_freezes_with_no_traffic_is_seen_through_missed_heartbeats()
    {
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", nodes.Second.AmqpUri)
            .Set("Gateway__Upstreams__cloud__Heartbeat", "00:00:01")
            .Route("idle/#", "cloud").Build());
        await gateway.StartAsync();
        await Poll.UntilAsync(async () => (await gateway.GetAsync("/healthz")).Contains("\"connected\":true"), Patience.Delivery, "the link to come up");

        try
        {
            var frozen = Stopwatch.StartNew();
            await nodes.Second.FreezeAsync();
            await Poll.UntilAsync(async () => (await gateway.GetAsync("/healthz")).Contains("\"connected\":false"), Patience.Delivery, "/healthz to show the link down");
            var seen = frozen.Elapsed;
            output.WriteLine($"freeze (no traffic, heartbeat 1 s) to /healthz connected:false: {seen.TotalSeconds:0.0} s");

            // The client gives up after more than two missed heartbeats: 3 to 4 intervals.
            Assert.True(seen < TimeSpan.FromSeconds(6), $"/healthz showed the frozen link down only {seen.TotalSeconds:0.0} s after the freeze");
        }
        finally
        {
            await nodes.Second.ThawAsync();
        }
    }

    /// <summary>When the gateway logged the first line containing <paramref name="text"/> (its console timestamp).</summary>
    private static DateTime LoggedAt(string log, string text)
    {
        var line = log.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal))
                   ?? throw new Xunit.Sdk.XunitException($"the gateway never logged '{text}':\n{log}");
        return DateTime.ParseExact(line[..23], "yyyy-MM-ddTHH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>QoS 1 publishes one after another until stopped; each acknowledged payload is recorded.</summary>
    private static async Task PublishUntilAsync(MqttTestClient device, string topic, List<string> acked, CancellationToken stop)
    {
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var payload = $"dev:{i}";
            var result = await device.PublishAsync(topic, payload);
            if (!result.IsSuccess) throw new InvalidOperationException($"publish {payload} refused: {result.ReasonCode}");
            lock (acked) acked.Add(payload);
        }
    }
}

/// <summary>The same for ActiveMQ over STOMP: liveness from the broker's heart-beats.</summary>
[Trait("Category", "Slow")] // a broker frozen and heart-beats missed
public sealed class FrozenActiveMqTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_frozen_broker_with_no_traffic_is_seen_through_missed_heart_beats()
    {
        await using var broker = await ActiveMqBroker.StartAsync();
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("mq", broker.StompUri).Set("Gateway__Upstreams__mq__Kind", "ActiveMq")
            .Set("Gateway__Upstreams__mq__Heartbeat", "00:00:01")
            .Route("idle/#", "mq").Build());
        await gateway.StartAsync();
        await Poll.UntilAsync(async () => (await gateway.GetAsync("/healthz")).Contains("\"connected\":true"), Patience.Delivery, "the link to come up");

        try
        {
            var frozen = Stopwatch.StartNew();
            await broker.FreezeAsync();
            await Poll.UntilAsync(async () => (await gateway.GetAsync("/healthz")).Contains("\"connected\":false"), Patience.Delivery, "/healthz to show the link down");
            var seen = frozen.Elapsed;
            output.WriteLine($"freeze (no traffic, heart-beat 1 s) to /healthz connected:false: {seen.TotalSeconds:0.0} s");

            // Silent for twice the agreed interval, checked every half interval.
            Assert.True(seen < TimeSpan.FromSeconds(5), $"/healthz showed the frozen link down only {seen.TotalSeconds:0.0} s after the freeze");
            await Poll.UntilAsync(() => gateway.Output.Contains("missed heart-beats"), Patience.Delivery, "the cause to be logged");
        }
        finally
        {
            await broker.ThawAsync();
        }
    }
}
