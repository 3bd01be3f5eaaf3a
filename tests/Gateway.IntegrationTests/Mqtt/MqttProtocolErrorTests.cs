using System.Net.WebSockets;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using static Gateway.TestUtilities.MqttPacketBytes;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>One gateway process for the protocol error tests: each test reads the outbox's count before and after.</summary>
public sealed class ProtocolErrorGateway : IAsyncLifetime
{
    public GatewayProcess Process { get; } = new();

    public Task InitializeAsync() => Process.StartAsync();

    public async Task DisposeAsync() => await Process.DisposeAsync();
}

/// <summary>
/// Malformed packets and protocol errors, as raw bytes on a socket against the real gateway process
/// (version 4 is MQTT 3.1.1, 5 is MQTT 5.0). Each must close the connection, on MQTT 5 after a
/// DISCONNECT with the reason code the spec gives (section 4.13), with no ack for it and nothing stored.
/// </summary>
public sealed class MqttProtocolErrorTests(ProtocolErrorGateway fixture) : IClassFixture<ProtocolErrorGateway>
{
    private const byte MalformedPacket = 0x81;
    private const byte ProtocolError = 0x82;
    private const byte TopicAliasInvalid = 0x94;

    private readonly GatewayProcess _gateway = fixture.Process;

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public Task A_publish_with_an_empty_topic_gets_no_puback_and_nothing_is_stored_MQTT_4_7_3_1(int version) =>
        AssertRefusedAsync(version, Publish(version, Publish1, "", packetId: 1, payload: "would be lost"), ProtocolError, "an empty topic", "MQTT-4.7.3-1");

    [Theory]
    [InlineData(4, "sensors/+/temp")]
    [InlineData(5, "sensors/+/temp")]
    [InlineData(4, "sensors/#")]
    [InlineData(5, "sensors/#")]
    public Task A_publish_to_a_topic_with_a_wildcard_gets_no_puback_MQTT_3_3_2_2(int version, string topic) =>
        AssertRefusedAsync(version, Publish(version, Publish1, topic, packetId: 1, payload: "x"), ProtocolError, $"the wildcard in its topic '{topic}'", "MQTT-3.3.2-2");

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public Task A_publish_topic_of_ill_formed_utf8_is_malformed_MQTT_1_5_4_1(int version) =>
        AssertRefusedAsync(version, Publish(version, Publish1, [(byte)'a', (byte)'/', 0xC3, 0x28], packetId: 1, payload: "x"), MalformedPacket, "ill-formed UTF-8", "MQTT-1.5.4-1");

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public Task A_publish_topic_with_U_0000_is_malformed_MQTT_1_5_4_2(int version) =>
        AssertRefusedAsync(version, Publish(version, Publish0, [(byte)'a', 0x00, (byte)'b'], payload: "x"), MalformedPacket, "U+0000", "MQTT-1.5.4-2");

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public Task A_publish_with_QoS_3_is_malformed_and_not_stored_MQTT_3_3_1_4(int version) =>
        AssertRefusedAsync(version, Publish(version, 0x36, "sensors/qos3", packetId: 1, payload: "x"), MalformedPacket, "QoS 3", "MQTT-3.3.1-4");

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public Task A_QoS_0_publish_with_the_dup_flag_is_malformed_MQTT_3_3_1_2(int version) =>
        AssertRefusedAsync(version, Publish(version, 0x38, "sensors/dup", payload: "x"), MalformedPacket, "DUP flag", "MQTT-3.3.1-2");

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public Task A_subscribe_with_reserved_flag_bits_gets_no_suback_MQTT_2_2_2_1(int version) =>
        AssertRefusedAsync(version, [0x80, .. SubscribeTo(version, 1, "sensors/#").AsSpan(1)], MalformedPacket, "reserved flag bits", "MQTT-2.2.2-1");

    [Theory]
    [InlineData(4, "", "MQTT-4.7.3-1")]
    [InlineData(5, "", "MQTT-4.7.3-1")]
    [InlineData(4, "a/#/b", "MQTT-4.7.1-2")]
    [InlineData(5, "a/#/b", "MQTT-4.7.1-2")]
    [InlineData(4, "a+", "MQTT-4.7.1-3")]
    [InlineData(5, "a+", "MQTT-4.7.1-3")]
    public Task A_subscribe_with_an_invalid_filter_gets_no_suback(int version, string filter, string rule) =>
        AssertRefusedAsync(version, SubscribeTo(version, 1, "fine/#", filter), ProtocolError, "a SUBSCRIBE with", rule);

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public Task A_subscribe_with_no_filter_gets_no_suback_MQTT_3_8_3_3(int version) =>
        AssertRefusedAsync(version, SubscribeTo(version, 1), ProtocolError, "a SUBSCRIBE with no topic filter", "MQTT-3.8.3-3");

    [Theory]
    [InlineData(4, "", "MQTT-4.7.3-1")]
    [InlineData(5, "", "MQTT-4.7.3-1")]
    [InlineData(5, "a/#/b", "MQTT-4.7.1-2")]
    public Task An_unsubscribe_with_an_invalid_filter_gets_no_unsuback(int version, string filter, string rule) =>
        AssertRefusedAsync(version, UnsubscribeFrom(version, 1, filter), ProtocolError, "an UNSUBSCRIBE with", rule);

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public Task An_unsubscribe_with_no_filter_gets_no_unsuback_MQTT_3_10_3_2(int version) =>
        AssertRefusedAsync(version, UnsubscribeFrom(version, 1), ProtocolError, "an UNSUBSCRIBE with no topic filter", "MQTT-3.10.3-2");

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public Task A_second_connect_is_a_protocol_error_MQTT_3_1_0_2(int version) =>
        AssertRefusedAsync(version, Connect(version, "again"), ProtocolError, "a second CONNECT", "MQTT-3.1.0-2");

    [Theory]
    [InlineData(0, "MQTT-3.3.2-8")]
    [InlineData(11, "MQTT-3.3.2-9")]
    public async Task A_topic_alias_of_0_or_over_the_announced_maximum_ends_with_topic_alias_invalid(int alias, string rule)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var connected = await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _gateway.MqttPort)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithClientId("alias-reader").Build());
        Assert.Equal((ushort)10, connected.TopicAliasMaximum); // MQTTnet's own CONNACK says 65,535

        await AssertRefusedAsync(5, Publish(5, Publish1, "sensors/alias", packetId: 1, payload: "x", properties: [TopicAlias, .. U16(alias)]),
            TopicAliasInvalid, $"Topic Alias {alias}", rule);
    }

    [Fact]
    public Task An_empty_topic_with_a_topic_alias_never_set_is_a_protocol_error() =>
        AssertRefusedAsync(5, Publish(5, Publish1, "", packetId: 1, payload: "x", properties: [TopicAlias, .. U16(2)]),
            ProtocolError, "Topic Alias 2, which the connection never set", "MQTT 5.0 section 3.3.2.3.4");

    [Fact]
    public async Task A_topic_alias_set_then_used_with_an_empty_topic_is_stored_under_its_topic()
    {
        await using var subscriber = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "alias-subscriber");
        await subscriber.SubscribeAsync("aliased/#");
        var stored = await _gateway.MetricAsync("outbox_messages");
        await using var device = await RawMqttClient.OpenAsync(_gateway.MqttPort, 5, "alias-device");

        await device.SendAsync(Publish(5, Publish1, "aliased/dev", packetId: 1, payload: "first", properties: [TopicAlias, .. U16(7)]));
        await device.SendAsync(Publish(5, Publish1, "", packetId: 2, payload: "second", properties: [TopicAlias, .. U16(7)]));

        foreach (var packetId in new byte[] { 1, 2 })
        {
            var ack = await device.ReceiveAsync(Patience.Reaction);
            Assert.True(ack is { Type: RawMqttClient.PubAck }, $"expected a PUBACK, got {ack}");
            Assert.Equal(packetId, ack.Value.Body[1]);
            Assert.True(ack.Value.Body.Length == 2 || ack.Value.Body[2] == 0, $"PUBACK {packetId} refused: {ack}"); // success: no reason code, or 0x00
        }
        Assert.Equal(stored + 2, await _gateway.MetricAsync("outbox_messages"));
        await Poll.UntilAsync(() => subscriber.Received.Count >= 2, Patience.Reaction, "both messages at the subscriber");
        Assert.Equal(["aliased/dev:first", "aliased/dev:second"], subscriber.Received.Select(m => $"{m.Topic}:{Encoding.UTF8.GetString(m.Payload)}"));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Over_websocket_a_publish_with_an_empty_topic_gets_no_puback_MQTT_4_7_3_1(int version)
    {
        var (stored, received) = (await _gateway.MetricAsync("outbox_messages"), await _gateway.MetricAsync("mqtt_publishes_received_total"));
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("mqtt");
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_gateway.HttpPort}/mqtt"), CancellationToken.None);
        await socket.SendAsync(Connect(version, $"ws-empty-{version}"), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
        Assert.Equal((byte?)0x20, (await ReceiveMessageAsync(socket))?[0]); // CONNACK

        await socket.SendAsync(Publish(version, Publish1, "", packetId: 1, payload: "would be lost"), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
        var answers = new List<byte[]>();
        while (await ReceiveMessageAsync(socket) is { } answer) answers.Add(answer);

        if (version == 5)
        {
            var disconnect = Assert.Single(answers);
            var lengthBytes = disconnect.Skip(1).TakeWhile(b => (b & 0x80) != 0).Count() + 1;
            Assert.Equal("E0 82", $"{disconnect[0]:X2} {disconnect[1 + lengthBytes]:X2}"); // DISCONNECT, Protocol Error
        }
        else
        {
            Assert.Empty(answers);
        }
        await AssertNothingStoredSinceAsync(stored, received);
    }

    [Fact]
    public async Task A_flood_of_bad_packets_is_logged_once_for_its_connection()
    {
        var flood = Concat(Enumerable.Repeat(Publish(4, Publish1, "", packetId: 1, payload: "x"), 500).ToArray());
        await using var connection = await RawMqttClient.OpenAsync(_gateway.MqttPort, 4, "flooder");
        var endpoint = connection.LocalEndPoint;

        try
        {
            await connection.SendAsync(flood);
        }
        catch (System.Net.Sockets.SocketException)
        {
            // Closed while the flood was still going out: what should happen.
        }

        Assert.Empty(await connection.PacketsUntilClosedAsync(Patience.Reaction));
        await Poll.UntilAsync(() => LogLines(endpoint).Count > 0, Patience.Reaction, "the refusal in the log");
        Assert.Single(LogLines(endpoint));
    }

    /// <summary>
    /// Sends <paramref name="packet"/> on a connection of <paramref name="version"/>; the gateway must
    /// close it, on MQTT 5 after a DISCONNECT with <paramref name="reasonCode"/>, with no other packet,
    /// say why in its log, and store nothing: a publish acknowledged afterwards is the only one more in
    /// the outbox.
    /// </summary>
    private async Task AssertRefusedAsync(int version, byte[] packet, byte reasonCode, string what, string rule)
    {
        var stored = await _gateway.MetricAsync("outbox_messages");
        var received = await _gateway.MetricAsync("mqtt_publishes_received_total");
        await using var connection = await RawMqttClient.OpenAsync(_gateway.MqttPort, version, $"bad-{version}-{Guid.NewGuid():N}"[..20]);
        var endpoint = connection.LocalEndPoint;

        await connection.SendAsync(packet);
        var answer = await connection.PacketsUntilClosedAsync(Patience.Reaction);

        if (version == 5)
        {
            var disconnect = Assert.Single(answer);
            Assert.Equal(RawMqttClient.Disconnect, disconnect.Type);
            Assert.Equal($"{reasonCode:X2}", $"{disconnect.Body[0]:X2}");
        }
        else
        {
            Assert.Empty(answer); // MQTT 3.1.1 has no DISCONNECT from the server: the close says it all
        }
        await Poll.UntilAsync(() => LogLines(endpoint).Count > 0, Patience.Reaction, "the refusal in the log");
        var line = Assert.Single(LogLines(endpoint));
        Assert.Contains(what, line);
        Assert.Contains(rule, line);

        await AssertNothingStoredSinceAsync(stored, received);
    }

    /// <summary>A publish acknowledged now is the only one stored since the counts were read: the refused one came before it.</summary>
    private async Task AssertNothingStoredSinceAsync(double stored, double received)
    {
        await using (var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "after-refusal"))
        {
            Assert.True((await device.PublishAsync("sensors/after-refusal", "stored")).IsSuccess);
        }
        Assert.Equal(stored + 1, await _gateway.MetricAsync("outbox_messages"));
        Assert.Equal(received + 1, await _gateway.MetricAsync("mqtt_publishes_received_total"));
        _gateway.AssertNoUnexpectedErrors();
    }

    /// <summary>The next WebSocket message (one MQTT packet), or null once the gateway has closed the connection.</summary>
    private static async Task<byte[]?> ReceiveMessageAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(Patience.Reaction);
        var message = new List<byte>();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, timeout.Token);
                if (received.MessageType == WebSocketMessageType.Close) return null;
                message.AddRange(buffer.AsSpan(0, received.Count));
                if (received.EndOfMessage) return [.. message];
            }
        }
        catch (WebSocketException)
        {
            return null; // closed without the close handshake
        }
    }

    private List<string> LogLines(string endpoint) =>
        _gateway.Output.Split('\n').Where(l => l.Contains($"MQTT client {endpoint} sent ", StringComparison.Ordinal)).ToList();
}
