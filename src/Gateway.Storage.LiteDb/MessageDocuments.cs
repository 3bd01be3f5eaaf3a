using System.Runtime.InteropServices;
using Gateway.Core.Messages;
using LiteDB;

namespace Gateway.Storage.LiteDb;

/// <summary>Maps messages to LiteDB documents by hand: short field names (they are stored in every document) and no reflection on the hot path.</summary>
internal static class MessageDocuments
{
    /// <summary>The message's expiry (milliseconds since the epoch); the sweep finds it through the outbox's expiring collection.</summary>
    public const string ExpiresAtField = ExpiresAt;

    /// <summary>
    /// Indexed "route key": the message's first route and its sequence, zero-padded, so the index
    /// lists each route's messages oldest first and DropOldest finds a route's oldest in one step.
    /// </summary>
    public const string RouteKeyField = "rk";

    public static string RouteKey(int route, long sequence) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{route:D4}:{sequence:D19}");

    /// <summary>The range of route keys holding one route's messages.</summary>
    public static (string From, string To) RouteKeyRange(int route) =>
        (string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{route:D4}:"), string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{route:D4};"));

    public static int PayloadSize(BsonDocument doc) => doc[Payload].AsBinary.Length;

    private const string Topic = "t", Payload = "p", Qos = "q", Retain = "r", ClientId = "c", ReceivedAt = "ts",
        ContentType = "ct", CorrelationData = "cd", ResponseTopic = "rt", UserProperties = "up", ExpiresAt = "exp";

    public static BsonDocument ToDocument(long sequence, IncomingMessage m, int route)
    {
        var doc = new BsonDocument
        {
            ["_id"] = sequence,
            [RouteKeyField] = RouteKey(route, sequence),
            [Topic] = m.Topic,
            [Payload] = AsArray(m.Payload),
            [Qos] = (int)m.Qos,
            [ClientId] = m.ClientId,
            [ReceivedAt] = m.ReceivedAt.ToUnixTimeMilliseconds(),
        };
        if (m.Retain) doc[Retain] = true;
        if (m.ContentType is not null) doc[ContentType] = m.ContentType;
        if (m.CorrelationData is { } correlation) doc[CorrelationData] = AsArray(correlation);
        if (m.ResponseTopic is not null) doc[ResponseTopic] = m.ResponseTopic;
        if (m.ExpiresAt is { } expires) doc[ExpiresAt] = expires.ToUnixTimeMilliseconds();
        if (m.UserProperties.Count > 0)
        {
            var props = new BsonArray();
            foreach (var (key, value) in m.UserProperties) props.Add(new BsonArray(new BsonValue(key), new BsonValue(value)));
            doc[UserProperties] = props;
        }
        return doc;
    }

    public static StoredMessage FromDocument(BsonDocument doc)
    {
        var userProperties = doc.TryGetValue(UserProperties, out var up)
            ? up.AsArray.Select(p => new KeyValuePair<string, string>(p.AsArray[0].AsString, p.AsArray[1].AsString)).ToArray()
            : [];
        var message = new IncomingMessage
        {
            Topic = doc[Topic].AsString,
            Payload = doc[Payload].AsBinary,
            Qos = (QualityOfService)doc[Qos].AsInt32,
            Retain = doc.TryGetValue(Retain, out var retain) && retain.AsBoolean,
            ClientId = doc[ClientId].AsString,
            ReceivedAt = DateTimeOffset.FromUnixTimeMilliseconds(doc[ReceivedAt].AsInt64),
            ContentType = doc.TryGetValue(ContentType, out var ct) ? ct.AsString : null,
            CorrelationData = doc.TryGetValue(CorrelationData, out var cd) ? cd.AsBinary : null,
            ResponseTopic = doc.TryGetValue(ResponseTopic, out var rt) ? rt.AsString : null,
            ExpiresAt = doc.TryGetValue(ExpiresAt, out var exp) ? DateTimeOffset.FromUnixTimeMilliseconds(exp.AsInt64) : null,
            UserProperties = userProperties,
        };
        return new StoredMessage(doc["_id"].AsInt64, message);
    }

    /// <summary>The payload's own array when it is one whole array (the usual case), to avoid a second copy.</summary>
    private static byte[] AsArray(ReadOnlyMemory<byte> memory) =>
        MemoryMarshal.TryGetArray(memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : memory.ToArray();
}
