using LiteDB;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// When stored messages expire (MQTT 5 message expiry, a route's TTL): a small collection of its own,
/// holding only the messages that have one, indexed on the moment, so a sweep finds them without
/// reading any chunk and a delete of a message without one skips it.
/// </summary>
internal sealed class ExpiryIndex
{
    public const string Collection = "expiring";

    /// <summary>When the message with that <c>_id</c> expires (ms since the epoch), indexed.</summary>
    private const string AtField = "e";

    private readonly ILiteCollection<BsonDocument> _entries;

    /// <summary>About how many entries there are; while 0, <see cref="Forget"/> skips the lookup. Counted afresh on every open.</summary>
    private long _count;

    public ExpiryIndex(LiteDatabase db)
    {
        _entries = db.GetCollection(Collection, BsonAutoId.Int64);
        _entries.EnsureIndex(AtField);
        _count = _entries.LongCount();
    }

    public long Count => _count;

    /// <summary>Records a new message's expiry, inside the open transaction.</summary>
    public void Add(long sequence, DateTimeOffset expiresAt)
    {
        _entries.Insert(new BsonDocument { ["_id"] = sequence, [AtField] = expiresAt.ToUnixTimeMilliseconds() });
        _count++;
    }

    /// <summary>A message went: its entry goes with it, if it has one.</summary>
    public void Forget(long sequence)
    {
        if (_count > 0) RemoveEntry(sequence);
    }

    /// <summary>Removes an entry whatever the count says (one whose message is gone already, found by a sweep).</summary>
    public void RemoveEntry(long sequence)
    {
        if (_entries.Delete(sequence)) _count--;
    }

    /// <summary>The messages expired at <paramref name="now"/>, by sequence.</summary>
    public List<long> DueBy(DateTimeOffset now) =>
        _entries.Find(Query.Between(AtField, 1, now.ToUnixTimeMilliseconds())).Select(e => e["_id"].AsInt64).ToList();
}
