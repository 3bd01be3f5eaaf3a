using System.Text;
using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// Empty client ids, through the real gateway process: assigned one (MQTT-3.1.3-6, and on MQTT 5 told
/// in CONNACK, MQTT-3.1.3-7), except on MQTT 3.1.1 with clean session off (CONNACK 0x02, MQTT-3.1.3-8).
/// </summary>
public sealed class MqttClientIdTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess();
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _gateway.AssertNoUnexpectedErrors();
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Mosquitto_pub_without_a_client_id_is_assigned_one_and_its_message_stored(string version)
    {
        // MQTT-3.1.3-6: the server may take a zero-length id, and then assigns the client a unique one.
        var result = await MosquittoClients.PubAsync(_gateway.MqttPort, ["-d", "-V", version, "-q", "1", "-t", "sensors/a", "-m", "1"]);

        Assert.True(result.ExitCode == 0, $"mosquitto_pub -V {version} without -i failed: {result.Output}");
        Assert.Equal(1, await _gateway.MetricAsync("outbox_messages"));
        // -d prints the client id: MQTT 5's CONNACK told it the one assigned (MQTT-3.1.3-7); 3.1.1's cannot.
        if (version == "mqttv5") Assert.Matches("Client auto-[0-9a-f]{32} received CONNACK", result.Output);
    }

    [Fact]
    public async Task An_MQTT5_client_with_an_empty_id_is_told_the_unique_id_it_was_given()
    {
        // MQTT-3.1.3-7: the Assigned Client Identifier in CONNACK; two at once get two ids and both stay connected.
        await using var first = new MqttTestClient();
        await using var second = new MqttTestClient();
        var firstId = (await first.Client.ConnectAsync(EmptyIdOptions())).AssignedClientIdentifier;
        var secondId = (await second.Client.ConnectAsync(EmptyIdOptions())).AssignedClientIdentifier;

        Assert.StartsWith("auto-", firstId);
        Assert.StartsWith("auto-", secondId);
        Assert.NotEqual(firstId, secondId);
        Assert.True((await first.PublishAsync("sensors/first", "1")).IsSuccess);
        Assert.True((await second.PublishAsync("sensors/second", "2")).IsSuccess);
        Assert.True(first.IsConnected && second.IsConnected, "one assigned id took over the other's session");
    }

    [Fact]
    public async Task Two_MQTT311_clients_with_empty_ids_and_clean_session_get_distinct_sessions()
    {
        // MQTT-3.1.3-6: unique ids, so neither takes over the other (MQTT 3.1.1 CONNACK cannot say which).
        await using var subscriber = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "");
        await subscriber.SubscribeAsync("sensors/#");
        await using var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "");

        Assert.True((await device.PublishAsync("sensors/b", "21.5")).IsSuccess);
        await Poll.UntilAsync(() => subscriber.Received.Any(m => Encoding.UTF8.GetString(m.Payload) == "21.5"), Patience.Reaction, "the subscriber to get it");
        Assert.True(subscriber.IsConnected && device.IsConnected, "the second empty id took over the first one's session");
    }

    [Fact]
    public async Task An_MQTT311_empty_id_with_clean_session_off_gets_identifier_rejected_then_the_connection_closes()
    {
        // MQTT-3.1.3-8: CONNACK return code 0x02, then close. MQTTnet's decoder refuses this CONNECT outright.
        using var raw = await RawMqttConnection.OpenAsync(_gateway.MqttPort);
        await raw.SendAsync(RawMqttConnection.Connect(level: 4, cleanSession: false, keepAliveSeconds: 60, clientId: ""));

        var connAck = await raw.ReadPacketAsync(Patience.Reaction);
        Assert.NotNull(connAck);
        Assert.Equal(0x20, connAck.Value.Type);
        Assert.Equal(new byte[] { 0x00, 0x02 }, connAck.Value.Body); // no session present, identifier rejected
        Assert.Null(await raw.ReadPacketAsync(Patience.Reaction)); // closed
        Assert.Contains("refused with CONNACK 0x02 (MQTT-3.1.3-8)", _gateway.Output);
    }

    [Fact]
    public async Task An_MQTT5_empty_id_with_clean_start_off_is_assigned_one_whose_session_can_be_resumed()
    {
        // MQTT 5 section 3.1.3.1 allows assigning regardless of Clean Start (Mosquitto 2.0.11 does the
        // same); the client learns the id from CONNACK (MQTT-3.1.3-7), so it can come back to that session.
        string assigned;
        using (var raw = await RawMqttConnection.OpenAsync(_gateway.MqttPort))
        {
            await raw.SendAsync(RawMqttConnection.Connect(level: 5, cleanSession: false, keepAliveSeconds: 60, clientId: "", sessionExpiry: 300));
            var connAck = await raw.ReadPacketAsync(Patience.Reaction);
            Assert.NotNull(connAck);
            Assert.Equal(0x20, connAck.Value.Type);
            Assert.Equal(0x00, connAck.Value.Body[1]); // success
            assigned = Assert.IsType<string>(RawMqttConnection.ConnAckProperties(connAck.Value.Body)[0x12]);
            Assert.StartsWith("auto-", assigned);
        }

        await using var back = new MqttTestClient();
        var result = await back.Client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _gateway.MqttPort).WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(assigned).WithCleanStart(false).WithSessionExpiryInterval(300).Build());
        Assert.True(result.IsSessionPresent, "the session of the assigned id was not kept");
    }

    private MqttClientOptions EmptyIdOptions() => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", _gateway.MqttPort).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId("").Build();
}

/// <summary>With <c>Gateway:Mqtt:AssignClientIds</c> off, an empty client id is refused the way each version says.</summary>
public sealed class MqttClientIdRefusalTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess(new Dictionary<string, string> { ["Gateway__Mqtt__AssignClientIds"] = "false" });
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _gateway.AssertNoUnexpectedErrors();
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData("mqttv311", "identifier rejected")] // return code 0x02
    [InlineData("mqttv5", "Client Identifier not valid")] // reason code 0x85
    public async Task Mosquitto_pub_without_a_client_id_is_refused_and_nothing_is_stored(string version, string refusal)
    {
        var result = await MosquittoClients.PubAsync(_gateway.MqttPort, ["-V", version, "-q", "1", "-t", "sensors/a", "-m", "1"]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(refusal, result.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, await _gateway.MetricAsync("outbox_messages"));
    }

    [Fact]
    public async Task A_raw_MQTT311_empty_id_with_clean_session_gets_identifier_rejected()
    {
        using var raw = await RawMqttConnection.OpenAsync(_gateway.MqttPort);
        await raw.SendAsync(RawMqttConnection.Connect(level: 4, cleanSession: true, keepAliveSeconds: 60, clientId: ""));

        var connAck = await raw.ReadPacketAsync(Patience.Reaction);
        Assert.NotNull(connAck);
        Assert.Equal(new byte[] { 0x00, 0x02 }, connAck.Value.Body);
        Assert.Null(await raw.ReadPacketAsync(Patience.Reaction));
    }
}
