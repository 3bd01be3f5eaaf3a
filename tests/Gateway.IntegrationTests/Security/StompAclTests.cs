using Gateway.IntegrationTests.Browser;

namespace Gateway.IntegrationTests.Security;

/// <summary>The ACL on STOMP through the local-bus mapping (<c>/topic/a.b</c> is <c>a/b</c>), with @stomp/stompjs (tests/browser/stomp-acl.mjs).</summary>
public sealed class StompAclTests
{
    [Fact]
    public async Task StompJs_SEND_and_SUBSCRIBE_refused_get_an_ERROR_naming_the_destination_then_close_and_nothing_is_stored()
    {
        var (gateway, _) = await AclGateway.StartAsync();
        await using var _ = gateway;

        var result = await NodeScript.RunAsync("stomp-acl.mjs", new Dictionary<string, string>
        {
            ["GATEWAY_HTTP"] = $"http://127.0.0.1:{gateway.HttpPort}",
            ["GATEWAY_MQTT"] = $"mqtt://127.0.0.1:{gateway.MqttPort}",
            ["ACL_PASSWORD"] = AclGateway.Password,
        }, Patience.Delivery);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Equal("not authorized to send to /topic/devices.bob.valve", result.Line("SEND-ERROR"));
        Assert.Equal("not authorized to subscribe to /topic/sensors.secret.#", result.Line("SUBSCRIBE-ERROR"));
        Assert.Equal("/topic/sensors.line1.temp", result.Line("DELIVERED"));
        // Stored: alice's allowed SEND and the watcher's two MQTT publishes; the refused SEND is not.
        Assert.Equal(3, await gateway.MetricAsync("outbox_messages"));
        Assert.Equal(1, await gateway.MetricAsync("acl_denied_total", "stomp_send"));
        Assert.Equal(1, await gateway.MetricAsync("acl_denied_total", "stomp_subscribe"));
        Assert.Equal(1, await gateway.MetricAsync("acl_denied_total", "stomp_delivery"));
        Assert.Contains("ACL refused stomp_send by user alice", gateway.Output);
        gateway.AssertNoUnexpectedErrors();
    }
}
