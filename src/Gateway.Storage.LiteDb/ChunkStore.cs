using Gateway.Core.Messages;
using LiteDB;
using static Gateway.Storage.LiteDb.ChunkDocuments;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// The messages as chunks (<see cref="ChunkDocuments"/>): one document per group commit, and the
/// deletion bitmaps of those with something removed. The writer changes chunk heads through edits
/// kept for the open transaction (<see cref="MarkGone"/>, <see cref="WriteEdits"/>); readers (the
/// forwarders) read committed chunks beside it (<see cref="Read"/>). One instance per opening of the files.
/// </summary>
internal sealed class ChunkStore
{
    private readonly ILiteCollection<BsonDocument> _chunks, _gone;
    private readonly ExpiryIndex _expiry;
    private readonly Action<long, long, string> _reportCorrupt;

    /// <summary>Chunk heads changed by the open transaction, by last sequence (writer thread only); written at its end.</summary>
    private readonly Dictionary<long, ChunkEdit> _edits = [];
    private ChunkEdit? _lastEdit;

    /// <summary>
    /// Entries in "gone", never fewer than there are: while it is 0 a reader skips the lookup (the
    /// usual case when the forwarder keeps up, as whole chunks go at once).
    /// </summary>
    private long _goneCount;

    /// <summary>Entries of "gone" deleted by the open transaction, counted down from <see cref="_goneCount"/> once it is committed.</summary>
    private long _goneRemovedPending;

    /// <param name="db">The open database.</param>
    /// <param name="expiry">Expiry entries, removed with their messages.</param>
    /// <param name="reportCorrupt">Told of a chunk that does not decode (first and last sequence, cause), to have it quarantined.</param>
    public ChunkStore(LiteDatabase db, ExpiryIndex expiry, Action<long, long, string> reportCorrupt)
    {
        _chunks = db.GetCollection(ChunksCollection, BsonAutoId.Int64);
        _gone = db.GetCollection(GoneCollection, BsonAutoId.Int64);
        _expiry = expiry;
        _reportCorrupt = reportCorrupt;
        _goneCount = _gone.LongCount();
    }

    public long HighestSequence() => _chunks.Query().OrderByDescending("_id").Limit(1).FirstOrDefault()?["_id"].AsInt64 ?? 0;

    /// <summary>Writes a new chunk (inside the open transaction). <paramref name="dead"/> marks messages dropped before they were ever stored.</summary>
    public void Insert(long first, IReadOnlyList<(IncomingMessage Message, int Route, int RecordSize)> items, byte[]? dead, int deadCount)
    {
        var last = first + items.Count - 1;
        long payloadBytes = 0, deadBytes = 0;
        for (var i = 0; i < items.Count; i++)
        {
            payloadBytes += items[i].Message.Payload.Length;
            if (DeletionBitmap.IsSet(dead, i)) deadBytes += items[i].Message.Payload.Length;
        }
        _chunks.Insert(ChunkDocument(first, last, items.Count, ChunkCodec.Encode(items), payloadBytes));
        if (deadCount > 0)
        {
            Interlocked.Increment(ref _goneCount); // before the entry exists, so no reader skips it
            _gone.Insert(GoneDocument(last, first, deadCount, dead!, deadBytes));
        }
    }

    /// <summary>
    /// Marks a message gone, inside the open transaction; false when it was gone already. Its payload
    /// size comes from <paramref name="size"/> when known (≥ 0), else from the chunk, and is returned there.
    /// </summary>
    public bool MarkGone(long sequence, ref int size)
    {
        var edit = ChunkOf(sequence);
        if (edit is null) return false;
        var index = (int)(sequence - edit.First);
        if (edit.IsDead(index)) return false;
        if (size < 0)
        {
            if (TryHeadsOf(edit) is not { } heads) return false; // damaged: removed whole by its quarantine
            size = heads[index].PayloadSize;
        }
        edit.MarkDead(index, size);
        _expiry.Forget(sequence);
        return true;
    }

    /// <summary>
    /// Marks gone the oldest stored message of a route in the chunks from <paramref name="fromChunk"/>
    /// on (inside the open transaction); false when it has none there.
    /// </summary>
    public bool TryDropOldest(int route, long fromChunk, out long droppedFrom, out int payloadSize)
    {
        foreach (var head in _chunks.Find(IdQuery.AtLeast(fromChunk), 0, int.MaxValue))
        {
            var edit = EditOf(head);
            if (edit.AllGone || TryHeadsOf(edit) is not { } heads) continue;
            var index = FirstStoredOfRoute(edit, heads, route);
            if (index < 0) continue;
            edit.MarkDead(index, heads[index].PayloadSize);
            _expiry.Forget(edit.First + index);
            droppedFrom = edit.Last;
            payloadSize = heads[index].PayloadSize;
            return true;
        }
        droppedFrom = payloadSize = 0;
        return false;
    }

    private static int FirstStoredOfRoute(ChunkEdit edit, ChunkCodec.RecordHead[] heads, int route)
    {
        for (var i = 0; i < heads.Length; i++)
        {
            if (heads[i].Route == route && !edit.IsDead(i)) return i;
        }
        return -1;
    }

    /// <summary>
    /// Removes a damaged chunk inside the open transaction: its messages that were still stored are
    /// lost (counted and logged by the caller); their payload bytes come off the total from the chunk's
    /// own sum, as the messages cannot be decoded.
    /// </summary>
    public (int Messages, long Bytes) Quarantine(long first, long last)
    {
        var edit = ChunkOf(last);
        if (edit is null || edit.First != first) return (0, 0); // gone meanwhile, or joined into another (which is checked when read)
        var lost = edit.Count - edit.DeadCount;
        var lostBytes = edit.PayloadBytes >= 0 ? Math.Max(0, edit.PayloadBytes - edit.DeadBytes) : 0;
        for (var i = 0; i < edit.Count; i++)
        {
            if (edit.MarkDead(i, 0)) _expiry.Forget(edit.First + i);
        }
        return (lost, lostBytes);
    }

    /// <summary>Writes the changed chunk heads; a chunk with every message gone is deleted with its blob.</summary>
    public void WriteEdits()
    {
        foreach (var edit in _edits.Values)
        {
            if (!edit.Dirty) continue;
            if (edit.AllGone)
            {
                _chunks.Delete(edit.Last);
                if (edit.ListedAsGone && _gone.Delete(edit.Last)) _goneRemovedPending++;
            }
            else if (edit.ListedAsGone)
            {
                _gone.Update(edit.ToGone());
            }
            else
            {
                Interlocked.Increment(ref _goneCount);
                _gone.Insert(edit.ToGone());
            }
        }
        ForgetEdits();
    }

    /// <summary>After a commit: the gone entries it deleted no longer need looking up.</summary>
    public void NoteCommitted()
    {
        Interlocked.Add(ref _goneCount, -_goneRemovedPending);
        _goneRemovedPending = 0;
    }

    /// <summary>After a rollback: nothing the transaction changed happened.</summary>
    public void NoteRolledBack()
    {
        ForgetEdits();
        _goneRemovedPending = 0;
    }

    public void ForgetEdits()
    {
        _edits.Clear();
        _lastEdit = null;
    }

    /// <summary>The chunk holding a sequence, as the open transaction sees it; null when that chunk is gone.</summary>
    private ChunkEdit? ChunkOf(long sequence)
    {
        if (_lastEdit is not null && _lastEdit.Contains(sequence)) return _lastEdit;
        var head = _chunks.Find(IdQuery.AtLeast(sequence), 0, 1).FirstOrDefault();
        if (head is null) return null;
        var edit = EditOf(head);
        return edit.Contains(sequence) ? _lastEdit = edit : null;
    }

    private ChunkEdit EditOf(BsonDocument head)
    {
        var last = head["_id"].AsInt64;
        if (!_edits.TryGetValue(last, out var edit)) _edits[last] = edit = Load(head);
        return edit;
    }

    /// <summary>A chunk's removed messages as stored (null: none), for readers and the writer alike.</summary>
    private BsonDocument? GoneOf(BsonValue last) => Interlocked.Read(ref _goneCount) > 0 ? _gone.FindOne(IdQuery.Is(last)) : null;

    private ChunkEdit Load(BsonDocument chunk) => ChunkEdit.From(chunk, GoneOf(chunk["_id"]));

    /// <summary>The record heads, or null (reported for quarantine) when the chunk is damaged.</summary>
    private ChunkCodec.RecordHead[]? TryHeadsOf(ChunkEdit edit)
    {
        try
        {
            return edit.Heads ??= ChunkCodec.ReadHeads(edit.Blob, edit.Count);
        }
        catch (InvalidDataException ex)
        {
            _reportCorrupt(edit.First, edit.Last, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// Committed messages after a sequence and up to <paramref name="throughSequence"/>, oldest first,
    /// less those in <paramref name="skip"/>; readers run beside the writer.
    /// </summary>
    public void Read(long afterSequence, long throughSequence, int maxCount, int maxBytes, List<StoredMessage> into, IReadOnlySet<long>? skip = null)
    {
        var bytes = 0;
        // The head's _id is the chunk's last sequence: the first head above afterSequence holds the next message.
        foreach (var head in _chunks.Find(IdQuery.Above(afterSequence), 0, int.MaxValue))
        {
            var chunk = head[BlobField].AsBinary;
            var first = head[FirstField].AsInt64;
            if (first > throughSequence) return;
            // The chunks and gone collections are read in snapshots of their own: an entry made for a
            // chunk joined since (same last sequence, another first) is not this chunk's, and is ignored
            // (at worst a removed message is sent once more).
            var dead = GoneOf(head["_id"]) is { } gone && gone.TryGetValue(FirstField, out var goneFirst) && goneFirst.AsInt64 == first
                && gone.TryGetValue(DeadField, out var d) && d.IsBinary ? d.AsBinary : null;
            var full = false;
            try
            {
                ChunkCodec.Walk(chunk, head[CountField].AsInt32, (int)Math.Max(0, afterSequence + 1 - first), (i, offset, length) =>
                {
                    var sequence = first + i;
                    if (sequence > throughSequence)
                    {
                        full = true; // not published yet: read once its commit is on disk
                        return false;
                    }
                    if (DeletionBitmap.IsSet(dead, i) || skip?.Contains(sequence) == true) return true;
                    var stored = ChunkCodec.ReadMessage(chunk, offset, length, sequence);
                    bytes += stored.Message.ApproximateSize;
                    if (into.Count > 0 && bytes > maxBytes)
                    {
                        full = true;
                        return false;
                    }
                    into.Add(stored);
                    full = into.Count >= maxCount;
                    return !full;
                });
            }
            catch (InvalidDataException ex)
            {
                // Skip it, so one damaged chunk cannot hold an upstream back for ever; the writer removes it.
                _reportCorrupt(first, head["_id"].AsInt64, ex.Message);
                continue;
            }
            if (full) return;
        }
    }

    /// <summary>Messages stored, added up from the chunk heads (for a store without its totals).</summary>
    public long CountAll() => _chunks.FindAll().Sum(c => (long)c[CountField].AsInt32) - _gone.FindAll().Sum(g => (long)g[DeadCountField].AsInt32);

    /// <summary>Payload bytes stored, added up from every chunk's records (for a store without its totals).</summary>
    public long BytesAll()
    {
        long bytes = 0;
        foreach (var chunk in _chunks.FindAll())
        {
            var edit = Load(chunk);
            if (TryHeadsOf(edit) is not { } heads) continue; // damaged: its quarantine takes its bytes off
            for (var i = 0; i < heads.Length; i++) bytes += edit.IsDead(i) ? 0 : heads[i].PayloadSize;
        }
        return bytes;
    }

    /// <summary>Messages and payload bytes of the chunks above a sequence, less what of them is listed as gone.</summary>
    public (long Count, long Bytes) AddedAfter(long sequence)
    {
        long count = 0, bytes = 0;
        foreach (var chunk in _chunks.Find(Query.GT("_id", sequence)))
        {
            count += chunk[CountField].AsInt32;
            bytes += chunk.TryGetValue(PayloadBytesField, out var b) ? b.AsInt64 : 0;
        }
        // Parts of them removed later rewrote the totals; this is for a store that says otherwise.
        foreach (var gone in _gone.Find(Query.GT("_id", sequence)))
        {
            count -= gone[DeadCountField].AsInt32;
            bytes -= gone.TryGetValue(DeadBytesField, out var b) ? b.AsInt64 : 0;
        }
        return (count, bytes);
    }

    /// <summary>The stored messages up to <paramref name="through"/> that <paramref name="leaving"/> says may go (by topic and sequence).</summary>
    public List<long> FindStored(long through, Func<string, long, bool> leaving)
    {
        var found = new List<long>();
        foreach (var doc in _chunks.FindAll())
        {
            var edit = Load(doc);
            if (edit.First > through) break; // chunks come in sequence order
            try
            {
                found.AddRange(StoredIn(edit, through, leaving));
            }
            catch (InvalidDataException ex)
            {
                _reportCorrupt(edit.First, edit.Last, ex.Message); // removed whole by its quarantine
            }
        }
        return found;
    }

    private static List<long> StoredIn(ChunkEdit edit, long through, Func<string, long, bool> leaving)
    {
        var chunk = edit.Blob;
        var found = new List<long>();
        ChunkCodec.Walk(chunk, edit.Count, 0, (i, offset, length) =>
        {
            var sequence = edit.First + i;
            if (sequence > through) return false;
            if (!edit.IsDead(i) && leaving(ChunkCodec.ReadMessage(chunk, offset, length, sequence).Message.Topic, sequence)) found.Add(sequence);
            return true;
        });
        return found;
    }

    /// <summary>Chunk heads above a last sequence, oldest first (for compaction).</summary>
    public IEnumerable<StoredChunk> ChunksAbove(long last) => _chunks.Find(IdQuery.Above(last), 0, int.MaxValue).Select(ToStoredChunk);

    /// <summary>The chunk ending at a sequence, if it is still there.</summary>
    public StoredChunk? Find(long last) => _chunks.FindOne(IdQuery.Is(last)) is { } doc ? ToStoredChunk(doc) : null;

    /// <summary>Whether any message of the chunk ending at a sequence was removed.</summary>
    public bool HasRemovals(long last) => GoneOf(last) is not null;

    /// <summary>
    /// Replaces a run of consecutive chunks, none with removals, by one holding <paramref name="joined"/>
    /// (inside the open transaction). It keeps the last one's key, so readers' positions stay valid.
    /// </summary>
    public void ReplaceWithJoined(IReadOnlyList<StoredChunk> run, byte[] joined)
    {
        for (var i = 0; i < run.Count - 1; i++) _chunks.Delete(run[i].Last);
        var payloadBytes = run.All(c => c.PayloadBytes >= 0) ? run.Sum(c => c.PayloadBytes) : -1;
        _chunks.Update(ChunkDocument(run[0].First, run[^1].Last, run.Sum(c => c.Count), joined, payloadBytes));
    }

    /// <summary>
    /// The records of a run of chunks as one chunk. Every message decodes, or nothing is joined
    /// (<see cref="InvalidDataException"/>): a damaged one stays in its own small chunk, which a
    /// reader quarantines alone, instead of taking a whole joined run with it.
    /// </summary>
    public static byte[] Join(IReadOnlyList<StoredChunk> run)
    {
        var first = run[0].First;
        var blob = ChunkCodec.Concatenate(run.Select(c => c.Blob ?? throw new InvalidDataException($"chunk {c.First}..{c.Last} is not stored as binary")).ToList());
        ChunkCodec.Walk(blob, run.Sum(c => c.Count), 0, (i, offset, length) => ChunkCodec.ReadMessage(blob, offset, length, first + i) is not null);
        return blob;
    }
}
