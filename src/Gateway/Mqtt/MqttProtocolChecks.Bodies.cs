using System.Buffers.Binary;
using MQTTnet.Protocol;

namespace Gateway.Mqtt;

/// <summary>The checks on MQTT 5 PUBLISH properties, and on SUBSCRIBE and UNSUBSCRIBE, read whole.</summary>
internal sealed partial class MqttProtocolChecks
{
    private const byte PayloadFormatIndicator = 0x01;
    private const byte MessageExpiryInterval = 0x02;
    private const byte ContentType = 0x03;
    private const byte ResponseTopic = 0x08;
    private const byte CorrelationData = 0x09;
    private const byte SubscriptionIdentifier = 0x0B;
    private const byte TopicAlias = 0x23;
    private const byte UserProperty = 0x26;

    /// <summary>
    /// A PUBLISH's properties (MQTT 5.0 section 3.3.2.3), then its topic alias: 0 or over the maximum
    /// announced is 0x94; an empty topic needs an alias this connection set before.
    /// </summary>
    private MqttBodyVerdict CheckPublishProperties(ReadOnlySpan<byte> properties, bool topicEmpty)
    {
        const MqttPacketKind Kind = MqttPacketKind.Publish;
        var reader = new MqttPropertyReader(properties);
        ulong seen = 0;
        int? alias = null;
        bool malformed;
        while (reader.MoveNext(out malformed))
        {
            if (Repeated(ref seen, reader.Id, Kind) is { } repeated) return repeated;
            switch (reader.Id)
            {
                case TopicAlias:
                    alias = (int)reader.Number;
                    break;
                case PayloadFormatIndicator when reader.Number > 1:
                    return MqttProtocolViolation.ProtocolError(Kind, $"a PUBLISH with Payload Format Indicator {reader.Number}", "MQTT 5.0 section 3.3.2.3.2");
                case ResponseTopic when MqttTopicRules.TopicNameProblem(reader.Text) is { } problem:
                    // The Response Topic keeps the topic name rules; its own rule against wildcards is MQTT-3.3.2-14.
                    return Violation(Kind, "a PUBLISH whose Response Topic has ", problem.Rule == "MQTT-3.3.2-2" ? problem with { Rule = "MQTT-3.3.2-14" } : problem);
                case ContentType or UserProperty when StringsProblem(reader) is { } problem:
                    return Violation(Kind, "a PUBLISH whose properties have ", problem);
                case SubscriptionIdentifier:
                    return MqttProtocolViolation.ProtocolError(Kind, "a PUBLISH with a Subscription Identifier", "MQTT-3.3.4-6");
                case PayloadFormatIndicator or MessageExpiryInterval or ContentType or ResponseTopic or CorrelationData or UserProperty:
                    break;
                default:
                    return NotItsProperty(Kind, reader.Id);
            }
        }
        if (malformed) return MalformedProperties(Kind);

        if (alias is not { } value)
        {
            return topicEmpty
                ? MqttProtocolViolation.ProtocolError(Kind, "a PUBLISH with an empty topic and no Topic Alias", "MQTT-4.7.3-1, MQTT 5.0 section 3.3.2.1")
                : MqttBodyVerdict.Pass;
        }
        if (value == 0) return AliasInvalid("a PUBLISH with Topic Alias 0", "MQTT-3.3.2-8");
        if (value > TopicAliasMaximum) return AliasInvalid($"a PUBLISH with Topic Alias {value}, over the maximum of {TopicAliasMaximum} announced in CONNACK", "MQTT-3.3.2-9");
        if (topicEmpty && !_aliasesSet[value])
            return MqttProtocolViolation.ProtocolError(Kind, $"a PUBLISH with an empty topic and Topic Alias {value}, which the connection never set", "MQTT 5.0 section 3.3.2.3.4");
        _aliasesSet[value] = true;
        return MqttBodyVerdict.Pass;
    }

    /// <summary>SUBSCRIBE (section 3.8): a packet identifier, properties (MQTT 5), then one or more topic filters, each with its options.</summary>
    private MqttBodyVerdict CheckSubscribe(ReadOnlySpan<byte> body)
    {
        const MqttPacketKind Kind = MqttPacketKind.Subscribe;
        if (Start(Kind, body, out var at) is { } wrong) return wrong;
        var filters = 0;
        while (at < body.Length)
        {
            if (!MqttPropertyReader.TryReadString(body, at, out var filter, out var used) || at + used >= body.Length)
                return MqttProtocolViolation.Malformed(Kind, "a SUBSCRIBE whose last topic filter or its options run past its end", "MQTT-3.8.3-1");
            at += used;
            var options = body[at++];
            if (MqttTopicRules.TopicFilterProblem(filter) is { } problem) return Violation(Kind, "a SUBSCRIBE with ", problem);
            if (OptionsProblem(options) is { } refused) return refused;
            filters++;
        }
        return filters == 0
            ? MqttProtocolViolation.ProtocolError(Kind, "a SUBSCRIBE with no topic filter", "MQTT-3.8.3-3")
            : MqttBodyVerdict.Pass;
    }

    /// <summary>UNSUBSCRIBE (section 3.10): a packet identifier, properties (MQTT 5), then one or more topic filters.</summary>
    private MqttBodyVerdict CheckUnsubscribe(ReadOnlySpan<byte> body)
    {
        const MqttPacketKind Kind = MqttPacketKind.Unsubscribe;
        if (Start(Kind, body, out var at) is { } wrong) return wrong;
        var filters = 0;
        while (at < body.Length)
        {
            if (!MqttPropertyReader.TryReadString(body, at, out var filter, out var used))
                return MqttProtocolViolation.Malformed(Kind, "an UNSUBSCRIBE whose last topic filter runs past its end", "MQTT-3.10.3-1");
            at += used;
            if (MqttTopicRules.TopicFilterProblem(filter) is { } problem) return Violation(Kind, "an UNSUBSCRIBE with ", problem);
            filters++;
        }
        return filters == 0
            ? MqttProtocolViolation.ProtocolError(Kind, "an UNSUBSCRIBE with no topic filter", "MQTT-3.10.3-2")
            : MqttBodyVerdict.Pass;
    }

    /// <summary>
    /// The packet identifier and (MQTT 5) the properties of a SUBSCRIBE or UNSUBSCRIBE, read whole;
    /// <paramref name="at"/> where its topic filters start.
    /// </summary>
    private MqttProtocolViolation? Start(MqttPacketKind kind, ReadOnlySpan<byte> body, out int at)
    {
        at = 2;
        if (body.Length < 2) return MqttProtocolViolation.Malformed(kind, $"a {Name(kind)} with no packet identifier", "MQTT-2.3.1-1");
        if (BinaryPrimitives.ReadUInt16BigEndian(body) == 0) return MqttProtocolViolation.ProtocolError(kind, $"a {Name(kind)} with packet identifier 0", "MQTT-2.3.1-1");
        if (!_version5) return null;

        var (range, verdict) = PropertyList(kind, body, at);
        if (range is not { } properties) return verdict.Violation ?? MalformedProperties(kind);
        at = properties.End.Value;
        var reader = new MqttPropertyReader(body[properties]);
        ulong seen = 0;
        bool malformed;
        while (reader.MoveNext(out malformed))
        {
            if (Repeated(ref seen, reader.Id, kind) is { } repeated) return repeated.Violation;
            switch (reader.Id)
            {
                case SubscriptionIdentifier when kind == MqttPacketKind.Subscribe && reader.Number == 0:
                    return MqttProtocolViolation.ProtocolError(kind, "a SUBSCRIBE with Subscription Identifier 0", "MQTT 5.0 section 3.8.2.1.2");
                case SubscriptionIdentifier when kind == MqttPacketKind.Subscribe:
                    break;
                case UserProperty when StringsProblem(reader) is { } problem:
                    return Violation(kind, $"a {Name(kind)} whose properties have ", problem);
                case UserProperty:
                    break;
                default:
                    return NotItsProperty(kind, reader.Id).Violation;
            }
        }
        return malformed ? MalformedProperties(kind) : null;
    }

    /// <summary>
    /// A subscription's options byte. MQTT 3.1.1: the QoS alone, 0 to 2 [MQTT-3-8.3-4]. MQTT 5: reserved
    /// bits 6 and 7 zero [MQTT-3.8.3-5], QoS 3 and Retain Handling 3 protocol errors (section 3.8.3.1).
    /// </summary>
    private MqttProtocolViolation? OptionsProblem(byte options)
    {
        const MqttPacketKind Kind = MqttPacketKind.Subscribe;
        if (!_version5)
            return options > 2 ? MqttProtocolViolation.Malformed(Kind, $"a SUBSCRIBE with the requested QoS byte 0x{options:x2}", "MQTT-3-8.3-4") : null;
        if ((options & 0xC0) != 0) return MqttProtocolViolation.Malformed(Kind, $"a SUBSCRIBE whose options 0x{options:x2} set reserved bits", "MQTT-3.8.3-5");
        if ((options & 0x03) == 3) return MqttProtocolViolation.ProtocolError(Kind, "a SUBSCRIBE with Maximum QoS 3", "MQTT 5.0 section 3.8.3.1");
        if ((options >> 4 & 0x03) == 3) return MqttProtocolViolation.ProtocolError(Kind, "a SUBSCRIBE with Retain Handling 3", "MQTT 5.0 section 3.8.3.1");
        return null;
    }

    /// <summary>A property given twice is a protocol error, except a user property, which may repeat (MQTT 5.0 section 2.2.2.2).</summary>
    private static MqttBodyVerdict? Repeated(ref ulong seen, byte id, MqttPacketKind kind)
    {
        if (id == UserProperty) return null;
        var bit = 1UL << id; // every identifier MQTT 5 defines is below 64
        if ((seen & bit) != 0) return MqttProtocolViolation.ProtocolError(kind, $"a {Name(kind)} with property 0x{id:x2} twice", "MQTT 5.0 section 2.2.2.2");
        seen |= bit;
        return null;
    }

    private static (string What, string Rule, bool Malformed)? StringsProblem(MqttPropertyReader reader) =>
        MqttTopicRules.StringProblem(reader.Text) ?? (reader.Id == UserProperty ? MqttTopicRules.StringProblem(reader.SecondText) : null);

    private static MqttBodyVerdict NotItsProperty(MqttPacketKind kind, byte id) =>
        MqttProtocolViolation.Malformed(kind, $"a {Name(kind)} with property 0x{id:x2}, which it does not carry", "MQTT 5.0 section 2.2.2.2");

    private static MqttProtocolViolation MalformedProperties(MqttPacketKind kind) =>
        MqttProtocolViolation.Malformed(kind, $"a {Name(kind)} whose properties cannot be read (an unknown identifier, or a value past their end)", "MQTT 5.0 section 2.2.2.2");

    private static MqttBodyVerdict AliasInvalid(string what, string rule) =>
        new MqttProtocolViolation(MqttPacketKind.Publish, MqttDisconnectReasonCode.TopicAliasInvalid, what, rule);
}
