using System.Text;

namespace Gateway.TestUtilities;

/// <summary>
/// MQTT 3.1.1 (<c>version</c> 4) and 5.0 (<c>version</c> 5) packets as bytes, for tests that must send
/// what no client library would: empty topics, bad flags, ill-formed strings, invalid topic aliases.
/// </summary>
public static class MqttPacketBytes
{
    public const byte Publish0 = 0x30;
    public const byte Publish1 = 0x32;
    public const byte Subscribe = 0x82;
    public const byte Unsubscribe = 0xA2;

    /// <summary>MQTT 5's Topic Alias property identifier.</summary>
    public const byte TopicAlias = 0x23;

    /// <summary>A CONNECT with clean session/start, keep alive 60 s and no will.</summary>
    public static byte[] Connect(int version, string clientId = "client") =>
        Packet(0x10, Str("MQTT"), [(byte)version, 0x02], U16(60), Props(version), Str(clientId));

    public static byte[] Publish(int version, byte typeAndFlags, string topic, int packetId = 0, string payload = "", byte[]? properties = null) =>
        Publish(version, typeAndFlags, Encoding.UTF8.GetBytes(topic), packetId, payload, properties);

    public static byte[] Publish(int version, byte typeAndFlags, byte[] topic, int packetId = 0, string payload = "", byte[]? properties = null) =>
        Packet(typeAndFlags, Str(topic), (typeAndFlags & 0x06) != 0 ? U16(packetId) : [], Props(version, properties ?? []), Encoding.UTF8.GetBytes(payload));

    /// <summary>A SUBSCRIBE with each filter at QoS 1.</summary>
    public static byte[] SubscribeTo(int version, int packetId, params string[] filters) =>
        Packet(Subscribe, [U16(packetId), Props(version), .. filters.Select(f => Concat(Str(f), [1]))]);

    public static byte[] UnsubscribeFrom(int version, int packetId, params string[] filters) =>
        Packet(Unsubscribe, [U16(packetId), Props(version), .. filters.Select(Str)]);

    /// <summary>The type byte, the remaining length, then the parts one after the other.</summary>
    public static byte[] Packet(byte typeAndFlags, params byte[][] parts)
    {
        var body = Concat(parts);
        return [typeAndFlags, .. VariableInteger(body.Length), .. body];
    }

    /// <summary>A property list with its length on MQTT 5; nothing on MQTT 3.1.1.</summary>
    public static byte[] Props(int version, byte[]? properties = null) =>
        version == 5 ? [.. VariableInteger(properties?.Length ?? 0), .. properties ?? []] : [];

    /// <summary>MQTT's string: a two-byte length, then the bytes.</summary>
    public static byte[] Str(string text) => Str(Encoding.UTF8.GetBytes(text));

    public static byte[] Str(byte[] utf8) => [.. U16(utf8.Length), .. utf8];

    public static byte[] U16(int value) => [(byte)(value >> 8), (byte)value];

    /// <summary>MQTT's variable byte integer (MQTT 5.0 section 1.5.5).</summary>
    public static byte[] VariableInteger(int value)
    {
        var bytes = new List<byte>();
        do
        {
            var digit = (byte)(value % 128);
            value /= 128;
            bytes.Add(value > 0 ? (byte)(digit | 0x80) : digit);
        } while (value > 0);
        return [.. bytes];
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
