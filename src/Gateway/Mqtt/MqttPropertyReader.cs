using System.Buffers.Binary;

namespace Gateway.Mqtt;

/// <summary>
/// Reads an MQTT 5 property list (section 2.2.2) one property at a time from the bytes after its
/// length. Each identifier has one fixed type, so an unknown identifier or a value running past the
/// end cannot be stepped over: the list is malformed.
/// </summary>
internal ref struct MqttPropertyReader(ReadOnlySpan<byte> properties)
{
    private ReadOnlySpan<byte> _rest = properties;

    /// <summary>The property just read.</summary>
    public byte Id { get; private set; }

    /// <summary>Its value as a number, for the byte, two and four byte and variable byte integer types.</summary>
    public uint Number { get; private set; }

    /// <summary>Its string (a UTF-8 encoded string's bytes; a user property's name), or binary data.</summary>
    public ReadOnlySpan<byte> Text { get; private set; }

    /// <summary>A user property's value.</summary>
    public ReadOnlySpan<byte> SecondText { get; private set; }

    private enum Kind
    {
        Unknown,
        Byte,
        TwoBytes,
        FourBytes,
        VariableInteger,
        Utf8String,
        Binary,
        StringPair,
    }

    /// <summary>True with the next property read; false at the end, or with <paramref name="malformed"/> set when it cannot go on.</summary>
    public bool MoveNext(out bool malformed)
    {
        malformed = false;
        if (_rest.IsEmpty) return false;
        Id = _rest[0];
        var value = _rest[1..];
        int used;
        switch (KindOf(Id))
        {
            case Kind.Byte when value.Length >= 1:
                (Number, used) = (value[0], 1);
                break;
            case Kind.TwoBytes when value.Length >= 2:
                (Number, used) = (BinaryPrimitives.ReadUInt16BigEndian(value), 2);
                break;
            case Kind.FourBytes when value.Length >= 4:
                (Number, used) = (BinaryPrimitives.ReadUInt32BigEndian(value), 4);
                break;
            case Kind.VariableInteger when MqttVariableInteger.TryRead(value, out var number, out used) == MqttVariableInteger.Result.Read:
                Number = (uint)number;
                break;
            case Kind.Utf8String or Kind.Binary when TryReadString(value, 0, out var text, out used):
                Text = text;
                break;
            case Kind.StringPair when TryReadString(value, 0, out var name, out var nameUsed) && TryReadString(value, nameUsed, out var second, out used):
                Text = name;
                SecondText = second;
                used += nameUsed;
                break;
            default:
                malformed = true;
                return false;
        }
        _rest = value[used..];
        return true;
    }

    /// <summary>A two-byte length and that many bytes, at <paramref name="at"/>; <paramref name="used"/> counts both.</summary>
    public static bool TryReadString(ReadOnlySpan<byte> bytes, int at, out ReadOnlySpan<byte> text, out int used)
    {
        text = default;
        used = 0;
        if (bytes.Length < at + 2) return false;
        var length = BinaryPrimitives.ReadUInt16BigEndian(bytes[at..]);
        if (bytes.Length < at + 2 + length) return false;
        text = bytes.Slice(at + 2, length);
        used = 2 + length;
        return true;
    }

    /// <summary>The type of each property identifier MQTT 5.0 defines (table in section 2.2.2.2).</summary>
    private static Kind KindOf(byte id) => id switch
    {
        0x01 or 0x17 or 0x19 or 0x24 or 0x25 or 0x28 or 0x29 or 0x2A => Kind.Byte,
        0x13 or 0x21 or 0x22 or 0x23 => Kind.TwoBytes,
        0x02 or 0x11 or 0x18 or 0x27 => Kind.FourBytes,
        0x0B => Kind.VariableInteger,
        0x03 or 0x08 or 0x12 or 0x15 or 0x1A or 0x1C or 0x1F => Kind.Utf8String,
        0x09 or 0x16 => Kind.Binary,
        0x26 => Kind.StringPair,
        _ => Kind.Unknown,
    };
}

/// <summary>MQTT's variable byte integer (section 1.5.5): seven bits a byte, at most four bytes.</summary>
internal static class MqttVariableInteger
{
    public enum Result
    {
        Read,
        NeedMore,
        TooLong,
    }

    public static Result TryRead(ReadOnlySpan<byte> bytes, out int value, out int used)
    {
        value = 0;
        for (used = 1; used <= 4; used++)
        {
            if (bytes.Length < used) return Result.NeedMore;
            var encoded = bytes[used - 1];
            value |= (encoded & 0x7F) << (7 * (used - 1));
            if ((encoded & 0x80) == 0) return Result.Read;
        }
        used = 4;
        return Result.TooLong;
    }
}
