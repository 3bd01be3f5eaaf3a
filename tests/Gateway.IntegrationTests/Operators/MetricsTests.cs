using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Gateway.Core.Diagnostics;
using Gateway.IntegrationTests.Pipeline;
using Gateway.Stomp;
using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Operators;

/// <summary><c>/metrics</c> of the real gateway process: every declared series from the start, and exact counts after known traffic.</summary>
[Collection(PipelineCollection.Name)]
public sealed class MetricsTests(PipelineFixture fixture)
{
    /// <summary>The exposition's samples by their full key (name and labels), and its HELP and TYPE lines.</summary>
    private sealed record Exposition(Dictionary<string, double> Samples, HashSet<string> Help, Dictionary<string, string> Types)
    {
        public static Exposition Parse(string text)
        {
            var samples = new Dictionary<string, double>(StringComparer.Ordinal);
            var help = new HashSet<string>(StringComparer.Ordinal);
            var types = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ', 4);
                if (line.StartsWith("# HELP ", StringComparison.Ordinal)) help.Add(parts[2]);
                else if (line.StartsWith("# TYPE ", StringComparison.Ordinal)) types[parts[2]] = parts[3];
                else if (!line.StartsWith('#')) samples[line[..line.LastIndexOf(' ')]] = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
            return new Exposition(samples, help, types);
        }
    }

    [Fact]
    public async Task Every_declared_series_is_there_at_start_with_HELP_and_TYPE_and_no_figure_is_absurd()
    {
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", $"amqp://127.0.0.1:{FreePort.Next()}/").Route("sensors/#", "cloud").Build());
        await gateway.StartAsync();

        var metrics = Exposition.Parse(await gateway.GetAsync("/metrics"));

        foreach (var d in MetricCatalog.All)
        {
            var name = "gateway_" + d.Name;
            Assert.Contains(name, metrics.Help);
            Assert.Equal(d.Kind.ToString().ToLowerInvariant(), metrics.Types[name]);
            var sample = d switch
            {
                { Kind: MetricKind.Histogram } => name + "_count",
                { Label: MetricCatalog.UpstreamLabel } => $"{name}{{upstream=\"cloud\"}}",
                { Label: MetricCatalog.RouteLabel } => $"{name}{{route=\"sensors/#\"}}",
                { Label: { } label, KnownValues: [var first, ..] } => $"{name}{{{label}=\"{first}\"}}",
                _ => name,
            };
            Assert.True(metrics.Samples.ContainsKey(sample), $"{sample} is not shown at start");
        }
        Assert.DoesNotContain(GatewayMetrics.UndeclaredHelp, await gateway.GetAsync("/metrics"));
        // Before the first message the free space is unknown: NaN, never 2^63.
        var free = metrics.Samples["gateway_outbox_disk_free_bytes"];
        Assert.True(double.IsNaN(free) || free < 1e17, $"disk free {free}");
        Assert.Contains(metrics.Samples, s => s.Key.StartsWith("gateway_build_info{version=", StringComparison.Ordinal) && s.Value == 1);
        Assert.True(metrics.Samples["process_working_set_bytes"] > 10 << 20, "resident memory");
        Assert.True(metrics.Samples["process_cpu_seconds_total"] > 0, "CPU seconds");
        Assert.True(metrics.Samples["process_num_threads"] > 1, "threads");
        var openFiles = metrics.Samples["process_open_handles"];
        Assert.True(openFiles > 10, $"open file descriptors {openFiles}");
    }

    [Fact]
    public async Task After_known_MQTT_and_STOMP_traffic_forwarded_to_RabbitMQ_the_counts_are_exact()
    {
        const int mqttPublishes = 7, stompSends = 5;
        var prefix = "m" + Guid.NewGuid().ToString("N")[..8];
        await fixture.Node.DeclareQueueBoundAsync(prefix + "-q", "amq.topic", $"{prefix}.#");
        await using var gateway = new GatewayProcess(new GatewaySettings().Upstream("cloud", fixture.Node.AmqpUri).Route($"{prefix}/#", "cloud").Build());
        await gateway.StartAsync();
        await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_connected", "cloud") == 1, Patience.Delivery, "the link to come up");
        // The start-up probes of the ports were connections too: count from here.
        await Poll.UntilAsync(async () => await gateway.MetricAsync("connections_open", "mqtt") == 0 && await gateway.MetricAsync("connections_open", "stomp") == 0,
            Patience.Reaction, "the start-up probes' connections to close");
        var mqttConnectionsBefore = await gateway.MetricAsync("connections_total", "mqtt");

        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev", MqttProtocolVersion.V500);
        await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", mqttPublishes);
        var refused = await device.PublishAsync("$SYS/not-yours", "x");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", gateway.StompPort);
        await using var stomp = await StompClientConnection.ConnectAsync(tcp.GetStream(), new StompConnectOptions { Host = "gw" }, CancellationToken.None);
        for (var i = 0; i < stompSends; i++)
        {
            var send = StompFrame.Create(StompCommand.Send, Encoding.UTF8.GetBytes($"s{i}"), [("destination", $"/topic/{prefix}.stomp"), ("receipt", $"r{i}")]);
            await stomp.WriteAndAwaitReceiptAsync([send], $"r{i}", CancellationToken.None).WaitAsync(Patience.Reaction);
        }
        var received = await QueueReader.ReadAsync(fixture.Node.AmqpUri, prefix + "-q", mqttPublishes + stompSends, Patience.Delivery);
        await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_backlog_messages", "cloud") == 0, Patience.Delivery, "the cursor to pass every message");

        Assert.Equal(mqttPublishes + stompSends, received.Count);
        Assert.Equal(mqttPublishes, await gateway.MetricAsync("mqtt_publishes_received_total"));
        Assert.Equal(1, await gateway.MetricAsync("mqtt_publishes_refused_total"));
        Assert.Equal(stompSends, await gateway.MetricAsync("stomp_sends_received_total"));
        Assert.Equal(mqttPublishes + stompSends, await gateway.MetricAsync("messages_stored_total", $"{prefix}/#"));
        Assert.Equal(mqttPublishes + stompSends, await gateway.MetricAsync("outbox_appended_total"));
        Assert.Equal(mqttPublishes + stompSends, await gateway.MetricAsync("messages_forwarded_total", "cloud"));
        Assert.Equal(mqttPublishes + stompSends, await gateway.MetricAsync("messages_forwarded_by_route_total", $"{prefix}/#"));
        Assert.Equal(0, await gateway.MetricAsync("messages_refused_full_total", $"{prefix}/#"));
        Assert.Equal(mqttConnectionsBefore + 1, await gateway.MetricAsync("connections_total", "mqtt"));
        Assert.Equal(1, await gateway.MetricAsync("connections_open", "mqtt"));
        Assert.Equal(1, await gateway.MetricAsync("connections_open", "stomp"));
        Assert.Equal(0, await gateway.MetricAsync("connections_open", "mqtt-ws"));
        Assert.Equal(1, await gateway.MetricAsync("upstream_connects_total", "cloud"));
        Assert.Equal(0, await gateway.MetricAsync("upstream_down_seconds", "cloud"));
        Assert.Equal(0, await gateway.MetricAsync("upstream_drain_eta_seconds", "cloud"));
        Assert.Equal(0, await gateway.MetricAsync("upstream_oldest_message_age_seconds", "cloud"));
        Assert.True(await gateway.MetricAsync("outbox_disk_free_bytes") is > 0 and < 1e17, "disk free once read");
    }
}
