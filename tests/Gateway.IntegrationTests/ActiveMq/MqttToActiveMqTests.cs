using System.Text;
using Gateway.Stomp;

namespace Gateway.IntegrationTests.ActiveMq;

[Collection(ActiveMqCollection.Name)]
public sealed class MqttToActiveMqTests(ActiveMqFixture fixture)
{
    private ActiveMqBroker Broker => fixture.Broker;

    private static string NewPrefix() => "a" + Guid.NewGuid().ToString("N")[..8];

    private static string Body(StompFrame frame) => Encoding.UTF8.GetString(frame.Body.Span);

    private static GatewaySettings ActiveMqUpstream(string name, params string[] endpoints) =>
        new GatewaySettings().Upstream(name, endpoints).Set($"Gateway__Upstreams__{name}__Kind", "ActiveMq");

    [Trait("Category", "Slow")] // a load
    [Fact]
    public async Task Ten_thousand_QoS1_messages_routed_to_a_queue_arrive_once_and_in_order()
    {
        var prefix = NewPrefix();
        var queue = $"/queue/{prefix}";
        await using var gateway = new GatewayProcess(ActiveMqUpstream("mq", Broker.StompUri)
            .Route($"{prefix}/#", "mq").Set("Gateway__Routes__0__Destination", queue).Build());
        await gateway.StartAsync();

        const int publishers = 5, each = 2000;
        var acked = await Task.WhenAll(Enumerable.Range(0, publishers).Select(async p =>
        {
            await using var client = await MqttTestClient.ConnectAsync(gateway.MqttPort, $"dev{p}");
            return await client.PublishSequenceAsync($"{prefix}/dev{p}/temp", $"dev{p}", each);
        }));

        var received = await Broker.ReadAsync(queue, publishers * each, Patience.Delivery);

        Assert.Equal(publishers * each, received.Count);
        Assert.Equal(received.Count, received.Select(f => f["gateway-message-id"]).Distinct().Count());
        Assert.All(received, f =>
        {
            var client = Body(f).Split(':')[0];
            Assert.Equal($"{prefix}/{client}/temp", f["mqtt-topic"]);
            Assert.Equal(client, f["gateway-client-id"]);
            Assert.Matches("^gw-[0-9]+$", f["gateway-message-id"]);
            Assert.Equal("true", f["persistent"]);
        });
        for (var p = 0; p < publishers; p++)
            Assert.Equal(acked[p], received.Select(Body).Where(b => b.StartsWith($"dev{p}:")));
        await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the outbox to empty");
        Assert.Empty(gateway.ErrorLines);
    }

    [Fact]
    public async Task Without_a_destination_a_topic_maps_to_a_dotted_ActiveMQ_topic()
    {
        var prefix = NewPrefix();
        await using var gateway = new GatewayProcess(ActiveMqUpstream("mq", Broker.StompUri).Route($"{prefix}/#", "mq").Build());
        await gateway.StartAsync();
        await using var consumer = await Broker.SubscribeAsync($"/topic/{prefix}.line1.temp");
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        await device.PublishAsync($"{prefix}/line1/temp", "21.5");

        using var wait = new CancellationTokenSource(Patience.Delivery);
        var frame = await consumer.Messages.ReadAsync(wait.Token);
        Assert.Equal("21.5", Body(frame));
    }

    [Fact]
    public async Task Over_TLS_a_broker_certificate_from_the_configured_CA_is_trusted()
    {
        var prefix = NewPrefix();
        var queue = $"/queue/{prefix}";
        await using var gateway = new GatewayProcess(ActiveMqUpstream("mq", Broker.StompSslUri)
            .Route($"{prefix}/#", "mq").Set("Gateway__Routes__0__Destination", queue)
            .Set("Gateway__Upstreams__mq__CaFile", Broker.Certificates!.CaPemFile).Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        var acked = await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 100);

        var received = await Broker.ReadAsync(queue, 100, Patience.Delivery);
        Assert.Equal(acked, received.Select(Body));
        Assert.Contains($"connected to {Broker.StompSslUri}", gateway.Output);
    }

    [Fact]
    public async Task Over_TLS_an_untrusted_broker_certificate_is_refused_with_a_clear_error_and_nothing_is_lost()
    {
        var prefix = NewPrefix();
        await using var gateway = new GatewayProcess(ActiveMqUpstream("mq", Broker.StompSslUri)
            .Route($"{prefix}/#", "mq").Set("Gateway__Routes__0__Destination", $"/queue/{prefix}")
            .Set("Gateway__Upstreams__mq__CaFile", Broker.Certificates!.OtherCaPemFile).Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 10);

        await Poll.UntilAsync(() => gateway.Output.Contains("TLS to 127.0.0.1"), Patience.Delivery, "the TLS failure to be logged");
        Assert.Contains("is the broker's certificate trusted?", gateway.Output);
        Assert.Equal(10, await gateway.MetricAsync("outbox_messages"));
        Assert.Equal(0, await gateway.MetricAsync("upstream_connected", "mq"));
    }
}

/// <summary>Two brokers standing in for Amazon MQ's active/standby pair: the gateway fails over and loses nothing.</summary>
[Trait("Category", "Slow")] // a pair of brokers failing over
public sealed class ActiveMqFailoverTests
{
    [Fact]
    public async Task When_the_active_broker_stops_mid_stream_the_gateway_moves_to_the_standby_and_nothing_acknowledged_is_lost()
    {
        await using var active = await ActiveMqBroker.StartAsync();
        await using var standby = await ActiveMqBroker.StartAsync();
        const string queue = "/queue/failover";
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("mq", active.StompUri, standby.StompUri).Set("Gateway__Upstreams__mq__Kind", "ActiveMq")
            .Set("Gateway__Upstreams__mq__BatchMaxMessages", "50")
            .Route("plant/#", "mq").Set("Gateway__Routes__0__Destination", queue).Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        var acked = await device.PublishSequenceAsync("plant/dev/temp", "dev", 1500);
        var publishing = device.PublishSequenceAsync("plant/dev/temp", "dev", 1500, start: 1500);
        await active.StopAsync(); // mid-stream: publishing and forwarding are both under way
        acked.AddRange(await publishing);

        var onStandby = await standby.ReadAsync(queue, acked.Count, Patience.Failover, quiet: TimeSpan.FromSeconds(20));
        Assert.Contains("connected to " + standby.StompUri, gateway.Output);
        Assert.Equal(1, await gateway.MetricAsync("upstream_endpoint_index", "mq"));

        await active.StartAgainAsync();
        var onActive = await active.ReadAsync(queue, acked.Count, TimeSpan.FromSeconds(60), quiet: TimeSpan.FromSeconds(10));

        var arrived = onActive.Concat(onStandby).Select(f => Encoding.UTF8.GetString(f.Body.Span)).ToHashSet();
        Assert.Empty(acked.Except(arrived)); // every acknowledged message is on one broker or the other
        Assert.NotEmpty(onStandby);
        // Order per route holds on each broker: sequences only rise (a replayed batch may repeat some).
        foreach (var side in new[] { onActive, onStandby })
        {
            var sequences = side.Select(f => long.Parse(f["gateway-seq"]!)).ToList();
            var firstSeen = sequences.Distinct().ToList();
            Assert.Equal(firstSeen.Order(), firstSeen);
        }
    }
}
