using LiteDB;

namespace Gateway.Storage.LiteDb;

// How messages sit in LiteDB: each group commit writes one document to "chunks", keyed by its last
// sequence, holding its first sequence, its count and the messages themselves (ChunkCodec). Removing a
// message (confirmed everywhere, dropped, expired) sets its bit in the chunk's entry in "gone", a small
// collection holding only chunks with something removed; the chunk goes once every bit is set. The
// messages are never rewritten, and a group commit writes one document (measured: the pages a commit
// writes, each fsynced before the acks, are what bounds QoS 1 ingest on this disk).
internal static class ChunkDocuments
{
    public const string ChunksCollection = "chunks", GoneCollection = "gone";

    public const string FirstField = "f", CountField = "n", DeadCountField = "dn", DeadField = "d", BlobField = "m",
        PayloadBytesField = "b", DeadBytesField = "db";

    public static BsonDocument ChunkDocument(long first, long last, int count, byte[] blob, long payloadBytes)
    {
        var doc = new BsonDocument { ["_id"] = last, [FirstField] = first, [CountField] = count };
        if (payloadBytes >= 0) doc[PayloadBytesField] = payloadBytes;
        doc[BlobField] = blob;
        return doc;
    }

    public static BsonDocument GoneDocument(long last, long first, int deadCount, byte[] dead, long deadBytes) =>
        new() { ["_id"] = last, [FirstField] = first, [DeadCountField] = deadCount, [DeadField] = dead, [DeadBytesField] = deadBytes };

    /// <summary>A chunk head as compaction sees it; <see cref="Blob"/> null when it is not stored as binary (damaged).</summary>
    public static StoredChunk ToStoredChunk(BsonDocument doc)
    {
        var blob = doc[BlobField];
        return new StoredChunk(doc[FirstField].AsInt64, doc["_id"].AsInt64, doc[CountField].AsInt32, blob.IsBinary ? blob.AsBinary : null,
            doc.TryGetValue(PayloadBytesField, out var b) ? b.AsInt64 : -1);
    }
}

/// <summary>A stored chunk's head: its sequences, its records (null: unreadable) and their payload bytes (-1: not recorded).</summary>
internal readonly record struct StoredChunk(long First, long Last, int Count, byte[]? Blob, long PayloadBytes)
{
    /// <summary>Bytes of its records; a damaged one counts as too large to join.</summary>
    public int Size => Blob?.Length ?? int.MaxValue;
}

/// <summary>
/// Queries on <c>_id</c> without LiteDB parsing and compiling their text each time: it does so for
/// every <c>Find</c>, even a <c>FindById</c> (measured: most of the writer's and the forwarder's time
/// went there once messages were read by chunk). Each thread keeps one expression per shape and
/// only changes its parameter; a shape is never used by two queries at once on one thread.
/// </summary>
internal static class IdQuery
{
    [ThreadStatic] private static BsonExpression? t_is, t_atLeast, t_above;

    public static BsonExpression Is(BsonValue id) => Bind(ref t_is, "_id = @0", id);

    public static BsonExpression AtLeast(long id) => Bind(ref t_atLeast, "_id >= @0", id);

    public static BsonExpression Above(long id) => Bind(ref t_above, "_id > @0", id);

    private static BsonExpression Bind(ref BsonExpression? slot, string text, BsonValue value)
    {
        var expression = slot ??= BsonExpression.Create(text, value);
        expression.Parameters["0"] = value;
        return expression;
    }
}
