using System.Buffers;

namespace Gateway.Mqtt;

/// <summary>
/// Follows the packet boundaries in one connection's inbound bytes as they are read, and refuses a
/// packet from its fixed header: the type byte and the remaining length (MQTT 5.0 sections 2.1 and
/// 1.5.5). MQTTnet takes a buffer of the declared size as soon as the length is complete, so the
/// verdict comes with the byte that completes it, before MQTTnet is handed that byte.
/// </summary>
/// <remarks>
/// It also keeps the start of each packet's body that <see cref="MqttProtocolChecks"/> asks for (a
/// PUBLISH's variable header, a whole SUBSCRIBE), and refuses a packet that breaks a rule. MQTTnet
/// decodes a packet only once its last byte is read, and the verdict comes at the latest with that byte.
/// </remarks>
internal sealed class MqttFixedHeaderGuard(MqttPacketLimits limits)
{
    /// <summary>A body kept beyond this (a large SUBSCRIBE) is let go once its packet has passed, not kept for the connection's life.</summary>
    private const int KeptBufferBytes = 4096;

    /// <summary>The remaining length takes at most four bytes; a continuation bit on the fourth is malformed.</summary>
    private const int MaxLengthBytes = 4;

    private readonly MqttProtocolChecks _checks = new();
    private Part _part = Part.TypeByte;
    private MqttPacketKind _kind;
    private int _lengthBytes;
    private int _remainingLength;
    private int _bodyLeft;
    private bool _connectSeen;
    private MqttPacketRefusal? _refused;
    private ArrayBufferWriter<byte> _body = new();
    private byte _typeAndFlags;
    private int _bodyNeeded;

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
                    at += ReadBody(bytes[at..]);
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
        if (_checks.CheckFixedHeader(typeAndFlags) is { } violation)
        {
            _refused = MqttPacketRefusal.For(violation);
            return;
        }
        _typeAndFlags = typeAndFlags;
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
        _body.ResetWrittenCount();
        Judge();
        _part = _bodyLeft == 0 ? Part.TypeByte : Part.Body;
    }

    /// <summary>Passes over the body bytes there are, keeping those the checks still need; how many it took.</summary>
    private int ReadBody(ReadOnlySpan<byte> bytes)
    {
        var available = Math.Min(_bodyLeft, bytes.Length);
        var taken = 0;
        while (_refused is null && taken < available)
        {
            var wanted = _bodyNeeded - _body.WrittenCount;
            if (wanted <= 0)
            {
                taken = available; // judged: the rest of the body passes unseen
                break;
            }
            var kept = Math.Min(wanted, available - taken);
            _body.Write(bytes.Slice(taken, kept));
            taken += kept;
            if (_body.WrittenCount == _bodyNeeded) Judge();
        }
        _bodyLeft -= taken;
        if (_bodyLeft == 0 && _body.Capacity > KeptBufferBytes) _body = new ArrayBufferWriter<byte>();
        return taken;
    }

    /// <summary>Asks the checks about the body kept so far: more of it, or their verdict.</summary>
    private void Judge()
    {
        var verdict = _checks.CheckBody(_typeAndFlags, _body.WrittenSpan, _remainingLength);
        if (verdict.Violation is { } violation) _refused = MqttPacketRefusal.For(violation);
        _bodyNeeded = verdict.NeedBytes;
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

    /// <summary>A packet that breaks another rule (<see cref="MqttPacketRefusal.Violation"/>).</summary>
    ProtocolViolation,
}

/// <summary>Why a connection's packet was refused; <paramref name="DeclaredBytes"/> is the whole packet as its header declares it.</summary>
internal sealed record MqttPacketRefusal(MqttPacketKind Kind, MqttRefusalCause Cause, long DeclaredBytes, int LimitBytes, MqttProtocolViolation? Violation = null)
{
    public static MqttPacketRefusal For(MqttProtocolViolation violation) => new(violation.Kind, MqttRefusalCause.ProtocolViolation, 0, 0, violation);

    public string Describe() => Cause switch
    {
        MqttRefusalCause.ProtocolViolation => Violation!.Describe(),
        MqttRefusalCause.TooLarge when Kind == MqttPacketKind.Connect => $"a CONNECT packet of {DeclaredBytes} bytes, over the limit of {LimitBytes}",
        MqttRefusalCause.TooLarge => $"a {Kind.ToString().ToUpperInvariant()} packet of {DeclaredBytes} bytes, over the limit of {LimitBytes} (Gateway:Mqtt:MaxPacketBytes)",
        MqttRefusalCause.MalformedLength => $"a {Kind.ToString().ToUpperInvariant()} packet whose remaining length runs past four bytes",
        _ => $"a first packet of type {(int)Kind} ({Kind.ToString().ToUpperInvariant()}) where CONNECT must come first",
    };
}
