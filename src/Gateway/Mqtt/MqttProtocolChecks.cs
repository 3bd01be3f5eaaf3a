using System.Buffers.Binary;
using MQTTnet.Packets;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// The rules of MQTT 3.1.1 and 5.0 a client's packets must keep that MQTTnet 5.2 does not enforce,
/// checked on one connection's raw packets (fixed header, then as much of the body as a rule needs)
/// before MQTTnet reads them. MQTTnet would take an empty topic, ill-formed UTF-8, reserved flag bits,
/// a misplaced wildcard or an unknown topic alias as data, acknowledging what is never stored.
/// </summary>
/// <remarks>Holds the connection's state the rules depend on: its protocol version, whether CONNECT came, the topic aliases it set.</remarks>
internal sealed partial class MqttProtocolChecks
{
    /// <summary>
    /// The Topic Alias Maximum announced in CONNACK. MQTTnet announces 65,535 and keeps each alias's
    /// topic (up to 64 KiB) for the connection's life; Mosquitto's default, 10, bounds that.
    /// </summary>
    public const ushort TopicAliasMaximum = 10;

    private readonly bool[] _aliasesSet = new bool[TopicAliasMaximum + 1];
    private bool _connectRead;
    private bool _version5;

    /// <summary>Tells MQTT 5 clients the Topic Alias Maximum the checks hold them to (MQTT 5.0 section 3.2.2.3.8).</summary>
    public static Task AnnounceTopicAliasMaximumAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttConnAckPacket connAck) connAck.TopicAliasMaximum = TopicAliasMaximum;
        return Task.CompletedTask;
    }

    /// <summary>The type byte: reserved flag bits, QoS 3, and packets a client never sends (MQTT 5.0 section 2.1).</summary>
    public MqttProtocolViolation? CheckFixedHeader(byte typeAndFlags)
    {
        var kind = (MqttPacketKind)(typeAndFlags >> 4);
        var flags = typeAndFlags & 0x0F;
        switch (kind)
        {
            case MqttPacketKind.Connect when _connectRead:
                return MqttProtocolViolation.ProtocolError(kind, "a second CONNECT", "MQTT-3.1.0-2");
            case MqttPacketKind.Publish when (flags & 0b0110) == 0b0110:
                return MqttProtocolViolation.Malformed(kind, "a PUBLISH with QoS 3", "MQTT-3.3.1-4");
            case MqttPacketKind.Publish when (flags & 0b1110) == 0b1000:
                return MqttProtocolViolation.Malformed(kind, "a QoS 0 PUBLISH with the DUP flag set", "MQTT-3.3.1-2");
            case MqttPacketKind.Publish:
                return null;
            case MqttPacketKind.PubRel or MqttPacketKind.Subscribe or MqttPacketKind.Unsubscribe when flags != 0b0010:
            case MqttPacketKind.Connect or MqttPacketKind.PubAck or MqttPacketKind.PubRec or MqttPacketKind.PubComp
                or MqttPacketKind.PingReq or MqttPacketKind.Disconnect or MqttPacketKind.Auth when flags != 0:
                return MqttProtocolViolation.Malformed(kind, $"a {Name(kind)} with reserved flag bits 0x{flags:x}", "MQTT-2.2.2-1");
            case MqttPacketKind.Reserved:
            case MqttPacketKind.Auth when !_version5:
                return MqttProtocolViolation.Malformed(kind, $"a packet of the reserved type {(int)kind}", "MQTT-2.2.2-1");
            case MqttPacketKind.ConnAck or MqttPacketKind.SubAck or MqttPacketKind.UnsubAck or MqttPacketKind.PingResp:
                return MqttProtocolViolation.ProtocolError(kind, $"a {Name(kind)}, which only a server sends", "MQTT 5.0 section 2.1.2");
            default:
                return null;
        }
    }

    /// <summary>
    /// The body read so far (<paramref name="body"/>, from its start) of a packet whose fixed header
    /// passed: more bytes needed, a pass, or a refusal. A rule that would need bytes past
    /// <paramref name="remainingLength"/> finds the packet malformed.
    /// </summary>
    public MqttBodyVerdict CheckBody(byte typeAndFlags, ReadOnlySpan<byte> body, int remainingLength)
    {
        var kind = (MqttPacketKind)(typeAndFlags >> 4);
        var verdict = kind switch
        {
            MqttPacketKind.Connect => ReadConnect(body),
            MqttPacketKind.Publish => CheckPublish(typeAndFlags, body),
            MqttPacketKind.Subscribe or MqttPacketKind.Unsubscribe when body.Length < remainingLength => MqttBodyVerdict.Need(remainingLength),
            MqttPacketKind.Subscribe => CheckSubscribe(body),
            MqttPacketKind.Unsubscribe => CheckUnsubscribe(body),
            _ => MqttBodyVerdict.Pass,
        };
        return verdict.NeedBytes > remainingLength
            ? MqttProtocolViolation.Malformed(kind, $"a {Name(kind)} whose fields run past its remaining length of {remainingLength}", "MQTT-1.5.5, 2.1.4")
            : verdict;
    }

    /// <summary>The protocol level, which decides what the next packets hold; the CONNECT itself is MQTTnet's to judge.</summary>
    private MqttBodyVerdict ReadConnect(ReadOnlySpan<byte> body)
    {
        if (body.Length < 2) return MqttBodyVerdict.Need(2);
        var levelAt = 2 + BinaryPrimitives.ReadUInt16BigEndian(body);
        if (body.Length <= levelAt) return MqttBodyVerdict.Need(levelAt + 1);
        _connectRead = true;
        _version5 = body[levelAt] == 5;
        return MqttBodyVerdict.Pass;
    }

    /// <summary>
    /// A PUBLISH's variable header, read as far as needed: its topic name, packet identifier and (MQTT 5)
    /// properties; not its payload.
    /// </summary>
    private MqttBodyVerdict CheckPublish(byte typeAndFlags, ReadOnlySpan<byte> body)
    {
        const MqttPacketKind Kind = MqttPacketKind.Publish;
        if (body.Length < 2) return MqttBodyVerdict.Need(2);
        var at = 2 + BinaryPrimitives.ReadUInt16BigEndian(body);
        if (body.Length < at) return MqttBodyVerdict.Need(at);
        var topic = body[2..at];
        // MQTT 5 allows an empty topic with a Topic Alias, judged with the properties below.
        if (!(topic.IsEmpty && _version5) && MqttTopicRules.TopicNameProblem(topic) is { } problem)
            return Violation(Kind, "a PUBLISH with ", problem);

        if ((typeAndFlags & 0b0110) != 0)
        {
            if (body.Length < at + 2) return MqttBodyVerdict.Need(at + 2);
            if (BinaryPrimitives.ReadUInt16BigEndian(body[at..]) == 0)
                return MqttProtocolViolation.ProtocolError(Kind, "a QoS 1 or 2 PUBLISH with packet identifier 0", "MQTT-2.3.1-1");
            at += 2;
        }
        if (!_version5) return MqttBodyVerdict.Pass;

        var (properties, verdict) = PropertyList(Kind, body, at);
        return properties is { } range ? CheckPublishProperties(body[range], topic.IsEmpty) : verdict;
    }

    /// <summary>An MQTT 5 property list at <paramref name="at"/>: its bytes once all are read, else what is still needed or wrong.</summary>
    private static (Range? Properties, MqttBodyVerdict Verdict) PropertyList(MqttPacketKind kind, ReadOnlySpan<byte> body, int at)
    {
        switch (MqttVariableInteger.TryRead(body[Math.Min(at, body.Length)..], out var length, out var used))
        {
            case MqttVariableInteger.Result.NeedMore:
                return (null, MqttBodyVerdict.Need(at + used));
            case MqttVariableInteger.Result.TooLong:
                return (null, MqttProtocolViolation.Malformed(kind, $"a {Name(kind)} whose property length runs past four bytes", "MQTT-1.5.5"));
        }
        var end = at + used + length;
        return body.Length < end ? (null, MqttBodyVerdict.Need(end)) : (new Range(at + used, end), MqttBodyVerdict.Pass);
    }

    private static MqttProtocolViolation Violation(MqttPacketKind kind, string packet, (string What, string Rule, bool Malformed) problem) =>
        problem.Malformed
            ? MqttProtocolViolation.Malformed(kind, packet + problem.What, problem.Rule)
            : MqttProtocolViolation.ProtocolError(kind, packet + problem.What, problem.Rule);

    internal static string Name(MqttPacketKind kind) => kind.ToString().ToUpperInvariant();
}
