using System.Text;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// The README's first command (the gateway on its embedded defaults) and then what most tutorials
/// write, with no client id: stored, acknowledged, and delivered to a subscriber.
/// </summary>
public sealed class MqttFirstCommandTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess(); // only its ports and data folder differ from the defaults, so tests can run side by side
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _gateway.AssertNoUnexpectedErrors();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task A_plain_mosquitto_pub_at_qos1_without_a_client_id_is_stored_acked_and_delivered()
    {
        await using var subscriber = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "");
        await subscriber.SubscribeAsync("sensors/#");

        // mosquitto_pub -q 1 exits 0 only once its PUBACK came: acknowledged.
        var published = await MosquittoClients.PubAsync(_gateway.MqttPort, ["-t", "sensors/a", "-m", "1", "-q", "1"]);

        Assert.True(published.ExitCode == 0, $"mosquitto_pub failed: {published.Output}");
        Assert.Equal(1, await _gateway.MetricAsync("outbox_messages"));
        await Poll.UntilAsync(() => subscriber.Received.Any(m => m.Topic == "sensors/a" && Encoding.UTF8.GetString(m.Payload) == "1"), Patience.Reaction, "the subscriber to get it");
    }

    [Theory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Mosquitto_sub_without_a_client_id_receives_what_mosquitto_pub_without_one_retained(string version)
    {
        var published = await MosquittoClients.PubAsync(_gateway.MqttPort, ["-V", version, "-t", "sensors/kept", "-m", $"kept-{version}", "-q", "1", "-r"]);
        Assert.True(published.ExitCode == 0, $"mosquitto_pub failed: {published.Output}");

        // -C 1: exit after one message; -W: give up (exit code 27) if none comes.
        var received = await MosquittoClients.SubAsync(_gateway.MqttPort, ["-V", version, "-t", "sensors/kept", "-C", "1", "-W", "15"]);

        Assert.True(received.ExitCode == 0, $"mosquitto_sub failed: {received.Output}");
        Assert.Equal($"kept-{version}", received.Output.Trim());
        Assert.Equal(1, await _gateway.MetricAsync("outbox_messages"));
    }
}
