namespace Gateway.IntegrationTests.Pipeline;

[Collection(PipelineCollection.Name)]
public sealed class MqttToRabbitMqTests(PipelineFixture fixture)
{
    private RabbitMqNode Node => fixture.Node;

    private static string NewPrefix() => "t" + Guid.NewGuid().ToString("N")[..8];

    [Trait("Category", "Slow")] // a load
    [Fact]
    public async Task Ten_thousand_QoS1_messages_from_several_publishers_arrive_once_in_order_with_keys_and_ids()
    {
        var prefix = NewPrefix();
        var queue = prefix + "-q";
        await Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await using var gateway = new GatewayProcess(new GatewaySettings().Upstream("cloud", Node.AmqpUri).Route($"{prefix}/#", "cloud").Build());
        await gateway.StartAsync();

        const int publishers = 10, each = 1000;
        var acked = await Task.WhenAll(Enumerable.Range(0, publishers).Select(async p =>
        {
            await using var client = await MqttTestClient.ConnectAsync(gateway.MqttPort, $"dev{p}");
            return await client.PublishSequenceAsync($"{prefix}/dev{p}/temp", $"dev{p}", each);
        }));

        var received = await QueueReader.ReadAsync(Node.AmqpUri, queue, publishers * each, Patience.Delivery);

        Assert.Equal(publishers * each, received.Count);
        Assert.Equal(received.Count, received.Select(m => m.MessageId).Distinct().Count()); // each once
        Assert.All(received, m =>
        {
            var client = m.Body.Split(':')[0];
            Assert.Equal($"{prefix}.{client}.temp", m.RoutingKey);
            Assert.Matches("^gw-[0-9]+$", m.MessageId);
            Assert.True(m.Persistent);
            Assert.Equal($"{prefix}/{client}/temp", m.Header("x-mqtt-topic"));
            Assert.Equal(client, m.Header("x-gateway-client-id"));
        });
        foreach (var (payloads, p) in acked.Select((a, p) => (a, p)))
        {
            var arrived = received.Where(m => m.Body.StartsWith($"dev{p}:")).Select(m => m.Body).ToList();
            Assert.Equal(payloads, arrived); // per-publisher order
        }
        Assert.Empty(gateway.ErrorLines);
    }

    [Trait("Category", "Slow")] // a broker restart
    [Fact]
    public async Task Publishes_are_acknowledged_while_the_broker_is_down_and_arrive_in_order_when_it_returns()
    {
        var prefix = NewPrefix();
        var queue = prefix + "-q";
        await Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await using var gateway = new GatewayProcess(new GatewaySettings().Upstream("cloud", Node.AmqpUri).Route($"{prefix}/#", "cloud").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        var acked = await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 200);
        await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the first 200 to be forwarded");

        await Node.StopAsync();
        acked.AddRange(await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 800, start: 200));
        Assert.Equal(800, await gateway.MetricAsync("outbox_messages")); // stored, not forwarded
        Assert.Contains("\"connected\":false", await gateway.GetAsync("/healthz"));

        await Node.StartAgainAsync();
        var received = await QueueReader.ReadAsync(Node.AmqpUri, queue, 1000, Patience.Delivery);

        Assert.Equal(acked, received.Select(m => m.Body));
        await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the outbox to empty");
    }

    [Trait("Category", "Slow")] // a crash under load
    [Fact]
    public async Task Every_acknowledged_message_arrives_after_the_gateway_is_killed_right_after_its_acks()
    {
        var prefix = NewPrefix();
        var queue = prefix + "-q";
        await Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        var settings = new GatewaySettings().Upstream("cloud", Node.AmqpUri).Route($"{prefix}/#", "cloud").Build();
        var dataPath = Directory.CreateTempSubdirectory("gateway-kill-").FullName;
        try
        {
            List<string>[] acked;
            await using (var first = new GatewayProcess(settings, dataPath))
            {
                await first.StartAsync();
                acked = await Task.WhenAll(Enumerable.Range(0, 4).Select(async p =>
                {
                    var client = await MqttTestClient.ConnectAsync(first.MqttPort, $"dev{p}");
                    return await client.PublishSequenceAsync($"{prefix}/dev{p}/temp", $"dev{p}", 1500);
                }));
                await first.KillAsync(); // SIGKILL straight after the last PUBACK, forwarding still under way
            }

            await using var second = new GatewayProcess(settings, dataPath);
            await second.StartAsync();
            var expected = acked.SelectMany(a => a).ToHashSet();
            var received = await QueueReader.ReadAllOfAsync(Node.AmqpUri, queue, expected, Patience.Delivery, quiet: TimeSpan.FromSeconds(20));

            var arrived = received.Select(m => m.Body).ToHashSet();
            Assert.Empty(expected.Except(arrived)); // nothing acknowledged is missing; replays are allowed
            // Replays keep their original id: a consumer can drop them.
            Assert.All(received.GroupBy(m => m.Body), g => Assert.Single(g.Select(m => m.MessageId).Distinct()));
            await Poll.UntilAsync(async () => await second.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the outbox to empty");
        }
        finally
        {
            Directory.Delete(dataPath, recursive: true);
        }
    }

    [Trait("Category", "Slow")] // a second broker node
    [Fact]
    public async Task With_two_upstreams_on_one_route_a_stopped_one_never_stalls_the_other_and_gets_its_backlog_later()
    {
        var prefix = NewPrefix();
        var queue = prefix + "-q";
        await using var second = await RabbitMqNode.StartAsync();
        await Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await second.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("onprem", Node.AmqpUri).Upstream("cloud", second.AmqpUri)
            .Route($"{prefix}/#", "onprem").Route($"{prefix}/#", "cloud").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        await second.StopAsync();
        var acked = await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 300);

        var onPrem = await QueueReader.ReadAsync(Node.AmqpUri, queue, 300, Patience.Delivery);
        Assert.Equal(acked, onPrem.Select(m => m.Body));
        Assert.Equal(300, await gateway.MetricAsync("outbox_messages")); // kept for the cloud

        await second.StartAgainAsync();
        var cloud = await QueueReader.ReadAsync(second.AmqpUri, queue, 300, Patience.Delivery);
        Assert.Equal(acked, cloud.Select(m => m.Body));
        Assert.Equal(onPrem.Select(m => m.MessageId), cloud.Select(m => m.MessageId));
        await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, "both upstreams to confirm");
    }

    [Fact]
    public async Task A_message_the_broker_returns_as_unroutable_stays_in_the_store_until_a_queue_takes_it()
    {
        var prefix = NewPrefix();
        var exchange = prefix + "-direct";
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", Node.AmqpUri)
            .Route($"{prefix}/#", "cloud", exchange)
            .Set("Gateway__Routes__0__ExchangeType", "Direct")
            .Set("Gateway__Routes__0__DeclareExchange", "true")
            .Set("Gateway__Routes__0__RoutingKey", "readings")
            .Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        var acked = await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 20);
        // No queue is bound yet: mandatory publishes come back, and the batch must not count as sent.
        await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_failures_total", "cloud") >= 2, Patience.Delivery, "returned batches to be retried");
        Assert.Equal(20, await gateway.MetricAsync("outbox_messages"));
        Assert.Contains("returned by the broker: 312 NO_ROUTE", gateway.Output);

        var queue = prefix + "-q";
        await Node.DeclareQueueBoundAsync(queue, exchange, "readings");
        var received = await QueueReader.ReadAsync(Node.AmqpUri, queue, 20, Patience.Delivery);
        Assert.Equal(acked, received.Select(m => m.Body));
        Assert.All(received, m => Assert.Equal("readings", m.RoutingKey));
    }

    [Fact]
    public async Task An_upstream_with_a_dead_first_endpoint_fails_over_to_the_next()
    {
        var prefix = NewPrefix();
        var queue = prefix + "-q";
        await Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        var dead = $"amqp://guest:guest@127.0.0.1:{FreePort.Next()}/";
        await using var gateway = new GatewayProcess(new GatewaySettings().Upstream("cloud", dead, Node.AmqpUri).Route($"{prefix}/#", "cloud").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        var acked = await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 50);
        var received = await QueueReader.ReadAsync(Node.AmqpUri, queue, 50, Patience.Delivery);

        Assert.Equal(acked, received.Select(m => m.Body));
        Assert.Equal(1, await gateway.MetricAsync("upstream_endpoint_index", "cloud"));
        Assert.Contains($"127.0.0.1:{Node.AmqpPort}", await gateway.GetAsync("/healthz"));
    }

    [Trait("Category", "Slow")] // a load and a restart
    [Fact]
    public async Task A_SIGTERM_under_load_stops_cleanly_and_the_rest_is_sent_after_restart()
    {
        var prefix = NewPrefix();
        var queue = prefix + "-q";
        await Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        var settings = new GatewaySettings().Upstream("cloud", Node.AmqpUri).Route($"{prefix}/#", "cloud").Build();
        var dataPath = Directory.CreateTempSubdirectory("gateway-term-").FullName;
        try
        {
            List<string> acked;
            await using (var first = new GatewayProcess(settings, dataPath))
            {
                await first.StartAsync();
                await using var device = await MqttTestClient.ConnectAsync(first.MqttPort, "dev");
                acked = await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 3000);
                var stopping = DateTime.UtcNow;
                await first.StopAsync(TimeSpan.FromSeconds(20));
                Assert.Equal(0, first.ExitCode);
                Assert.True(DateTime.UtcNow - stopping < TimeSpan.FromSeconds(15), "shutdown took too long");
                Assert.Contains("closed with", first.Output);
            }

            await using var second = new GatewayProcess(settings, dataPath);
            await second.StartAsync();
            var received = await QueueReader.ReadAllOfAsync(Node.AmqpUri, queue, acked.ToHashSet(), Patience.Delivery, quiet: TimeSpan.FromSeconds(10));
            Assert.Empty(acked.Except(received.Select(m => m.Body)));
            await Poll.UntilAsync(async () => await second.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the outbox to empty");
        }
        finally
        {
            Directory.Delete(dataPath, recursive: true);
        }
    }

    [Trait("Category", "Slow")] // a broker outage
    [Fact]
    public async Task Messages_past_their_route_TTL_during_an_outage_are_removed_counted_and_never_sent()
    {
        var prefix = NewPrefix();
        var queue = prefix + "-q";
        await Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", Node.AmqpUri).Route($"{prefix}/#", "cloud")
            .Set("Gateway__Routes__0__Ttl", "00:00:01")
            .Set("Gateway__Outbox__ExpirySweepInterval", "00:00:00.200").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        await Node.StopAsync();
        await device.PublishSequenceAsync($"{prefix}/dev/temp", "stale", 10);
        await Poll.UntilAsync(async () => await gateway.MetricAsync("messages_expired_total") == 10, Patience.Delivery, "the stale messages to expire");
        Assert.Equal(0, await gateway.MetricAsync("outbox_messages"));

        await Node.StartAgainAsync();
        // Publish once the link is back, so the fresh ones are well inside their one-second TTL.
        await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_connected", "cloud") == 1, Patience.Delivery, "the link to return");
        var fresh = await device.PublishSequenceAsync($"{prefix}/dev/temp", "fresh", 3);
        var received = await QueueReader.ReadAsync(Node.AmqpUri, queue, 3, Patience.Delivery);
        Assert.Equal(fresh, received.Select(m => m.Body)); // the fresh ones, and none of the stale
    }
}
