using Gateway.Configuration;

namespace Gateway.Mqtt;

/// <summary>
/// The largest MQTT packets a client may send, whole packets (fixed header included), as MQTT 5's
/// Maximum Packet Size counts them (MQTT 5.0 section 3.1.2.11.4).
/// </summary>
/// <param name="MaxConnectBytes">A CONNECT carries only a client id, credentials and a will.</param>
/// <param name="MaxPacketBytes">Any other packet: a PUBLISH of the largest message the outbox takes, with its topic and properties.</param>
internal sealed record MqttPacketLimits(int MaxConnectBytes, int MaxPacketBytes)
{
    /// <summary>
    /// Room beside the payload: a topic may take up to 65,535 bytes and MQTT 5 properties (user
    /// properties, content type, correlation data) as much again in practice.
    /// </summary>
    public const int HeadroomBytes = 128 * 1024;

    /// <summary>Fits the longest client id, user name, password and will (each at most 65,535 bytes by the spec) a device sends in practice.</summary>
    public const int ConnectBytes = 64 * 1024;

    /// <summary>The most MQTT can express: a remaining length of 268,435,455 in four bytes, the type byte and those four.</summary>
    public const int ProtocolMaxBytes = 268_435_455 + 5;

    /// <summary><c>Gateway:Mqtt:MaxPacketBytes</c>, or when unset the outbox's largest message plus <see cref="HeadroomBytes"/>.</summary>
    public static MqttPacketLimits From(GatewayOptions options)
    {
        var max = options.Mqtt.MaxPacketBytes ?? options.Outbox.MaxMessageBytes + HeadroomBytes;
        return new MqttPacketLimits(Math.Min(ConnectBytes, max), max);
    }

    public int For(MqttPacketKind kind) => kind == MqttPacketKind.Connect ? MaxConnectBytes : MaxPacketBytes;
}

/// <summary>The control packet types of MQTT 3.1.1 and 5.0 (the high nibble of the first byte).</summary>
internal enum MqttPacketKind : byte
{
    Reserved = 0,
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}
