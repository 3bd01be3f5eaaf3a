using System.Diagnostics;
using Gateway.Core.Messages;
using LiteDB;

namespace Gateway.Storage.LiteDb;

// How messages sit in LiteDB: each group commit writes one document to "chunks", keyed by its last
// sequence, holding its first sequence, its count and the messages themselves (ChunkCodec). Removing a
// message (confirmed everywhere, dropped, expired) sets its bit in the chunk's entry in "gone", a small
// collection holding only chunks with something removed; the chunk goes once every bit is set. The
// messages are never rewritten, and a group commit writes one document (measured: the pages a commit
// writes, each fsynced before the acks, are what bounds QoS 1 ingest on this disk).
public sealed partial class LiteDbOutbox
{
    private const string ChunksCollection = "chunks", GoneCollection = "gone";
    private const string FirstField = "f", CountField = "n", DeadCountField = "dn", DeadField = "d", BlobField = "m",
        PayloadBytesField = "b", DeadBytesField = "db";

    private ILiteCollection<BsonDocument> _chunks = null!, _gone = null!;

    /// <summary>
    /// Entries in <see cref="_gone"/>, never fewer than there are: while it is 0 a reader skips the
    /// lookup (the usual case when the forwarder keeps up, as whole chunks go at once).
    /// </summary>
    private long _goneCount;

    /// <summary>Entries of <see cref="_gone"/> deleted by the open transaction, counted down from <see cref="_goneCount"/> once it is committed.</summary>
    private long _goneRemovedPending;

    /// <summary>Chunk heads changed by the open transaction, by last sequence (writer thread only); written at its end.</summary>
    private readonly Dictionary<long, ChunkEdit> _edits = [];
    private ChunkEdit? _lastEdit;

    /// <summary>
    /// Per route, the chunk a drop last took from: every message of that route in older chunks is gone,
    /// so the next drop starts there. Writer thread only; forgotten when the store is reopened.
    /// </summary>
    private readonly Dictionary<int, long> _dropFrom = [];

    /// <summary>Routes with nothing stored to drop, until a message of theirs is committed again.</summary>
    private readonly HashSet<int> _dropExhausted = [];

    /// <summary>A chunk's head as the open transaction sees it.</summary>
    private sealed class ChunkEdit(long first, long last, int count, int deadCount, byte[] dead, byte[] blob, bool listedAsGone,
        long payloadBytes, long deadBytes)
    {
        /// <summary>Payload bytes of all its messages, and of those gone: what a quarantine takes off the total without decoding.</summary>
        public long PayloadBytes { get; } = payloadBytes;
        public long DeadBytes { get; private set; } = deadBytes;

        public byte[] Blob { get; } = blob;

        /// <summary>Whether <see cref="_gone"/> has an entry for it (then it is updated or deleted, not inserted).</summary>
        public bool ListedAsGone { get; } = listedAsGone;

        public long First { get; } = first;
        public long Last { get; } = last;
        public int Count { get; } = count;
        public int DeadCount { get; private set; } = deadCount;
        public byte[] Dead { get; } = dead;
        public bool Dirty { get; private set; }
        public ChunkCodec.RecordHead[]? Heads { get; set; }

        public bool Contains(long sequence) => sequence >= First && sequence <= Last;

        public bool IsDead(int i) => IsSet(Dead, i);

        public bool MarkDead(int i, int payloadSize)
        {
            if (IsDead(i)) return false;
            Dead[i >> 3] |= (byte)(1 << (i & 7));
            DeadCount++;
            DeadBytes += payloadSize;
            Dirty = true;
            return true;
        }

        public static ChunkEdit From(BsonDocument chunk, BsonDocument? gone)
        {
            var count = chunk[CountField].AsInt32;
            var dead = new byte[(count + 7) >> 3];
            if (gone is not null && gone.TryGetValue(DeadField, out var stored) && stored.IsBinary)
                stored.AsBinary.AsSpan(0, Math.Min(dead.Length, stored.AsBinary.Length)).CopyTo(dead);
            var deadCount = gone is not null && gone.TryGetValue(DeadCountField, out var dn) ? dn.AsInt32 : 0;
            var deadBytes = gone is not null && gone.TryGetValue(DeadBytesField, out var db) ? db.AsInt64 : 0;
            var payloadBytes = chunk.TryGetValue(PayloadBytesField, out var b) ? b.AsInt64 : -1;
            return new ChunkEdit(chunk[FirstField].AsInt64, chunk["_id"].AsInt64, count, deadCount, dead, chunk[BlobField].AsBinary, gone is not null,
                payloadBytes, deadBytes);
        }

        public BsonDocument ToGone() => new() { ["_id"] = Last, [FirstField] = First, [DeadCountField] = DeadCount, [DeadField] = Dead, [DeadBytesField] = DeadBytes };
    }

    /// <summary>A chunk's removed messages as stored (null: none), for readers and the writer alike.</summary>
    private BsonDocument? GoneOf(BsonValue last) => Interlocked.Read(ref _goneCount) > 0 ? _gone.FindOne(IdQuery.Is(last)) : null;

    private ChunkEdit Load(BsonDocument chunk) => ChunkEdit.From(chunk, GoneOf(chunk["_id"]));

    /// <summary>
    /// Queries on <c>_id</c> without LiteDB parsing and compiling their text each time: it does so for
    /// every <c>Find</c>, even a <c>FindById</c> (measured: most of the writer's and the forwarder's time
    /// went there once messages were read by chunk). Each thread keeps one expression per shape and
    /// only changes its parameter; a shape is never used by two queries at once on one thread.
    /// </summary>
    private static class IdQuery
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

    private static bool IsSet(byte[]? bits, int i) => bits is not null && (i >> 3) < bits.Length && (bits[i >> 3] & (1 << (i & 7))) != 0;

    /// <summary>Writes a new chunk (inside the open transaction). <paramref name="dead"/> marks messages dropped before they were ever stored.</summary>
    private void InsertChunk(long first, IReadOnlyList<(IncomingMessage Message, int Route, int RecordSize)> items, byte[]? dead, int deadCount)
    {
        var last = first + items.Count - 1;
        long payloadBytes = 0, deadBytes = 0;
        for (var i = 0; i < items.Count; i++)
        {
            payloadBytes += items[i].Message.Payload.Length;
            if (IsSet(dead, i)) deadBytes += items[i].Message.Payload.Length;
        }
        _chunks.Insert(new BsonDocument
        {
            ["_id"] = last, [FirstField] = first, [CountField] = items.Count, [PayloadBytesField] = payloadBytes, [BlobField] = ChunkCodec.Encode(items),
        });
        if (deadCount > 0)
        {
            Interlocked.Increment(ref _goneCount); // before the entry exists, so no reader skips it
            _gone.Insert(new BsonDocument { ["_id"] = last, [FirstField] = first, [DeadCountField] = deadCount, [DeadField] = dead, [DeadBytesField] = deadBytes });
        }
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

    private ChunkCodec.RecordHead[] HeadsOf(ChunkEdit edit) =>
        edit.Heads ??= ChunkCodec.ReadHeads(edit.Blob, edit.Count);

    /// <summary>The record heads, or null (reported for quarantine) when the chunk is damaged.</summary>
    private ChunkCodec.RecordHead[]? TryHeadsOf(ChunkEdit edit)
    {
        try
        {
            return HeadsOf(edit);
        }
        catch (InvalidDataException ex)
        {
            ReportCorruptChunk(edit.First, edit.Last, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// Marks a message gone, inside the open transaction; false when it was gone already. Its payload
    /// size comes from <paramref name="size"/> when known (≥ 0), else from the chunk, and is returned there.
    /// </summary>
    private bool MarkGone(long sequence, ref int size)
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
        if (_expiringCount > 0 && _expiring.Delete(sequence)) _expiringCount--;
        return true;
    }

    /// <summary>Writes the changed chunk heads; a chunk with every message gone is deleted with its blob.</summary>
    private void WriteEdits()
    {
        foreach (var edit in _edits.Values)
        {
            if (!edit.Dirty) continue;
            if (edit.DeadCount >= edit.Count)
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
    private void NoteCommitted()
    {
        Interlocked.Add(ref _goneCount, -_goneRemovedPending);
        _goneRemovedPending = 0;
    }

    private void ForgetEdits()
    {
        _edits.Clear();
        _lastEdit = null;
    }

    /// <summary>
    /// Removes the oldest stored message of a route (inside the open transaction), or failing that the
    /// oldest of this group's own new ones (<paramref name="group"/>, <paramref name="groupDead"/>).
    /// </summary>
    private bool TryDropOldest(int route, List<(IncomingMessage Message, int Route, int RecordSize)> group, ref byte[]? groupDead, ref long count, ref long bytes)
    {
        if (!_dropExhausted.Contains(route))
        {
            foreach (var head in _chunks.Find(IdQuery.AtLeast(_dropFrom.GetValueOrDefault(route)), 0, int.MaxValue))
            {
                var edit = EditOf(head);
                if (edit.DeadCount >= edit.Count || TryHeadsOf(edit) is not { } heads) continue;
                for (var i = 0; i < heads.Length; i++)
                {
                    if (heads[i].Route != route || edit.IsDead(i)) continue;
                    edit.MarkDead(i, heads[i].PayloadSize);
                    if (_expiringCount > 0 && _expiring.Delete(edit.First + i)) _expiringCount--;
                    _dropFrom[route] = edit.Last;
                    count--;
                    bytes -= heads[i].PayloadSize;
                    return true;
                }
            }
            _dropExhausted.Add(route);
        }
        for (var j = 0; j < group.Count; j++)
        {
            if (group[j].Route != route || IsSet(groupDead, j)) continue;
            groupDead ??= new byte[(_options.MaxGroupMessages + 7) >> 3];
            groupDead[j >> 3] |= (byte)(1 << (j & 7));
            count--;
            bytes -= group[j].Message.Payload.Length;
            return true;
        }
        return false;
    }

    /// <summary>Committed messages after a sequence, oldest first; readers run beside the writer.</summary>
    private void ReadChunks(long afterSequence, int maxCount, int maxBytes, List<StoredMessage> into)
    {
        var bytes = 0;
        // The head's _id is the chunk's last sequence: the first head above afterSequence holds the next message.
        foreach (var head in _chunks.Find(IdQuery.Above(afterSequence), 0, int.MaxValue))
        {
            var chunk = head[BlobField].AsBinary;
            var first = head[FirstField].AsInt64;
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
                    if (IsSet(dead, i)) return true;
                    var stored = ChunkCodec.ReadMessage(chunk, offset, length, first + i);
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
                ReportCorruptChunk(first, head["_id"].AsInt64, ex.Message);
                continue;
            }
            if (full) return;
        }
    }

    /// <summary>Chunks a reader found damaged and handed to the writer to remove (each reported once).</summary>
    private readonly HashSet<long> _corruptChunks = [];

    private void ReportCorruptChunk(long first, long last, string cause)
    {
        lock (_corruptChunks)
        {
            if (!_corruptChunks.Add(last)) return;
        }
        _metrics.Increment("outbox_corrupt_chunks_total");
        LogCorruptChunk(first, last, cause);
        if (!_queue.Writer.TryWrite(new QuarantineOp(first, last)))
        {
            lock (_corruptChunks) _corruptChunks.Remove(last); // queue full or closing: the next read reports it again
        }
    }

    /// <summary>
    /// Removes a damaged chunk inside the open transaction: its messages that were still stored are
    /// lost (counted and logged by the caller); their payload bytes come off the total from the chunk's
    /// own sum, as the messages cannot be decoded.
    /// </summary>
    private (int Messages, long Bytes) Quarantine(long first, long last)
    {
        var edit = ChunkOf(last);
        if (edit is null || edit.First != first) return (0, 0); // gone meanwhile, or joined into another (which is checked when read)
        var lost = edit.Count - edit.DeadCount;
        var lostBytes = edit.PayloadBytes >= 0 ? Math.Max(0, edit.PayloadBytes - edit.DeadBytes) : 0;
        for (var i = 0; i < edit.Count; i++)
        {
            if (edit.MarkDead(i, 0) && _expiringCount > 0 && _expiring.Delete(edit.First + i)) _expiringCount--;
        }
        return (lost, lostBytes);
    }

    // Compaction. At a trickle every message is a commit and so a chunk of its own, which costs about
    // three times the file space of messages that share a chunk (measured: about 620 against 190 bytes
    // for a 128-byte payload). When the writer is idle, runs of such small chunks that sit well behind
    // the newest message (LiteDbOutboxOptions.CompactBehind: a real backlog, the upstream down for a
    // while, not a burst about to be forwarded) are joined into one. The writer
    // notes each small chunk it commits, so finding them reads no other chunk. Chunks with removed
    // messages are left alone, and so are the newest, which a forwarder that keeps up removes anyway.
    // Small chunks written before the store was opened are found by reading the stored chunks, a
    // step at a time when the writer is idle (RescanStep).
    private const int SmallChunk = 16, CompactMaxMessages = 1000, CompactMaxBytes = 256 << 10;

    /// <summary>
    /// Fewest small chunks joined at once (fewer only when what follows cannot join them), so each
    /// message is rewritten once and the joined chunk is worth having.
    /// </summary>
    public const int CompactMinRun = 64;

    /// <summary>
    /// Fewest small chunks joined when a bigger chunk follows them. Under load most commits are big and
    /// the small ones come one or two between them: joining those saved a few hundred bytes for a
    /// transaction and an fsync each (measured: an eighth of the writer's time at 100 publishing
    /// connections), so they are left as they are.
    /// </summary>
    public const int CompactMinBlockedRun = 8;

    /// <summary>Small chunks committed since the store was opened, oldest first (writer thread only).</summary>
    private readonly Queue<(long First, long Last, int Count, int Bytes)> _smallChunks = new();

    /// <summary>Set by each commit of new messages, cleared when there is nothing more to join for now.</summary>
    private bool _compactPending;

    /// <summary>Most small chunks remembered; older ones are forgotten (never joined) past it.</summary>
    private const int SmallChunksNoted = 65_536;

    private void NoteSmallChunk(long first, long last, int count, int bytes)
    {
        if (count >= SmallChunk) return;
        if (_smallChunks.Count >= SmallChunksNoted) _smallChunks.Dequeue();
        _smallChunks.Enqueue((first, last, count, bytes));
    }

    /// <summary>Whether every configured upstream's cursor is at or past a sequence (the chunk is leaving anyway).</summary>
    private bool PassedByEveryUpstream(long sequence)
    {
        if (!_routes.HasUpstreams) return false;
        foreach (var upstream in _routes.Upstreams)
        {
            if (GetCursor(upstream) < sequence) return false;
        }
        return true;
    }

    /// <summary>A compaction step that never takes the writer down: whatever fails, the chunks stay as they are.</summary>
    private bool TryCompact()
    {
        try
        {
            return TryCompactSmallChunks();
        }
        catch (Exception ex)
        {
            _compactPending = false;
            LogCompactionFailed(0, 0, ex.Message);
            return false;
        }
    }

    /// <summary>
    /// Whether a small chunk (<paramref name="first"/>, <paramref name="count"/> messages,
    /// <paramref name="size"/> bytes) can join a run that ends at <paramref name="end"/> and holds
    /// <paramref name="messages"/> and <paramref name="bytes"/> so far: consecutive, within the limits.
    /// </summary>
    private static bool JoinsRun(long end, int messages, int bytes, long first, int count, int size) =>
        first == end + 1 && messages + count <= CompactMaxMessages && bytes + size <= CompactMaxBytes;

    /// <summary>
    /// What one rescan step reads at most (besides a run it is following) before the writer looks at
    /// its queue again: 64 chunks or 1 MiB of them, whichever comes first, and no more once work is
    /// waiting. A chunk of a backlog taken in under load holds about 50 messages, a few kilobytes
    /// each, and is read whole.
    /// </summary>
    private const int RescanStepChunks = 64, RescanStepBytes = 1 << 20;

    /// <summary>True while the chunks stored before the store was opened have not all been read for small ones.</summary>
    private bool _rescanning;

    /// <summary>Whether the chunks stored before opening are still to be read for small ones (tests watch it).</summary>
    internal bool Rescanning => Volatile.Read(ref _rescanning);

    /// <summary>Whether the writer has no compaction step to try until something changes (tests watch it).</summary>
    internal bool CompactionIdle => !Volatile.Read(ref _compactPending);

    /// <summary>The rescan goes on with the chunks above this one (by last sequence).</summary>
    private long _rescanAfter;

    /// <summary>The last sequence committed before the store was opened: the rescan ends there.</summary>
    private long _rescanThrough;

    /// <summary>What the rescan has read and joined, and the writer's time it took (Stopwatch ticks), for its closing log line.</summary>
    private long _rescanRead, _rescanJoined, _rescanTicks;

    /// <summary>At open: the small chunks already stored are looked for once the writer is idle.</summary>
    private void StartRescan(long lastStored)
    {
        _rescanAfter = 0;
        _rescanRead = _rescanJoined = _rescanTicks = 0;
        ResumeRescan(lastStored);
    }

    /// <summary>
    /// After a reopen (which forgets the small chunks noted so far): the rescan goes on from where it
    /// was, now through <paramref name="lastStored"/>, so nothing it has read (a run whose join
    /// failed included) is read again.
    /// </summary>
    private void ResumeRescan(long lastStored)
    {
        _rescanThrough = Math.Max(_rescanThrough, lastStored);
        _rescanning = _rescanThrough > _rescanAfter;
        _compactPending |= _rescanning;
    }

    /// <summary>
    /// One step of the rescan: reads the chunks stored before opening, oldest first, up to the first
    /// run of small chunks that can be joined (consecutive, none removed, not yet passed by every
    /// upstream, well behind the newest), and joins it. True when it did something and there may be
    /// more; false when it has to wait (for more to fall behind the newest) or is done.
    /// </summary>
    private bool RescanStep()
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            return RescanStepTimed();
        }
        catch
        {
            _rescanning = false; // opportunistic: a store it cannot read this way is left as it is (the failure is logged)
            throw;
        }
        finally
        {
            _rescanTicks += Stopwatch.GetTimestamp() - started;
            if (!_rescanning && _rescanRead > 0) LogRescanned(_rescanRead, _rescanThrough, _rescanJoined, Stopwatch.GetElapsedTime(0, _rescanTicks).TotalMilliseconds);
        }
    }

    private bool RescanStepTimed()
    {
        if (PassedByEveryUpstream(_rescanThrough))
        {
            _rescanning = false; // all forwarded (or going): nothing of it is worth joining now
            return false;
        }
        var limit = Math.Min(_rescanThrough, LastCommittedSequence - _options.CompactBehind);
        var run = new List<BsonDocument>();
        int messages = 0, bytes = 0, read = 0;
        long readBytes = 0;
        long resumeAfter = _rescanAfter; // where the next step starts: after the last chunk no run needs again
        bool atLimit = false, stepSpent = false; // otherwise the end of the chunks, or of a run, ended the reading
        foreach (var doc in _chunks.Find(IdQuery.Above(_rescanAfter), 0, int.MaxValue))
        {
            var last = doc["_id"].AsInt64;
            if (last > limit)
            {
                atLimit = true;
                break;
            }
            if (read > 0 && run.Count == 0 && (read >= RescanStepChunks || readBytes >= RescanStepBytes || _queue.Reader.Count > 0))
            {
                stepSpent = true; // the next step reads this chunk again
                break;
            }
            read++;
            _rescanRead++;
            var first = doc[FirstField].AsInt64;
            var count = doc[CountField].AsInt32;
            var blob = doc[BlobField];
            var size = blob.IsBinary ? blob.AsBinary.Length : int.MaxValue; // a damaged one is left to the readers
            readBytes += blob.IsBinary ? size : 0;
            var small = count < SmallChunk && size <= CompactMaxBytes && GoneOf(last) is null && !PassedByEveryUpstream(last);
            if (small && run.Count > 0 && JoinsRun(run[^1]["_id"].AsInt64, messages, bytes, first, count, size))
            {
                run.Add(doc);
                messages += count;
                bytes += size;
                continue;
            }
            if (run.Count >= CompactMinBlockedRun)
            {
                _rescanRead--; // this chunk ends the run, joined below; the next step reads it again
                break;
            }
            run.Clear();
            resumeAfter = first - 1; // from this chunk on: it may start a run
            if (!small)
            {
                resumeAfter = last;
                continue;
            }
            run.Add(doc);
            messages = count;
            bytes = size;
        }

        if (atLimit && _rescanThrough > limit && run.Count < CompactMinRun)
        {
            // The chunks after these are not yet CompactBehind behind the newest, and the run may go on
            // into them: as with the chunks noted since opening, it waits for more commits.
            _rescanAfter = resumeAfter;
            _rescanRead -= run.Count; // read again then
            return false;
        }
        if (run.Count >= CompactMinBlockedRun)
        {
            _rescanAfter = run[^1]["_id"].AsInt64; // joined or not (a failed join is not tried again)
            if (JoinChunks(run)) _rescanJoined += run.Count;
            return true;
        }
        if (stepSpent)
        {
            _rescanAfter = resumeAfter;
            return true;
        }
        _rescanning = false; // every chunk stored before opening has been read
        return false;
    }

    /// <summary>Joins the oldest run of small chunks, if one is ready; true when there may be more to do now.</summary>
    private bool TryCompactSmallChunks()
    {
        if (_rescanning && RescanStep()) return true;
        while (_smallChunks.TryPeek(out var front) && PassedByEveryUpstream(front.Last)) _smallChunks.Dequeue();
        var limit = LastCommittedSequence - _options.CompactBehind;
        // The run from the front, by what the writer noted: consecutive sequences, within the limits.
        int take = 0, messages = 0, bytes = 0;
        long end = 0;
        var blocked = false; // the entry after the run exists but cannot join it
        foreach (var (first, last, count, size) in _smallChunks)
        {
            if (last > limit) break;
            if (take > 0 && !JoinsRun(end, messages, bytes, first, count, size))
            {
                blocked = true;
                break;
            }
            take++;
            messages += count;
            bytes += size;
            end = last;
        }
        if (take == 0 || (take < CompactMinRun && !blocked))
        {
            _compactPending = false; // wait for more to fall behind the newest
            return false;
        }
        if (take < CompactMinBlockedRun)
        {
            for (var i = 0; i < take; i++) _smallChunks.Dequeue(); // too few to be worth a commit: left alone
            return true;
        }
        // One join per call, so the writer looks at its queue between two (each ends with an fsync).
        var run = new List<BsonDocument>(take);
        for (var i = 0; i < take; i++)
        {
            var (_, last, _, _) = _smallChunks.Dequeue();
            // One that went meanwhile (forwarded, or emptied by removals) or has removals ends what joins.
            if (_chunks.FindOne(IdQuery.Is(last)) is { } doc && GoneOf(last) is null)
            {
                run.Add(doc);
                continue;
            }
            if (run.Count >= 2) break;
            run.Clear();
        }
        if (run.Count >= 2) JoinChunks(run);
        return true;
    }

    /// <summary>Joins a run of small chunks into one, in a transaction of its own; false (and logged) when that failed and they stay as they were.</summary>
    private bool JoinChunks(List<BsonDocument> run)
    {
        var first = run[0][FirstField].AsInt64;
        var last = run[^1]["_id"].AsInt64;
        var count = run.Sum(c => c[CountField].AsInt32);
        var payloadBytes = run.All(c => c.ContainsKey(PayloadBytesField)) ? run.Sum(c => c[PayloadBytesField].AsInt64) : -1;
        ForgetEdits();
        var inTransaction = false;
        try
        {
            var blob = ChunkCodec.Concatenate(run.Select(c => c[BlobField].AsBinary).ToList());
            // Every message decodes, or nothing is joined: a damaged one stays in its own small chunk,
            // which a reader quarantines alone, instead of taking a whole joined run with it.
            ChunkCodec.Walk(blob, count, 0, (i, offset, length) => ChunkCodec.ReadMessage(blob, offset, length, first + i) is not null);
            _db!.BeginTrans();
            inTransaction = true;
            for (var i = 0; i < run.Count - 1; i++) _chunks.Delete(run[i]["_id"]);
            var joined = new BsonDocument { ["_id"] = last, [FirstField] = first, [CountField] = count, [BlobField] = blob };
            if (payloadBytes >= 0) joined[PayloadBytesField] = payloadBytes;
            _chunks.Update(joined);
            // The joined chunk takes the place of chunks the totals may already take in: write them,
            // or an open would add those up twice (AddChunksAfter).
            WriteTotals(Count, Bytes, _lastSequence);
            _db.Commit();
            inTransaction = false;
            SyncLog();
            _metrics.Increment("outbox_chunks_joined_total", "", run.Count);
            return true;
        }
        catch (Exception ex)
        {
            // Whatever it is, the writer lives on; the chunks stay as they were.
            if (inTransaction)
            {
                TryRollback(_db!);
                _reopenNeeded = true; // as after any failed commit: LiteDB's memory may disagree with its files
            }
            _compactPending = false; // tried again after the next commit of new messages
            LogCompactionFailed(first, last, ex.Message);
            return false;
        }
    }

    /// <summary>Old documents moved per transaction when a store of the earlier layout is migrated.</summary>
    private const int MigrationBatch = 10_000;

    /// <summary>
    /// Stores of the earlier layout (a document per message) are moved into chunks at open, a batch
    /// per transaction: each batch inserts its chunks and deletes the documents it moved, so a crash
    /// in between leaves every message in exactly one place and the next open carries on. The totals
    /// are recounted from the chunks once the old collection is empty. A failure is reported as such
    /// (an <see cref="IOException"/>, not corruption): the store is left where it is, never moved aside.
    /// </summary>
    private void MoveLegacyMessagesIntoChunks()
    {
        if (!_db!.CollectionExists(LegacyMessageDocuments.Collection)) return;
        var legacy = _db.GetCollection(LegacyMessageDocuments.Collection);
        long moved = 0;
        try
        {
            while (true)
            {
                var batch = legacy.Find(Query.All("_id", Query.Ascending), 0, MigrationBatch).ToList();
                if (batch.Count == 0) break;
                _db.BeginTrans();
                var group = new List<(IncomingMessage, int, int)>();
                long first = 0;
                var groupBytes = 0;
                foreach (var doc in batch)
                {
                    var stored = LegacyMessageDocuments.FromDocument(doc);
                    var route = LegacyMessageDocuments.Route(doc);
                    var recordSize = ChunkCodec.RecordSize(stored.Message, route);
                    var size = ChunkCodec.Framed(recordSize);
                    if (group.Count > 0 && (stored.Sequence != first + group.Count || group.Count >= _options.MaxGroupMessages || groupBytes + size > MaxChunkBytes))
                    {
                        InsertChunk(first, group, null, 0);
                        group.Clear();
                        groupBytes = 0;
                    }
                    if (group.Count == 0) first = stored.Sequence;
                    group.Add((stored.Message, route, recordSize));
                    groupBytes += size;
                    if (stored.Message.ExpiresAt is { } expires)
                        _expiring.Upsert(new BsonDocument { ["_id"] = stored.Sequence, [ExpiringAtField] = expires.ToUnixTimeMilliseconds() });
                    legacy.Delete(doc["_id"]);
                    moved++;
                }
                if (group.Count > 0) InsertChunk(first, group, null, 0);
                _meta.Delete(CountKey); // recounted from the chunks at the end of the open
                _meta.Delete(BytesKey);
                _db.Commit();
                SyncLog();
            }
            _db.DropCollection(LegacyMessageDocuments.Collection);
        }
        catch (Exception ex) when (ex is not IOException)
        {
            TryRollback(_db);
            throw new IOException($"moving the store's messages into the chunk layout failed after {moved} of them, the store is left as it is: {ex.Message}", ex);
        }
        if (moved > 0) LogMigrated(moved);
    }
}
