using Gateway.Configuration;
using Gateway.Mqtt;
using MQTTnet.Formatter;

namespace Gateway.UnitTests.Mqtt;

/// <summary>What the gateway settles in a CONNECT before MQTTnet reads it, without a socket.</summary>
public sealed class MqttConnectPolicyTests
{
    /// <summary>A CONNECT with no will, user name or password: protocol name, level, flags, keep alive 60, client id.</summary>
    private static byte[] Connect(string protocolName, byte level, byte flags, string clientId, int padding = 0)
    {
        List<byte> body = [0x00, (byte)protocolName.Length, .. System.Text.Encoding.ASCII.GetBytes(protocolName), level, flags, 0x00, 0x3C];
        if (level == 5) body.Add(0x00); // no properties
        body.AddRange([0x00, (byte)clientId.Length, .. System.Text.Encoding.ASCII.GetBytes(clientId)]);
        body.AddRange(new byte[padding]); // a longer packet, so its remaining length takes more than one byte
        var length = body.Count;
        List<byte> header = [0x10];
        do
        {
            var digit = (byte)(length % 128);
            length /= 128;
            header.Add(length > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (length > 0);
        return [.. header, .. body];
    }

    [Theory]
    [InlineData("MQTT", 4, 0x00, "", 0, true)] // MQTT-3.1.3-8
    [InlineData("MQTT", 4, 0x00, "", 300, true)] // two bytes of remaining length
    [InlineData("MQIsdp", 3, 0x00, "", 0, true)] // MQTT 3.1
    [InlineData("MQTT", 4, 0x02, "", 0, false)] // clean session: assigned an id instead
    [InlineData("MQTT", 4, 0x00, "sensor1", 0, false)]
    [InlineData("MQTT", 5, 0x00, "", 0, false)] // MQTT 5: MQTTnet decodes it, and the gateway assigns an id
    public void An_empty_id_without_clean_session_is_recognised_from_the_bytes(string name, byte level, byte flags, string clientId, int padding, bool expected) =>
        Assert.Equal(expected, MqttClientIds.IsEmptyIdWithoutCleanSession(Connect(name, level, flags, clientId, padding)));

    [Fact]
    public void A_truncated_or_foreign_packet_is_never_taken_for_one()
    {
        var whole = Connect("MQTT", 4, 0x00, "");
        for (var length = 0; length < whole.Length; length++) Assert.False(MqttClientIds.IsEmptyIdWithoutCleanSession(whole.AsSpan(0, length)));
        Assert.False(MqttClientIds.IsEmptyIdWithoutCleanSession([0x30, .. whole[1..]])); // a PUBLISH
    }

    [Fact]
    public void Ids_are_assigned_on_MQTT5_always_and_on_MQTT311_only_with_a_clean_session()
    {
        var policy = MqttConnectPolicy.From(new GatewayOptions());
        Assert.True(policy.Assigns(MqttProtocolVersion.V500, cleanSession: false));
        Assert.True(policy.Assigns(MqttProtocolVersion.V311, cleanSession: true));
        Assert.False(policy.Assigns(MqttProtocolVersion.V311, cleanSession: false));
        Assert.False(policy.Assigns(MqttProtocolVersion.V310, cleanSession: true));
        Assert.False((policy with { AssignClientIds = false }).Assigns(MqttProtocolVersion.V500, cleanSession: true));
    }

    [Fact]
    public void Assigned_ids_are_unique_and_recognisable()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => MqttClientIds.NewId()).ToHashSet();
        Assert.Equal(1000, ids.Count);
        Assert.All(ids, id => Assert.Matches("^auto-[0-9a-f]{32}$", id));
    }

    [Fact]
    public void The_server_keep_alive_applies_to_MQTT5_only_and_is_validated()
    {
        var policy = new MqttConnectPolicy(AssignClientIds: true, ServerKeepAliveSeconds: 30);
        Assert.True(policy.SetsKeepAlive(MqttProtocolVersion.V500));
        Assert.False(policy.SetsKeepAlive(MqttProtocolVersion.V311));
        Assert.False((policy with { ServerKeepAliveSeconds = 0 }).SetsKeepAlive(MqttProtocolVersion.V500));

        Assert.Empty(new MqttListenerOptions().Validate("M"));
        Assert.Equal(["M:ServerKeepAliveSeconds must be 0 (each client's own) to 65535 (was 65536)"],
            new MqttListenerOptions { ServerKeepAliveSeconds = 65536 }.Validate("M").ToArray());
        Assert.Equal(["M:ServerKeepAliveSeconds must be 0 (each client's own) to 65535 (was -1)"],
            new MqttListenerOptions { ServerKeepAliveSeconds = -1 }.Validate("M").ToArray());
    }
}
