using Gateway.IntegrationTests.Browser;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>Inbound topic aliases from an independent client: MQTT.js assigning and reusing them itself (tests/browser/mqtt-topic-alias.mjs).</summary>
[Trait("Category", "Slow")] // Node.js and the npm packages of tests/browser
public sealed class MqttTopicAliasMqttJsTests
{
    [Fact]
    public async Task MqttJs_sets_a_topic_alias_within_the_announced_maximum_and_reuses_it_with_an_empty_topic_MQTT_3_3_2_12()
    {
        await using var gateway = new GatewayProcess();
        await gateway.StartAsync();

        var result = await NodeScript.RunAsync("mqtt-topic-alias.mjs", new Dictionary<string, string>
        {
            ["GATEWAY_HTTP"] = $"http://127.0.0.1:{gateway.HttpPort}",
            ["GATEWAY_MQTT"] = $"mqtt://127.0.0.1:{gateway.MqttPort}",
            ["BROWSER_TOPIC_PREFIX"] = "mqttjs",
        }, Patience.Delivery);

        Assert.True(result.ExitCode == 0, $"the script failed ({result.ExitCode}):\n{result.Output}\n--- gateway:\n{gateway.Output}");
        Assert.Equal("10", result.Line("TOPIC_ALIAS_MAXIMUM"));
        Assert.Matches(@"^mqttjs/alias/\w+@1( \(empty\)@1){4}$", result.Line("SENT"));
        Assert.Equal(5, await gateway.MetricAsync("outbox_messages")); // each stored once, under its topic (the script checked the subscriber's copy)
        gateway.AssertNoUnexpectedErrors();
    }
}
