using System.Buffers.Binary;
using Gateway.Configuration;
using MQTTnet.Formatter;

namespace Gateway.Mqtt;

/// <summary>What the gateway settles in a CONNECT before MQTTnet reads it: empty client ids and the Server Keep Alive.</summary>
internal sealed record MqttConnectPolicy(bool AssignClientIds, ushort ServerKeepAliveSeconds)
{
    public static MqttConnectPolicy From(GatewayOptions options) =>
        new(options.Mqtt.AssignClientIds, (ushort)options.Mqtt.ServerKeepAliveSeconds);

    /// <summary>
    /// MQTT 3.1.1 section 3.1.3.1 (MQTT-3.1.3-6) lets a server give a client with an empty id one, as
    /// long as its session is clean; MQTT 5 section 3.1.3.1 (MQTT-3.1.3-6/7) always, since CONNACK tells
    /// the client the id and so it can resume that session. MQTT 3.1 wants 1 to 23 characters: no assigning.
    /// </summary>
    public bool Assigns(MqttProtocolVersion version, bool cleanSession) =>
        AssignClientIds && (version == MqttProtocolVersion.V500 || (version == MqttProtocolVersion.V311 && cleanSession));

    /// <summary>MQTT 5 only (section 3.2.2.3.14): MQTT 3.1.1 has no way to tell the client, which keeps its own.</summary>
    public bool SetsKeepAlive(MqttProtocolVersion version) => ServerKeepAliveSeconds > 0 && version == MqttProtocolVersion.V500;
}

/// <summary>Client ids the gateway makes up, and the one CONNECT it must answer before MQTTnet could.</summary>
internal static class MqttClientIds
{
    /// <summary>Mosquitto's prefix too, so an operator knows an assigned id when a log shows one.</summary>
    public const string AssignedPrefix = "auto-";

    /// <summary>A random 128-bit id: unique without keeping a list of those handed out.</summary>
    public static string NewId() => AssignedPrefix + Guid.NewGuid().ToString("N");

    /// <summary>
    /// Whether <paramref name="packet"/> (a whole packet, fixed header first) is an MQTT 3.1 or 3.1.1
    /// CONNECT with an empty client id and clean session off: MQTT-3.1.3-8 wants CONNACK 0x02 for it,
    /// where MQTTnet's decoder throws and the connection ends with no answer.
    /// </summary>
    public static bool IsEmptyIdWithoutCleanSession(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < 2 || packet[0] != 0x10) return false;
        var offset = 1;
        while (offset < packet.Length && offset <= 4 && (packet[offset] & 0x80) != 0) offset++;
        offset++; // the last byte of the remaining length

        if (!TryReadLength(packet, ref offset, out var nameLength) || offset + nameLength + 6 > packet.Length) return false;
        offset += nameLength;
        var level = packet[offset];
        var flags = packet[offset + 1];
        offset += 4; // level, flags, keep alive
        var cleanSession = (flags & 0x02) != 0;
        return level is 3 or 4 && !cleanSession && TryReadLength(packet, ref offset, out var idLength) && idLength == 0;
    }

    private static bool TryReadLength(ReadOnlySpan<byte> packet, ref int offset, out int length)
    {
        length = 0;
        if (offset + 2 > packet.Length) return false;
        length = BinaryPrimitives.ReadUInt16BigEndian(packet[offset..]);
        offset += 2;
        return true;
    }
}
