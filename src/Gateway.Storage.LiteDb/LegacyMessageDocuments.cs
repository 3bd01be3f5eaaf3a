using Gateway.Core.Messages;
using LiteDB;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// Reads the layout of stores written before chunks: one LiteDB document per message in the
/// <c>messages</c> collection, with short field names. Only the migration at open uses it.
/// </summary>
internal static class LegacyMessageDocuments
{
    public const string Collection = "messages";

    /// <summary>The route index the message was stored under: the "route key" was <c>route:sequence</c>, zero-padded.</summary>
    public static int Route(BsonDocument doc) =>
        doc.TryGetValue("rk", out var rk) && rk.IsString && int.TryParse(rk.AsString.AsSpan(0, Math.Max(0, rk.AsString.IndexOf(':'))),
            System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var route)
            ? route
            : -1;

    private const string Topic = "t", Payload = "p", Qos = "q", Retain = "r", ClientId = "c", ReceivedAt = "ts",
        ContentType = "ct", CorrelationData = "cd", ResponseTopic = "rt", UserProperties = "up", ExpiresAt = "exp";

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
}
