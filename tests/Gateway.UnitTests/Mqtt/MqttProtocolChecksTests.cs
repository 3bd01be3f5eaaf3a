using System.Text;
using Gateway.Mqtt;
using MQTTnet.Protocol;
using static Gateway.TestUtilities.MqttPacketBytes;

namespace Gateway.UnitTests.Mqtt;

/// <summary>
/// The protocol rules checked on a connection's raw bytes, through <see cref="MqttFixedHeaderGuard"/>
/// as the transports use it: each case after a CONNECT of its version, fed whole and a byte at a time.
/// </summary>
public sealed class MqttProtocolChecksTests
{
    private static readonly MqttPacketLimits Limits = new(MaxConnectBytes: 1000, MaxPacketBytes: 200_000);

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Well_formed_packets_pass_whole_and_byte_by_byte(int version)
    {
        var stream = Concat(
            Connect(version),
            Publish(version, Publish1, "sensors/a", packetId: 1, payload: "x"),
            Publish(version, Publish0, "sensors/é/€", payload: "y"),
            Packet(Subscribe, U16(2), Props(version), Str("a/+/b"), [1], Str("#"), [0], Str("+"), [2], Str("$share/g/a/#"), [1]),
            Packet(Unsubscribe, U16(3), Props(version), Str("a/+/b"), Str("sport/#")),
            Packet(0x62, U16(1)), // PUBREL, flags 0010
            [0xC0, 0x00]); // PINGREQ

        Assert.Null(Feed(stream, piece: stream.Length));
        Assert.Null(Feed(stream, piece: 1));
    }

    [Theory]
    [InlineData(4, "an empty topic", "MQTT-4.7.3-1")]
    [InlineData(5, "an empty topic and no Topic Alias", "MQTT-4.7.3-1")]
    public void A_publish_with_an_empty_topic_is_a_protocol_error(int version, string what, string rule)
    {
        var refusal = Refusal(version, Publish(version, Publish1, "", packetId: 1, payload: "lost"));

        Assert.Equal(MqttDisconnectReasonCode.ProtocolError, refusal.Code);
        Assert.Contains(what, refusal.What);
        Assert.Contains(rule, refusal.Rule);
    }

    [Theory]
    [InlineData("a/+/b")]
    [InlineData("a/#")]
    [InlineData("#")]
    public void A_publish_topic_with_a_wildcard_is_a_protocol_error_MQTT_3_3_2_2(string topic)
    {
        foreach (var version in new[] { 4, 5 })
        {
            var refusal = Refusal(version, Publish(version, Publish1, topic, packetId: 1));
            Assert.Equal((MqttDisconnectReasonCode.ProtocolError, "MQTT-3.3.2-2"), (refusal.Code, refusal.Rule));
        }
    }

    [Theory]
    [InlineData(new byte[] { (byte)'a', 0xC3 }, "MQTT-1.5.4-1")] // cut off inside a two-byte sequence
    [InlineData(new byte[] { 0xC0, 0xAF }, "MQTT-1.5.4-1")] // overlong '/'
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, "MQTT-1.5.4-1")] // the surrogate U+D800
    [InlineData(new byte[] { (byte)'a', 0x00, (byte)'b' }, "MQTT-1.5.4-2")]
    public void A_topic_that_is_no_well_formed_string_is_malformed(byte[] topic, string rule)
    {
        foreach (var version in new[] { 4, 5 })
        {
            var publish = Refusal(version, Packet(Publish1, Str(topic), U16(1), Props(version)));
            var subscribe = Refusal(version, Packet(Subscribe, U16(1), Props(version), Str(topic), [1]));
            Assert.Equal((MqttDisconnectReasonCode.MalformedPacket, rule), (publish.Code, publish.Rule));
            Assert.Equal((MqttDisconnectReasonCode.MalformedPacket, rule), (subscribe.Code, subscribe.Rule));
        }
    }

    [Theory]
    [InlineData(0x36, "QoS 3", "MQTT-3.3.1-4")]
    [InlineData(0x38, "DUP flag", "MQTT-3.3.1-2")]
    [InlineData(0x80, "reserved flag bits", "MQTT-2.2.2-1")] // SUBSCRIBE must carry 0010
    [InlineData(0xA0, "reserved flag bits", "MQTT-2.2.2-1")] // UNSUBSCRIBE
    [InlineData(0x60, "reserved flag bits", "MQTT-2.2.2-1")] // PUBREL
    [InlineData(0x41, "reserved flag bits", "MQTT-2.2.2-1")] // PUBACK must carry 0000
    [InlineData(0xC4, "reserved flag bits", "MQTT-2.2.2-1")] // PINGREQ
    [InlineData(0x00, "reserved type", "MQTT-2.2.2-1")]
    public void A_fixed_header_with_wrong_flags_is_malformed_at_its_first_byte(byte typeAndFlags, string what, string rule)
    {
        foreach (var version in new[] { 4, 5 })
        {
            var guard = new MqttFixedHeaderGuard(Limits);
            Assert.Null(guard.Inspect(Connect(version)));
            var refusal = guard.Inspect([typeAndFlags])?.Violation;
            Assert.NotNull(refusal);
            Assert.Equal(MqttDisconnectReasonCode.MalformedPacket, refusal.Code);
            Assert.Contains(what, refusal.What);
            Assert.Equal(rule, refusal.Rule);
        }
    }

    [Theory]
    [InlineData(0x10, "MQTT-3.1.0-2")] // a second CONNECT
    [InlineData(0x20, "MQTT 5.0 section 2.1.2")] // CONNACK, which only a server sends
    [InlineData(0x90, "MQTT 5.0 section 2.1.2")] // SUBACK
    [InlineData(0xD0, "MQTT 5.0 section 2.1.2")] // PINGRESP
    public void A_packet_a_client_never_sends_after_connect_is_a_protocol_error(byte typeAndFlags, string rule)
    {
        var refusal = Refusal(5, [typeAndFlags, 0x00]);

        Assert.Equal((MqttDisconnectReasonCode.ProtocolError, rule), (refusal.Code, refusal.Rule));
    }

    [Fact]
    public void An_auth_packet_is_a_reserved_type_on_MQTT_3_1_1_only()
    {
        Assert.Equal(MqttDisconnectReasonCode.MalformedPacket, Refusal(4, [0xF0, 0x00]).Code);
        Assert.Null(Feed(Concat(Connect(5), [0xF0, 0x00]), piece: 1)); // MQTT 5: MQTTnet's to answer
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void A_packet_identifier_0_is_a_protocol_error_MQTT_2_3_1_1(int version)
    {
        Assert.Equal("MQTT-2.3.1-1", Refusal(version, Publish(version, Publish1, "a", packetId: 0)).Rule);
        Assert.Equal("MQTT-2.3.1-1", Refusal(version, Packet(Subscribe, U16(0), Props(version), Str("a"), [0])).Rule);
        Assert.Equal("MQTT-2.3.1-1", Refusal(version, Packet(Unsubscribe, U16(0), Props(version), Str("a"))).Rule);
    }

    [Theory]
    [InlineData("", "MQTT-4.7.3-1")]
    [InlineData("a/#/b", "MQTT-4.7.1-2")]
    [InlineData("a#", "MQTT-4.7.1-2")]
    [InlineData("a+", "MQTT-4.7.1-3")]
    [InlineData("a/+b/c", "MQTT-4.7.1-3")]
    [InlineData("$share/g+/t", "MQTT-4.7.1-3")] // a share name with a wildcard is no filter at all, not only a bad share (MQTT-4.8.2-2)
    public void A_topic_filter_breaking_the_rules_is_a_protocol_error_in_subscribe_and_unsubscribe(string filter, string rule)
    {
        foreach (var version in new[] { 4, 5 })
        {
            var subscribe = Refusal(version, Packet(Subscribe, U16(1), Props(version), Str("fine/+"), [1], Str(filter), [1]));
            var unsubscribe = Refusal(version, Packet(Unsubscribe, U16(1), Props(version), Str(filter)));
            Assert.Equal((MqttDisconnectReasonCode.ProtocolError, rule), (subscribe.Code, subscribe.Rule));
            Assert.Equal((MqttDisconnectReasonCode.ProtocolError, rule), (unsubscribe.Code, unsubscribe.Rule));
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void A_subscribe_or_unsubscribe_without_any_filter_is_a_protocol_error(int version)
    {
        Assert.Equal("MQTT-3.8.3-3", Refusal(version, Packet(Subscribe, U16(1), Props(version))).Rule);
        Assert.Equal("MQTT-3.10.3-2", Refusal(version, Packet(Unsubscribe, U16(1), Props(version))).Rule);
    }

    [Theory]
    [InlineData(4, 0x03, MqttDisconnectReasonCode.MalformedPacket, "MQTT-3-8.3-4")]
    [InlineData(4, 0x04, MqttDisconnectReasonCode.MalformedPacket, "MQTT-3-8.3-4")]
    [InlineData(5, 0x41, MqttDisconnectReasonCode.MalformedPacket, "MQTT-3.8.3-5")]
    [InlineData(5, 0x03, MqttDisconnectReasonCode.ProtocolError, "MQTT 5.0 section 3.8.3.1")]
    [InlineData(5, 0x31, MqttDisconnectReasonCode.ProtocolError, "MQTT 5.0 section 3.8.3.1")]
    public void Subscription_options_with_reserved_bits_or_values_are_refused(int version, byte options, MqttDisconnectReasonCode code, string rule)
    {
        var refusal = Refusal(version, Packet(Subscribe, U16(1), Props(version), Str("a"), [options]));

        Assert.Equal((code, rule), (refusal.Code, refusal.Rule));
    }

    [Theory]
    [InlineData(0, "MQTT-3.3.2-8")]
    [InlineData(MqttProtocolChecks.TopicAliasMaximum + 1, "MQTT-3.3.2-9")]
    [InlineData(ushort.MaxValue, "MQTT-3.3.2-9")]
    public void A_topic_alias_of_0_or_over_the_announced_maximum_is_topic_alias_invalid(int alias, string rule)
    {
        var refusal = Refusal(5, Publish(5, Publish1, "a/b", packetId: 1, properties: [TopicAlias, .. U16(alias)]));

        Assert.Equal((MqttDisconnectReasonCode.TopicAliasInvalid, rule), (refusal.Code, refusal.Rule));
    }

    [Fact]
    public void A_topic_alias_set_then_used_with_an_empty_topic_passes_but_one_never_set_is_a_protocol_error()
    {
        var set = Publish(5, Publish1, "a/b", packetId: 1, properties: [TopicAlias, .. U16(3)]);
        var reused = Publish(5, Publish1, "", packetId: 2, properties: [TopicAlias, .. U16(3)]);
        var neverSet = Publish(5, Publish1, "", packetId: 3, properties: [TopicAlias, .. U16(4)]);

        Assert.Null(Feed(Concat(Connect(5), set, reused, reused), piece: 1));
        var refusal = Refusal(5, Concat(set, reused, neverSet));
        Assert.Equal(MqttDisconnectReasonCode.ProtocolError, refusal.Code);
        Assert.Contains("Topic Alias 4, which the connection never set", refusal.What);
    }

    [Fact]
    public void Publish_properties_a_client_may_not_send_or_repeat_are_refused()
    {
        byte[] expiry = [0x02, 0, 0, 0, 60];
        Assert.Equal("MQTT-3.3.4-6", Refusal(5, Publish(5, Publish1, "a", 1, properties: [0x0B, 0x01])).Rule);
        Assert.Contains("twice", Refusal(5, Publish(5, Publish1, "a", 1, properties: [.. expiry, .. expiry])).What);
        Assert.Equal(MqttDisconnectReasonCode.MalformedPacket, Refusal(5, Publish(5, Publish1, "a", 1, properties: [0x11, 0, 0, 0, 1])).Code); // Session Expiry Interval
        Assert.Equal(MqttDisconnectReasonCode.MalformedPacket, Refusal(5, Publish(5, Publish1, "a", 1, properties: [0x03, 0, 9, (byte)'x'])).Code); // runs past the list
        Assert.Equal("MQTT-3.3.2-14", Refusal(5, Publish(5, Publish1, "a", 1, properties: [0x08, .. Str("reply/#")])).Rule); // Response Topic
        Assert.Null(Feed(Concat(Connect(5), Publish(5, Publish1, "a", 1, properties: [.. expiry, 0x26, .. Str("k"), .. Str("v"), 0x26, .. Str("k"), .. Str("w")])), piece: 1));
    }

    [Fact]
    public void A_publish_whose_topic_runs_past_its_remaining_length_is_malformed()
    {
        var refusal = Refusal(4, Packet(Publish0, U16(50), Encoding.UTF8.GetBytes("short")));

        Assert.Equal(MqttDisconnectReasonCode.MalformedPacket, refusal.Code);
    }

    [Fact]
    public void The_refusal_comes_before_the_last_byte_of_the_packet_reaches_MQTTnet()
    {
        var stream = Concat(Connect(4), Publish(4, Publish1, "", packetId: 1, payload: "some payload"));
        var guard = new MqttFixedHeaderGuard(Limits);

        var fed = 0;
        while (fed < stream.Length && guard.Inspect(stream.AsSpan(fed, 1)) is null) fed++;

        Assert.True(fed < stream.Length - 1, $"refused only at byte {fed} of {stream.Length}");
    }

    private static MqttProtocolViolation Refusal(int version, byte[] packets)
    {
        var whole = Feed(Concat(Connect(version), packets), piece: 4096);
        var byByte = Feed(Concat(Connect(version), packets), piece: 1);
        Assert.NotNull(whole);
        Assert.Equal(whole, byByte);
        Assert.Equal(MqttRefusalCause.ProtocolViolation, whole.Cause);
        return whole.Violation!;
    }

    private static MqttPacketRefusal? Feed(byte[] stream, int piece)
    {
        var guard = new MqttFixedHeaderGuard(Limits);
        for (var at = 0; at < stream.Length; at += piece)
        {
            if (guard.Inspect(stream.AsSpan(at, Math.Min(piece, stream.Length - at))) is { } refusal) return refusal;
        }
        return null;
    }
}
