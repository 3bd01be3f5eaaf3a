using Gateway.IntegrationTests.Mqtt;

namespace Gateway.IntegrationTests.Security;

/// <summary>The ACL as an independent client sees it: Debian's mosquitto_pub and mosquitto_sub (2.0), MQTT 5 and 3.1.1.</summary>
public sealed class MosquittoAclTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync() => (_gateway, _) = await AclGateway.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Mqtt5_publish_outside_the_users_pattern_is_answered_not_authorized_and_not_stored()
    {
        var storedBefore = await _gateway.MetricAsync("outbox_messages");

        var (_, refused) = await MosquittoClients.PubAsync(_gateway.MqttPort, ["-V", "mqttv5", "-u", "alice", "-P", AclGateway.Password, "-q", "1", "-t", "devices/bob/valve", "-m", "open"]);
        var (allowedExit, allowed) = await MosquittoClients.PubAsync(_gateway.MqttPort, ["-V", "mqttv5", "-u", "alice", "-P", AclGateway.Password, "-q", "1", "-t", "devices/alice/temp", "-m", "21"]);

        Assert.Contains("Publish 1 failed: Not authorized", refused); // its PUBACK's reason code, 0x87
        Assert.Contains("not authorized to publish to 'devices/bob/valve'", refused); // and its reason string
        Assert.Equal(0, allowedExit);
        Assert.DoesNotContain("failed", allowed);
        Assert.Equal(storedBefore + 1, await _gateway.MetricAsync("outbox_messages"));
    }

    [Fact]
    public async Task Mqtt311_publish_refused_loses_the_connection_and_is_not_stored()
    {
        var storedBefore = await _gateway.MetricAsync("outbox_messages");

        var (exit, output) = await MosquittoClients.PubAsync(_gateway.MqttPort, ["-V", "mqttv311", "-u", "alice", "-P", AclGateway.Password, "-q", "1", "-t", "devices/bob/valve", "-m", "open"]);

        Assert.NotEqual(0, exit);
        Assert.Contains("The connection was lost", output);
        Assert.Equal(storedBefore, await _gateway.MetricAsync("outbox_messages"));
        Assert.Equal(1, await _gateway.MetricAsync("acl_denied_total", "mqtt_publish"));
    }

    [Theory]
    [InlineData("mqttv5")]
    [InlineData("mqttv311")]
    public async Task A_subscription_the_user_may_not_read_is_denied_in_SUBACK(string version)
    {
        var (_, output) = await MosquittoClients.SubAsync(_gateway.MqttPort, ["-V", version, "-u", "alice", "-P", AclGateway.Password, "-t", "sensors/secret/#", "-t", "devices/#", "-C", "1", "-W", "10"]);

        Assert.Contains("All subscription requests were denied", output); // 0x87 on MQTT 5, 0x80 on 3.1.1
        Assert.Equal(2, await _gateway.MetricAsync("acl_denied_total", "mqtt_subscribe"));
    }

    [Fact]
    public async Task A_granted_subscription_receives_what_the_user_may_read()
    {
        await using var watcher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "watcher-m", configure: o => o.WithCredentials("watcher", AclGateway.Password));
        await watcher.PublishAsync("sensors/line1/temp", "20.5", retain: true);

        var (exit, output) = await MosquittoClients.SubAsync(_gateway.MqttPort, ["-V", "mqttv5", "-u", "alice", "-P", AclGateway.Password, "-t", "sensors/#", "-C", "1", "-W", "10", "-v"]);

        Assert.Equal(0, exit);
        Assert.Contains("sensors/line1/temp 20.5", output);
    }
}
