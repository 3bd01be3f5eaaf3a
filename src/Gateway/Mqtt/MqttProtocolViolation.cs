using MQTTnet.Protocol;

namespace Gateway.Mqtt;

/// <summary>
/// A packet that breaks a rule of MQTT 3.1.1 or 5.0: the connection is closed before MQTTnet reads it,
/// on MQTT 5 after a DISCONNECT with <paramref name="Code"/> (0x81 Malformed Packet when it cannot be
/// parsed as the spec says, 0x82 Protocol Error when it parses but carries what the protocol forbids,
/// 0x94 Topic Alias invalid; MQTT 5.0 section 4.13).
/// </summary>
/// <param name="What">The packet as a sentence's object: "a PUBLISH with an empty topic".</param>
/// <param name="Rule">The normative statement it breaks, as the specification numbers it.</param>
internal sealed record MqttProtocolViolation(MqttPacketKind Kind, MqttDisconnectReasonCode Code, string What, string Rule)
{
    public string Describe() => $"{What} ({Rule})";

    public static MqttProtocolViolation Malformed(MqttPacketKind kind, string what, string rule) =>
        new(kind, MqttDisconnectReasonCode.MalformedPacket, what, rule);

    public static MqttProtocolViolation ProtocolError(MqttPacketKind kind, string what, string rule) =>
        new(kind, MqttDisconnectReasonCode.ProtocolError, what, rule);
}

/// <summary>
/// What a check makes of the bytes of a packet's body read so far: it needs <see cref="NeedBytes"/>
/// of them (counted from the body's start) before it can say more, it passes the packet (0, no
/// violation), or it refuses it.
/// </summary>
internal readonly record struct MqttBodyVerdict(int NeedBytes, MqttProtocolViolation? Violation)
{
    public static MqttBodyVerdict Pass => default;

    public static MqttBodyVerdict Need(int bytes) => new(bytes, null);

    public static implicit operator MqttBodyVerdict(MqttProtocolViolation violation) => new(0, violation);
}
