namespace Gateway.TestUtilities.Fuzzing;

// MQTT's length fields: the remaining length of the fixed header, an MQTT 5 property length, and
// the two-byte lengths of strings, found by walking the packets of a conversation.
public sealed partial class FuzzMutator
{
    /// <summary>The largest remaining length four bytes can say (MQTT 5.0 section 1.5.5).</summary>
    private const int LargestRemainingLength = 268_435_455;

    private readonly record struct MqttPacketSpan(int Start, int LengthAt, int LengthBytes, int End)
    {
        public int BodyStart => LengthAt + LengthBytes;
    }

    /// <summary>The packets one after the other, as far as their headers can be read.</summary>
    private static List<MqttPacketSpan> MqttPackets(List<byte> input)
    {
        var packets = new List<MqttPacketSpan>();
        var at = 0;
        while (at + 1 < input.Count)
        {
            var length = 0;
            var bytes = 0;
            while (true)
            {
                if (at + 1 + bytes >= input.Count || bytes == 4) return packets;
                var encoded = input[at + 1 + bytes];
                length |= (encoded & 0x7F) << (7 * bytes);
                bytes++;
                if ((encoded & 0x80) == 0) break;
            }
            var end = at + 1 + bytes + length;
            if (end > input.Count) return packets;
            packets.Add(new MqttPacketSpan(at, at + 1, bytes, end));
            at = end;
        }
        return packets;
    }

    private void TweakMqttLength(List<byte> input)
    {
        var packets = MqttPackets(input);
        if (packets.Count == 0) return;
        var packet = packets[random.Next(packets.Count)];
        switch (random.Next(3))
        {
            case 0:
                var actual = packet.End - packet.BodyStart;
                var value = (int)Math.Min(EdgeValue(actual, LargestRemainingLength), LargestRemainingLength);
                input.RemoveRange(packet.LengthAt, packet.LengthBytes);
                input.InsertRange(packet.LengthAt, EncodeVariableInteger(value));
                _applied.Add($"remaining length {actual} -> {value} at {packet.Start}");
                break;
            case 1 when PropertyLengthAt(input, packets, packet) is { } propertiesAt:
                var properties = EdgeValue(4, LargestRemainingLength);
                input.RemoveRange(propertiesAt, VariableIntegerLength(input, propertiesAt));
                input.InsertRange(propertiesAt, EncodeVariableInteger((int)Math.Min(properties, LargestRemainingLength)));
                _applied.Add($"property length -> {properties} at {propertiesAt}");
                break;
            default:
                if (packet.End - packet.BodyStart < 2) return;
                var stringAt = random.Next(packet.BodyStart, packet.End - 1);
                var u16 = (int)Math.Min(EdgeValue((input[stringAt] << 8) | input[stringAt + 1], ushort.MaxValue), ushort.MaxValue);
                input[stringAt] = (byte)(u16 >> 8);
                input[stringAt + 1] = (byte)u16;
                _applied.Add($"two-byte length -> {u16} at {stringAt}");
                break;
        }
    }

    /// <summary>Where an MQTT 5 packet's property length is, by its type; null on MQTT 3.1.1 or for a packet without one.</summary>
    private static int? PropertyLengthAt(List<byte> input, List<MqttPacketSpan> packets, MqttPacketSpan packet)
    {
        // The protocol level follows the CONNECT's "MQTT" protocol name: 5 for MQTT 5.0.
        var connect = packets[0];
        if (input[connect.Start] >> 4 != 1 || connect.End - connect.BodyStart < 7 || input[connect.BodyStart + 6] != 5) return null;
        var body = packet.BodyStart;
        var bodyLength = packet.End - body;
        int? offset = (input[packet.Start] >> 4) switch
        {
            1 => 10,
            3 when bodyLength >= 2 => 2 + ((input[body] << 8) | input[body + 1]) + ((input[packet.Start] & 0x06) != 0 ? 2 : 0),
            8 or 10 => 2,
            4 or 5 or 6 or 7 => 3,
            14 or 15 => 1,
            _ => null,
        };
        return offset is { } o && o < bodyLength ? body + o : null;
    }

    private static int VariableIntegerLength(List<byte> input, int at)
    {
        var length = 1;
        while (length < 4 && at + length - 1 < input.Count && (input[at + length - 1] & 0x80) != 0) length++;
        return Math.Min(length, input.Count - at);
    }

    private List<byte> EncodeVariableInteger(int value)
    {
        var bytes = new List<byte>();
        do
        {
            var digit = (byte)(value % 128);
            value /= 128;
            bytes.Add(value > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (value > 0);
        // Now and then a longer form than needed (allowed by no spec: "the minimum number of bytes"), or a fifth byte.
        if (random.Next(8) == 0 && bytes.Count < 4)
        {
            bytes[^1] |= 0x80;
            bytes.Add(0);
        }
        else if (random.Next(16) == 0)
        {
            while (bytes.Count < 5) bytes.Insert(0, 0x80 | 0x7F);
        }
        return bytes;
    }
}
