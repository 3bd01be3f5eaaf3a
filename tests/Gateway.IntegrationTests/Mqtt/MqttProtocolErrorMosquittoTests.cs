namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// The protocol errors an independent client can produce, with Debian's mosquitto_pub and mosquitto_sub
/// (mosquitto-clients, which ./test.sh installs). Several it refuses to send at all; the tests say which.
/// </summary>
public sealed class MqttProtocolErrorMosquittoTests(ProtocolErrorGateway fixture) : IClassFixture<ProtocolErrorGateway>
{
    private readonly GatewayProcess _gateway = fixture.Process;

    [Theory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Mosquitto_sub_with_an_empty_filter_gets_no_suback_MQTT_4_7_3_1(string version)
    {
        var refusals = RefusalCount("a SUBSCRIBE with an empty topic filter (MQTT-4.7.3-1)");

        // -W 3: mosquitto_sub on MQTT 3.1.1 connects again after each close, so it has to be stopped.
        var (_, output) = await MosquittoAsync("mosquitto_sub", version, $"sub-empty-{version}", "-t", "", "-C", "1", "-W", "3", "-d");

        Assert.Contains("sending SUBSCRIBE", output);
        Assert.DoesNotContain("received SUBACK", output);
        if (version == "mqttv5") Assert.Contains("Received DISCONNECT (130)", output); // 0x82 Protocol Error
        Assert.True(RefusalCount("a SUBSCRIBE with an empty topic filter (MQTT-4.7.3-1)") > refusals, "the gateway logged no refusal");
        _gateway.AssertNoUnexpectedErrors();
    }

    [Theory]
    [InlineData(11, "Received DISCONNECT (148)")] // 0x94 Topic Alias invalid: over the maximum of 10 in CONNACK [MQTT-3.3.2-9]
    [InlineData(3, "received PUBACK")]
    public async Task Mosquitto_pub_with_a_topic_alias_is_stored_only_within_the_announced_maximum(int alias, string answer)
    {
        var stored = await _gateway.MetricAsync("outbox_messages");

        var (exitCode, output) = await MosquittoAsync("mosquitto_pub", "mqttv5", $"pub-alias-{alias}", "-q", "1", "-t", "sensors/aliased", "-m", "x",
            "-D", "publish", "topic-alias", alias.ToString(), "-d");

        Assert.Contains(answer, output);
        Assert.Equal(alias <= 10 ? 0 : 4, exitCode); // 4: "The client is not currently connected"
        Assert.Equal(stored + (alias <= 10 ? 1 : 0), await _gateway.MetricAsync("outbox_messages"));
        _gateway.AssertNoUnexpectedErrors();
    }

    /// <summary>
    /// What mosquitto's clients will not send, whatever the broker: an empty or wildcard publish topic,
    /// a misplaced wildcard in a filter, Topic Alias 0. The raw-packet tests cover these cases instead.
    /// </summary>
    [Theory]
    [InlineData("mosquitto_pub", "mqttv311", "Invalid input", "-t", "", "-m", "x")]
    [InlineData("mosquitto_pub", "mqttv5", "Invalid input", "-t", "", "-m", "x")]
    [InlineData("mosquitto_pub", "mqttv311", "Invalid publish topic", "-t", "sensors/+", "-m", "x")]
    [InlineData("mosquitto_sub", "mqttv311", "Invalid subscription topic", "-t", "a/#/b", "-C", "1", "-W", "2")]
    [InlineData("mosquitto_sub", "mqttv5", "Invalid subscription topic", "-t", "a+", "-C", "1", "-W", "2")]
    [InlineData("mosquitto_pub", "mqttv5", "Error in PUBLISH properties", "-t", "sensors/a", "-m", "x", "-D", "publish", "topic-alias", "0")]
    public async Task Mosquitto_clients_refuse_some_protocol_errors_themselves(string tool, string version, string complaint, params string[] args)
    {
        var stored = await _gateway.MetricAsync("outbox_messages");

        var (_, output) = await MosquittoAsync(tool, version, $"{tool[10..]}-own-{Guid.NewGuid():N}"[..16], ["-q", "1", .. args]);

        Assert.Contains(complaint, output);
        Assert.Equal(stored, await _gateway.MetricAsync("outbox_messages"));
    }

    private int RefusalCount(string refusal) => _gateway.Output.Split('\n').Count(l => l.Contains(refusal, StringComparison.Ordinal));

    private async Task<(int ExitCode, string Output)> MosquittoAsync(string tool, string version, string clientId, params string[] args)
    {
        if (!File.Exists($"/usr/bin/{tool}")) throw new InvalidOperationException($"{tool} is missing: install mosquitto-clients (./test.sh does)");
        return await ChildProcesses.RunAsync(tool, ["-h", "127.0.0.1", "-p", _gateway.MqttPort.ToString(), "-V", version, "-i", clientId, .. args], timeout: Patience.Reaction);
    }
}
