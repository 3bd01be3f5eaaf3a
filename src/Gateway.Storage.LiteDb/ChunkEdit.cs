using LiteDB;
using static Gateway.Storage.LiteDb.ChunkDocuments;

namespace Gateway.Storage.LiteDb;

/// <summary>A chunk's head as the open transaction sees it: its messages, and which of them are gone.</summary>
internal sealed class ChunkEdit(long first, long last, int count, int deadCount, byte[] dead, byte[] blob, bool listedAsGone,
    long payloadBytes, long deadBytes)
{
    /// <summary>Payload bytes of all its messages (-1: not recorded), and of those gone: what a quarantine takes off the total without decoding.</summary>
    public long PayloadBytes { get; } = payloadBytes;
    public long DeadBytes { get; private set; } = deadBytes;

    public byte[] Blob { get; } = blob;

    /// <summary>Whether the "gone" collection has an entry for it (then it is updated or deleted, not inserted).</summary>
    public bool ListedAsGone { get; } = listedAsGone;

    public long First { get; } = first;
    public long Last { get; } = last;
    public int Count { get; } = count;
    public int DeadCount { get; private set; } = deadCount;
    public byte[] Dead { get; } = dead;
    public bool Dirty { get; private set; }
    public ChunkCodec.RecordHead[]? Heads { get; set; }

    public bool AllGone => DeadCount >= Count;

    public bool Contains(long sequence) => sequence >= First && sequence <= Last;

    public bool IsDead(int i) => DeletionBitmap.IsSet(Dead, i);

    /// <summary>Marks a message gone; false when it was gone already.</summary>
    public bool MarkDead(int i, int payloadSize)
    {
        if (IsDead(i)) return false;
        DeletionBitmap.Set(Dead, i);
        DeadCount++;
        DeadBytes += payloadSize;
        Dirty = true;
        return true;
    }

    /// <summary>The edit of a stored chunk head and its entry in "gone" (null: nothing of it removed).</summary>
    public static ChunkEdit From(BsonDocument chunk, BsonDocument? gone)
    {
        var count = chunk[CountField].AsInt32;
        var dead = DeletionBitmap.For(count);
        if (gone is not null && gone.TryGetValue(DeadField, out var stored) && stored.IsBinary)
            stored.AsBinary.AsSpan(0, Math.Min(dead.Length, stored.AsBinary.Length)).CopyTo(dead);
        var deadCount = gone is not null && gone.TryGetValue(DeadCountField, out var dn) ? dn.AsInt32 : 0;
        var deadBytes = gone is not null && gone.TryGetValue(DeadBytesField, out var db) ? db.AsInt64 : 0;
        var payloadBytes = chunk.TryGetValue(PayloadBytesField, out var b) ? b.AsInt64 : -1;
        return new ChunkEdit(chunk[FirstField].AsInt64, chunk["_id"].AsInt64, count, deadCount, dead, chunk[BlobField].AsBinary, gone is not null,
            payloadBytes, deadBytes);
    }

    public BsonDocument ToGone() => GoneDocument(Last, First, DeadCount, Dead, DeadBytes);
}
