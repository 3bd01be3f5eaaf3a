using Gateway.IntegrationTests.Browser;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>MQTT.js (tests/browser/mqtt-empty-id.mjs) with an empty client id, over WebSocket and TCP, against the real gateway process.</summary>
public sealed class MqttJsConnectTests
{
    [Fact]
    public async Task MqttJs_with_an_empty_client_id_is_assigned_one_and_told_it_and_the_server_keep_alive_on_MQTT5()
    {
        await using var gateway = new GatewayProcess(new Dictionary<string, string> { ["Gateway__Mqtt__ServerKeepAliveSeconds"] = "20" });
        await gateway.StartAsync();

        var result = await NodeScript.RunAsync("mqtt-empty-id.mjs", new Dictionary<string, string>
        {
            ["GATEWAY_HTTP"] = $"http://127.0.0.1:{gateway.HttpPort}",
            ["GATEWAY_MQTT"] = $"mqtt://127.0.0.1:{gateway.MqttPort}",
            ["EXPECT_SERVER_KEEP_ALIVE"] = "20",
        }, Patience.Delivery);

        Assert.True(result.ExitCode == 0, $"the script failed ({result.ExitCode}):\n{result.Output}\n--- gateway:\n{gateway.Output}");
        Assert.Equal(4, await gateway.MetricAsync("outbox_messages")); // one per transport and version, each acknowledged once stored
        gateway.AssertNoUnexpectedErrors();
    }
}
