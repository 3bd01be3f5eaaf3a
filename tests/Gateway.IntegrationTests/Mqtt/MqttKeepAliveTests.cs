using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// <c>Gateway:Mqtt:ServerKeepAliveSeconds</c>, through the real gateway process: MQTT 5 clients are told
/// it in CONNACK (MQTT-3.1.2-21) and held to it (closed after 1.5 times it in silence, MQTT-3.1.2-22);
/// MQTT 3.1.1 clients, which cannot be told, keep their own.
/// </summary>
public sealed class MqttKeepAliveTests : IAsyncLifetime
{
    private const ushort ServerKeepAlive = 2;
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess(new Dictionary<string, string> { ["Gateway__Mqtt__ServerKeepAliveSeconds"] = ServerKeepAlive.ToString() });
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _gateway.AssertNoUnexpectedErrors();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task An_MQTT5_client_is_told_the_server_keep_alive_in_connack()
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _gateway.MqttPort).WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId("told").WithKeepAlivePeriod(TimeSpan.FromSeconds(60)).Build());

        Assert.Equal(ServerKeepAlive, result.ServerKeepAlive);
        await client.DisconnectAsync();
    }

    [Fact]
    public async Task A_silent_MQTT5_connection_is_closed_after_one_and_a_half_server_keep_alives_while_MQTT311_keeps_its_own()
    {
        // Both ask for 600 s. The 3.1.1 one connects first, so it would be closed no later than the 5.0 one if it were held to 2 s.
        using var v311 = await RawMqttConnection.OpenAsync(_gateway.MqttPort);
        await v311.SendAsync(RawMqttConnection.Connect(level: 4, cleanSession: true, keepAliveSeconds: 600, clientId: "keeps-its-own"));
        Assert.Equal(new byte[] { 0x00, 0x00 }, (await v311.ReadPacketAsync(Patience.Reaction))?.Body);

        var silent = Stopwatch.StartNew(); // before the CONNECT leaves: the server's clock starts no earlier
        using var v5 = await RawMqttConnection.OpenAsync(_gateway.MqttPort);
        await v5.SendAsync(RawMqttConnection.Connect(level: 5, cleanSession: true, keepAliveSeconds: 600, clientId: "held-to-server"));
        var connAck = await v5.ReadPacketAsync(Patience.Reaction);
        Assert.NotNull(connAck);
        Assert.Equal(ServerKeepAlive, Assert.IsType<ushort>(RawMqttConnection.ConnAckProperties(connAck.Value.Body)[0x13]));

        var disconnect = await v5.ReadPacketAsync(Patience.Reaction);
        Assert.NotNull(disconnect);
        Assert.Equal(0xE0, disconnect.Value.Type);
        Assert.Equal(0x8D, disconnect.Value.Body[0]); // Keep Alive timeout
        Assert.True(silent.Elapsed >= TimeSpan.FromSeconds(ServerKeepAlive * 1.5), $"closed after {silent.Elapsed}, before 1.5 times the keep alive");
        Assert.Null(await v5.ReadPacketAsync(Patience.Reaction));

        await v311.SendAsync(RawMqttConnection.PingReq);
        Assert.Equal((byte?)0xD0, (await v311.ReadPacketAsync(Patience.Reaction))?.Type); // PINGRESP: still connected
    }
}
