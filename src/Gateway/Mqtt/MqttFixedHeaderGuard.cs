namespace Gateway.Mqtt;

/// <summary>
/// Follows the packet boundaries in one connection's inbound bytes as they are read, and refuses a
/// packet from its fixed header: the type byte and the remaining length (MQTT 5.0 sections 2.1 and
/// 1.5.5). MQTTnet takes a buffer of the declared size as soon as the length is complete, so the
/// verdict comes with the byte that completes it, before MQTTnet is handed that byte.
/// </summary>
internal sealed class MqttFixedHeaderGuard(MqttPacketLimits limits)
{
    /// <summary>The remaining length takes at most four bytes; a continuation bit on the fourth is malformed.</summary>
    private const int MaxLengthBytes = 4;

    private Part _part = Part.TypeByte;
    private MqttPacketKind _kind;
    private int _lengthBytes;
    private int _remainingLength;
    private int _bodyLeft;
    private bool _connectSeen;
    private MqttPacketRefusal? _refused;

    private enum Part
    {
        TypeByte,
        RemainingLength,
        Body,
    }

    /// <summary>Takes the next bytes of the stream; a refusal once a packet is known to be unacceptable (and from then on).</summary>
    public MqttPacketRefusal? Inspect(ReadOnlySpan<byte> bytes)
    {
        var at = 0;
        while (_refused is null && at < bytes.Length)
        {
            switch (_part)
            {
                case Part.TypeByte:
                    StartPacket(bytes[at++]);
                    break;
                case Part.RemainingLength:
                    ReadLengthByte(bytes[at++]);
                    break;
                default:
                    var skipped = Math.Min(_bodyLeft, bytes.Length - at);
                    at += skipped;
                    _bodyLeft -= skipped;
                    if (_bodyLeft == 0) _part = Part.TypeByte;
                    break;
            }
        }
        return _refused;
    }

    private void StartPacket(byte typeAndFlags)
    {
        _kind = (MqttPacketKind)(typeAndFlags >> 4);
        // [MQTT-3.1.0-1]: the first packet from a client must be CONNECT. Refused here, a stream of
        // random bytes reserves nothing, whatever length its second byte happens to declare.
        if (!_connectSeen && _kind != MqttPacketKind.Connect)
        {
            _refused = new MqttPacketRefusal(_kind, MqttRefusalCause.NotConnectFirst, 0, 0);
            return;
        }
        _connectSeen = true;
        _lengthBytes = 0;
        _remainingLength = 0;
        _part = Part.RemainingLength;
    }

    private void ReadLengthByte(byte encoded)
    {
        _remainingLength |= (encoded & 0x7F) << (7 * _lengthBytes);
        _lengthBytes++;
        if ((encoded & 0x80) != 0)
        {
            if (_lengthBytes == MaxLengthBytes) _refused = new MqttPacketRefusal(_kind, MqttRefusalCause.MalformedLength, 0, 0);
            return;
        }

        var size = 1L + _lengthBytes + _remainingLength;
        var limit = limits.For(_kind);
        if (size > limit)
        {
            _refused = new MqttPacketRefusal(_kind, MqttRefusalCause.TooLarge, size, limit);
            return;
        }
        _bodyLeft = _remainingLength;
        _part = _bodyLeft == 0 ? Part.TypeByte : Part.Body;
    }
}

internal enum MqttRefusalCause
{
    /// <summary>Larger than the limit for its type (MQTT 5 reason code 0x95, Packet too large).</summary>
    TooLarge,

    /// <summary>A remaining length longer than four bytes (0x81, Malformed Packet).</summary>
    MalformedLength,

    /// <summary>Something other than CONNECT first [MQTT-3.1.0-1].</summary>
    NotConnectFirst,
}

/// <summary>Why a connection's packet was refused; <paramref name="DeclaredBytes"/> is the whole packet as its header declares it.</summary>
internal sealed record MqttPacketRefusal(MqttPacketKind Kind, MqttRefusalCause Cause, long DeclaredBytes, int LimitBytes)
{
    public string Describe() => Cause switch
    {
        MqttRefusalCause.TooLarge when Kind == MqttPacketKind.Connect => $"a CONNECT packet of {DeclaredBytes} bytes, over the limit of {LimitBytes}",
        MqttRefusalCause.TooLarge => $"a {Kind.ToString().ToUpperInvariant()} packet of {DeclaredBytes} bytes, over the limit of {LimitBytes} (Gateway:Mqtt:MaxPacketBytes)",
        MqttRefusalCause.MalformedLength => $"a {Kind.ToString().ToUpperInvariant()} packet whose remaining length runs past four bytes",
        _ => $"a first packet of type {(int)Kind} ({Kind.ToString().ToUpperInvariant()}) where CONNECT must come first",
    };
}
