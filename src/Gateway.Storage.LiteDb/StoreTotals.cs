using LiteDB;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// The store's totals (messages, payload bytes) and the highest sequence handed out, kept in the
/// "meta" collection. Every commit that removes anything writes them; one that only appends does
/// now and then (<see cref="DueAfterAppend"/>), and opening adds up the chunks appended since.
/// </summary>
internal sealed class StoreTotals
{
    public const string Collection = "meta";

    private const string SequenceKey = "sequence", BytesKey = "bytes", CountKey = "count";

    /// <summary>
    /// In the count's document: the sequence the stored count and bytes take in. Chunks above it were
    /// appended by commits that left the totals alone; opening adds them up (<see cref="Read"/>). A
    /// version that does not know it rewrites the document without it, and its totals are whole again.
    /// </summary>
    private const string CountedThroughField = "through";

    private readonly ILiteCollection<BsonDocument> _meta;
    private readonly int _everyCommits;
    private readonly long _everyBytes;
    private readonly TimeSpan _every;
    private readonly Func<long> _clock;

    private int _appendCommitsSince;
    private long _appendedBytesSince;

    /// <summary>When an appending commit writes them at the latest (<see cref="Environment.TickCount64"/>); 0 at open, so the first one does.</summary>
    private long _dueAt;

    /// <param name="db">The open database.</param>
    /// <param name="everyCommits">Appending commits between two writes, at most.</param>
    /// <param name="everyBytes">Bytes of records appended between two writes, at most.</param>
    /// <param name="every">Time between two writes while appending, at most.</param>
    /// <param name="clock">Milliseconds on a monotonic clock; <see cref="Environment.TickCount64"/> unless a test says otherwise.</param>
    public StoreTotals(LiteDatabase db, int everyCommits, long everyBytes, TimeSpan every, Func<long>? clock = null)
    {
        _meta = db.GetCollection(Collection);
        _everyCommits = everyCommits;
        _everyBytes = everyBytes;
        _every = every;
        _clock = clock ?? (() => Environment.TickCount64);
    }

    /// <summary>The highest sequence written with the totals (0 for a new store).</summary>
    public long StoredSequence => _meta.FindById(SequenceKey)?["value"].AsInt64 ?? 0;

    /// <summary>
    /// The totals as stored, with the chunks appended after them added (a store without them is
    /// counted whole, from <paramref name="chunks"/>).
    /// </summary>
    public (long Count, long Bytes) Read(ChunkStore chunks)
    {
        var countDoc = _meta.FindById(CountKey);
        var bytesDoc = _meta.FindById(BytesKey);
        if (countDoc is null || bytesDoc is null) return (chunks.CountAll(), chunks.BytesAll());
        var count = countDoc["value"].AsInt64;
        var bytes = bytesDoc["value"].AsInt64;
        if (!countDoc.TryGetValue(CountedThroughField, out var countedThrough)) return (count, bytes);
        var (addedCount, addedBytes) = chunks.AddedAfter(countedThrough.AsInt64);
        return (count + addedCount, bytes + addedBytes);
    }

    /// <summary>Writes the totals, and the sequence they take in, in the open transaction.</summary>
    public void Write(long count, long bytes, long sequence)
    {
        _meta.Upsert(new BsonDocument { ["_id"] = SequenceKey, ["value"] = sequence });
        _meta.Upsert(new BsonDocument { ["_id"] = BytesKey, ["value"] = bytes });
        _meta.Upsert(new BsonDocument { ["_id"] = CountKey, ["value"] = count, [CountedThroughField] = sequence });
        _appendCommitsSince = 0;
        _appendedBytesSince = 0;
        _dueAt = _clock() + (long)Math.Ceiling(_every.TotalMilliseconds);
    }

    /// <summary>
    /// Whether a commit that only appends writes the totals: every so many commits, bytes or seconds,
    /// which bounds what an open has to read back and add up. In between, a one-message commit leaves
    /// the meta page out: a third of what it writes (SD-card wear).
    /// </summary>
    public bool DueAfterAppend(int appendedBytes)
    {
        _appendedBytesSince += appendedBytes;
        return ++_appendCommitsSince >= _everyCommits || _appendedBytesSince >= _everyBytes || _clock() >= _dueAt;
    }
}
