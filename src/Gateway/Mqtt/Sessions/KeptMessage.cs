using System.Buffers;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Gateway.Mqtt.Sessions;

/// <summary>
/// A message as the gateway keeps it for a session's queue or as a retained message: every property a
/// subscriber would see, and its arrival time with its expiry interval, so the time left can be worked
/// out after a restart (MQTT-3.3.2-5/6).
/// </summary>
internal sealed record KeptMessage(
    long Seq,
    string Topic,
    byte[] Payload,
    MqttQualityOfServiceLevel Qos,
    bool Retain,
    string? ContentType,
    string? ResponseTopic,
    byte[]? CorrelationData,
    MqttPayloadFormatIndicator PayloadFormat,
    IReadOnlyList<KeyValuePair<string, byte[]>> UserProperties,
    uint ExpiryIntervalSeconds,
    long ArrivedAtUnixMs)
{
    public static KeptMessage From(long seq, MqttApplicationMessage m, MqttQualityOfServiceLevel qos, DateTimeOffset arrivedAt) => new(
        seq,
        m.Topic,
        m.Payload.IsEmpty ? [] : m.Payload.ToArray(),
        qos,
        m.Retain,
        m.ContentType,
        m.ResponseTopic,
        m.CorrelationData,
        m.PayloadFormatIndicator,
        m.UserProperties is { Count: > 0 } props ? props.Select(p => new KeyValuePair<string, byte[]>(p.Name, p.ValueBuffer.ToArray())).ToArray() : [],
        m.MessageExpiryInterval,
        arrivedAt.ToUnixTimeMilliseconds());

    /// <summary>Whether its expiry interval has passed at <paramref name="now"/> (0: it never expires).</summary>
    public bool HasExpired(DateTimeOffset now) => ExpiryIntervalSeconds > 0 && RemainingSeconds(now) == 0;

    /// <summary>What is left of its expiry interval, rounded up so a message is never sent as expired while it is not (0 when gone).</summary>
    public uint RemainingSeconds(DateTimeOffset now)
    {
        var leftMs = ArrivedAtUnixMs + ExpiryIntervalSeconds * 1000L - now.ToUnixTimeMilliseconds();
        return leftMs <= 0 ? 0 : (uint)((leftMs + 999) / 1000);
    }

    /// <summary>The message to hand to MQTTnet, its expiry interval the time left (MQTT-3.3.2-6).</summary>
    public MqttApplicationMessage ToApplicationMessage(DateTimeOffset now) => new()
    {
        Topic = Topic,
        Payload = new ReadOnlySequence<byte>(Payload),
        QualityOfServiceLevel = Qos,
        Retain = Retain,
        ContentType = ContentType,
        ResponseTopic = ResponseTopic,
        CorrelationData = CorrelationData,
        PayloadFormatIndicator = PayloadFormat,
        UserProperties = UserProperties.Count == 0 ? null : UserProperties.Select(p => new MqttUserProperty(p.Key, new ReadOnlyMemory<byte>(p.Value))).ToList(),
        MessageExpiryInterval = ExpiryIntervalSeconds == 0 ? 0 : RemainingSeconds(now),
    };

    /// <summary>Whether MQTTnet's outgoing <paramref name="publish"/> carries this message (an aliased publish may have no topic).</summary>
    public bool IsCarriedBy(MqttPublishPacket publish) =>
        (string.IsNullOrEmpty(publish.Topic) || publish.Topic == Topic) && publish.Payload.Length == Payload.Length && SequenceEquals(publish.Payload);

    private bool SequenceEquals(ReadOnlySequence<byte> payload)
    {
        var offset = 0;
        foreach (var segment in payload)
        {
            if (!segment.Span.SequenceEqual(Payload.AsSpan(offset, segment.Length))) return false;
            offset += segment.Length;
        }
        return true;
    }
}

/// <summary>One subscription of a kept session, with the options of its SUBSCRIBE (MQTT 5 section 3.8.3.1).</summary>
internal sealed record KeptSubscription(string Filter, MqttQualityOfServiceLevel Qos, bool NoLocal, bool RetainAsPublished, MqttRetainHandling RetainHandling)
{
    public static KeptSubscription From(MqttTopicFilter f) => new(f.Topic, f.QualityOfServiceLevel, f.NoLocal, f.RetainAsPublished, f.RetainHandling);

    /// <summary>
    /// For restoring it after a restart: not a new subscription, so retained messages are not sent again
    /// (MQTT-3.3.1-9/10 send them only when a SUBSCRIBE arrives).
    /// </summary>
    public MqttTopicFilter ToRestoredFilter() => new()
    {
        Topic = Filter,
        QualityOfServiceLevel = Qos,
        NoLocal = NoLocal,
        RetainAsPublished = RetainAsPublished,
        RetainHandling = MqttRetainHandling.DoNotSendOnSubscribe,
    };
}
