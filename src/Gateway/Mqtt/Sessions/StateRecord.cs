using MQTTnet.Protocol;

namespace Gateway.Mqtt.Sessions;

internal enum StateRecordKind : byte
{
    SessionOpened = 1,
    SessionDisconnected = 2,
    SessionDeleted = 3,
    Subscribed = 4,
    Unsubscribed = 5,
    Queued = 6,
    Removed = 7,
    RetainedSet = 8,
    RetainedCleared = 9,
    RetainedAllCleared = 10,
}

/// <summary>
/// One change to the kept MQTT state, as written to the log. <see cref="Key"/> is the client id (session
/// records) or the topic (retained records); <see cref="Number"/> a sequence or a time in Unix milliseconds.
/// </summary>
internal sealed record StateRecord(
    StateRecordKind Kind,
    string Key,
    uint Interval = 0,
    long Number = 0,
    string? Filter = null,
    KeptSubscription? Subscription = null,
    KeptMessage? Message = null)
{
    public void WriteTo(BinaryWriter w)
    {
        w.Write((byte)Kind);
        w.Write(Key);
        switch (Kind)
        {
            case StateRecordKind.SessionOpened:
                w.Write(Interval);
                break;
            case StateRecordKind.SessionDisconnected:
                w.Write(Interval);
                w.Write(Number);
                break;
            case StateRecordKind.Subscribed:
                var s = Subscription!;
                w.Write(s.Filter);
                w.Write((byte)s.Qos);
                w.Write(s.NoLocal);
                w.Write(s.RetainAsPublished);
                w.Write((byte)s.RetainHandling);
                break;
            case StateRecordKind.Unsubscribed:
                w.Write(Filter!);
                break;
            case StateRecordKind.Queued or StateRecordKind.RetainedSet:
                WriteMessage(w, Message!);
                break;
            case StateRecordKind.Removed:
                w.Write(Number);
                break;
        }
    }

    public static StateRecord ReadFrom(BinaryReader r)
    {
        var kind = (StateRecordKind)r.ReadByte();
        var key = r.ReadString();
        return kind switch
        {
            StateRecordKind.SessionOpened => new(kind, key, Interval: r.ReadUInt32()),
            StateRecordKind.SessionDisconnected => new(kind, key, Interval: r.ReadUInt32(), Number: r.ReadInt64()),
            StateRecordKind.SessionDeleted or StateRecordKind.RetainedCleared or StateRecordKind.RetainedAllCleared => new(kind, key),
            StateRecordKind.Subscribed => new(kind, key, Subscription: new KeptSubscription(
                r.ReadString(), (MqttQualityOfServiceLevel)r.ReadByte(), r.ReadBoolean(), r.ReadBoolean(), (MqttRetainHandling)r.ReadByte())),
            StateRecordKind.Unsubscribed => new(kind, key, Filter: r.ReadString()),
            StateRecordKind.Queued or StateRecordKind.RetainedSet => new(kind, key, Message: ReadMessage(r)),
            StateRecordKind.Removed => new(kind, key, Number: r.ReadInt64()),
            _ => throw new InvalidDataException($"unknown record kind {(byte)kind}"),
        };
    }

    private static void WriteMessage(BinaryWriter w, KeptMessage m)
    {
        w.Write(m.Seq);
        w.Write(m.Topic);
        WriteBytes(w, m.Payload);
        w.Write((byte)m.Qos);
        w.Write(m.Retain);
        WriteOptional(w, m.ContentType);
        WriteOptional(w, m.ResponseTopic);
        w.Write(m.CorrelationData is not null);
        if (m.CorrelationData is not null) WriteBytes(w, m.CorrelationData);
        w.Write((byte)m.PayloadFormat);
        w.Write(m.UserProperties.Count);
        foreach (var (name, value) in m.UserProperties)
        {
            w.Write(name);
            WriteBytes(w, value);
        }
        w.Write(m.ExpiryIntervalSeconds);
        w.Write(m.ArrivedAtUnixMs);
    }

    private static KeptMessage ReadMessage(BinaryReader r)
    {
        var seq = r.ReadInt64();
        var topic = r.ReadString();
        var payload = ReadBytes(r);
        var qos = (MqttQualityOfServiceLevel)r.ReadByte();
        var retain = r.ReadBoolean();
        var contentType = ReadOptional(r);
        var responseTopic = ReadOptional(r);
        var correlation = r.ReadBoolean() ? ReadBytes(r) : null;
        var format = (MqttPayloadFormatIndicator)r.ReadByte();
        var count = r.ReadInt32();
        if (count < 0) throw new InvalidDataException("negative user property count");
        var props = new KeyValuePair<string, byte[]>[count];
        for (var i = 0; i < count; i++) props[i] = new(r.ReadString(), ReadBytes(r));
        return new KeptMessage(seq, topic, payload, qos, retain, contentType, responseTopic, correlation, format, props, r.ReadUInt32(), r.ReadInt64());
    }

    private static void WriteBytes(BinaryWriter w, byte[] bytes)
    {
        w.Write(bytes.Length);
        w.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader r)
    {
        var length = r.ReadInt32();
        if (length < 0) throw new InvalidDataException("negative length");
        var bytes = r.ReadBytes(length);
        if (bytes.Length != length) throw new EndOfStreamException();
        return bytes;
    }

    private static void WriteOptional(BinaryWriter w, string? value)
    {
        w.Write(value is not null);
        if (value is not null) w.Write(value);
    }

    private static string? ReadOptional(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;
}
