using Gateway.IntegrationTests.Pipeline;

namespace Gateway.IntegrationTests.Browser;

/// <summary>
/// Real browser-side clients against the real gateway and a real RabbitMQ: @stomp/stompjs over the
/// <c>ws</c> package, MQTT.js over WebSocket, and the example page in headless Chromium driven by
/// Playwright. The Node programs check what their clients see; these tests check what reached the
/// upstream queue.
/// </summary>
[Trait("Category", "Slow")] // Chromium and Node.js clients
[Collection(PipelineCollection.Name)]
public sealed class NodeClientTests(PipelineFixture fixture)
{
    private RabbitMqNode Node => fixture.Node;

    private async Task<(GatewayProcess Gateway, string Prefix, string Queue)> StartAsync()
    {
        var prefix = "b" + Guid.NewGuid().ToString("N")[..8];
        var queue = prefix + "-q";
        await Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        var gateway = new GatewayProcess(new GatewaySettings().Upstream("cloud", Node.AmqpUri).Route($"{prefix}/#", "cloud").Build());
        await gateway.StartAsync();
        return (gateway, prefix, queue);
    }

    private static Dictionary<string, string> Environment(GatewayProcess gateway, string prefix) => new()
    {
        ["GATEWAY_HTTP"] = $"http://127.0.0.1:{gateway.HttpPort}",
        ["GATEWAY_MQTT"] = $"mqtt://127.0.0.1:{gateway.MqttPort}",
        ["BROWSER_TOPIC_PREFIX"] = prefix,
    };

    private static void AssertPassed(NodeScript.Result result, GatewayProcess gateway) =>
        Assert.True(result.ExitCode == 0, $"the script failed ({result.ExitCode}):\n{result.Output}\n--- gateway:\n{gateway.Output}");

    [Fact]
    public async Task StompJs_over_WebSocket_sends_receipted_messages_to_STOMP_MQTT_and_the_upstream_queue_in_order()
    {
        var (gateway, prefix, queue) = await StartAsync();
        await using var _ = gateway;

        var result = await NodeScript.RunAsync("stomp-node.mjs", Environment(gateway, prefix), Patience.Delivery);
        AssertPassed(result, gateway);

        // The script sent 20 SENDs to /topic/<prefix>.node.a and published 20 over MQTT to <prefix>/node/b.
        var received = await QueueReader.ReadAsync(Node.AmqpUri, queue, 40, Patience.Delivery);
        var fromStomp = received.Where(m => m.Body.StartsWith("stomp-to-all", StringComparison.Ordinal)).ToList();
        Assert.Equal(20, fromStomp.Count);
        Assert.All(fromStomp, m => Assert.Equal($"{prefix}.node.a", m.RoutingKey));
        Assert.Equal(fromStomp.Select(m => m.Body).Order(StringComparer.Ordinal), fromStomp.Select(m => m.Body)); // in order (the bodies count up)
        Assert.Equal(20, received.Count(m => m.Body.StartsWith("mqtt-to-stomp", StringComparison.Ordinal)));
        // The refused SENDs (bad destinations) reached nobody.
        Assert.DoesNotContain(received, m => m.Body.Contains("must be refused"));
        Assert.Equal(20, await gateway.MetricAsync("stomp_sends_received_total") - 2);
        Assert.Equal(2, await gateway.MetricAsync("stomp_sends_refused_total"));
        Assert.Empty(gateway.ErrorLines);
    }

    [Fact]
    public async Task MqttJs_over_WebSocket_publishes_and_receives_with_MQTT_3_1_1_and_5()
    {
        var (gateway, prefix, queue) = await StartAsync();
        await using var _ = gateway;

        var result = await NodeScript.RunAsync("mqtt-ws.mjs", Environment(gateway, prefix), Patience.Delivery);
        AssertPassed(result, gateway);

        // What MQTT.js published over WebSocket was stored and forwarded like any publish.
        var received = await QueueReader.ReadAsync(Node.AmqpUri, queue, 40, Patience.Delivery);
        Assert.True(received.Count(m => m.RoutingKey.StartsWith($"{prefix}.ws.", StringComparison.Ordinal)) >= 40, $"{received.Count} arrived");
    }

    [Fact]
    public async Task The_example_page_in_Chromium_shows_an_MQTT_publish_and_its_SEND_reaches_MQTT_and_the_upstream_queue()
    {
        var (gateway, prefix, queue) = await StartAsync();
        await using var _ = gateway;

        var result = await NodeScript.RunAsync("browser.mjs", Environment(gateway, prefix), Patience.Delivery);
        AssertPassed(result, gateway);

        var sent = result.Line("PAGE-SENT");
        var received = await QueueReader.ReadAllOfAsync(Node.AmqpUri, queue, new HashSet<string> { sent }, Patience.Delivery);
        var fromPage = Assert.Single(received, m => m.Body == sent);
        Assert.Equal($"{prefix}.page.out", fromPage.RoutingKey);
    }
}
