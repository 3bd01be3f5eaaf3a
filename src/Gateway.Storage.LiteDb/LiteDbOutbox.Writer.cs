using System.Diagnostics;
using System.Threading.Channels;

namespace Gateway.Storage.LiteDb;

// The writer thread: takes groups off the queue (lingering for more when nobody waits), commits
// them, and in its idle moments deletes confirmed messages, joins small chunks, sweeps expired
// messages and checkpoints the log.
public sealed partial class LiteDbOutbox
{
    private void WriteLoop()
    {
        var group = new List<WriteOp>(_options.MaxGroupMessages);
        try
        {
            WriteUntilClosed(group);
        }
        catch (Exception ex)
        {
            WriterFailed(ex, group);
        }
        _writerDone.TrySetResult();
    }

    private void WriteUntilClosed(List<WriteOp> group)
    {
        var reader = _queue.Reader;
        var nextSweep = DeadlineAfter(_options.ExpirySweepInterval);
        // Blocking is right here: this thread exists only to wait for work and then for the disk.
        while (true)
        {
            Volatile.Write(ref _workingSince, Environment.TickCount64);
            RetryWhenDue();
            if (DoIdleWork(reader, group)) continue;
            Volatile.Write(ref _workingSince, 0);
            if (!WaitForWork(reader, NextWake(nextSweep))) break;
            Volatile.Write(ref _workingSince, Environment.TickCount64);
            if (Environment.TickCount64 >= nextSweep)
            {
                SweepExpired();
                nextSweep = DeadlineAfter(_options.ExpirySweepInterval);
            }
            group.Clear();
            var bytes = 0;
            var hurry = FillGroup(reader, group, ref bytes);
            if (!hurry && MayLinger(group)) LingerForMore(reader, group, ref bytes);
            if (group.Count > 0) CommitGroup(group); // empty when woken only for a sweep, a retry (or a hurry with nothing held)
            RunPurges();
            CheckpointWhenDue(reader);
        }
    }

    /// <summary>With nothing queued: a chunk of confirmed messages goes, or a compaction step; true when one was done.</summary>
    private bool DoIdleWork(ChannelReader<WriteOp> reader, List<WriteOp> group)
    {
        if (reader.Count != 0 || _reopenNeeded) return false;
        if (_toDelete.Count > 0)
        {
            group.Clear();
            CommitOps(group); // an empty group commits deletes only
            CheckpointWhenDue(reader);
            return true;
        }
        return _compactor.Pending && !_diskFull && _compactor.TryStep(_store!.Chunks, LastCommittedSequence);
    }

    /// <summary>Takes what is queued into the group, up to its limits.</summary>
    /// <returns>Whether somebody asked for what is held to be committed now (<see cref="CommitLingeringNow"/>).</returns>
    private bool FillGroup(ChannelReader<WriteOp> reader, List<WriteOp> group, ref int bytes)
    {
        var hurry = false;
        // A group becomes one LiteDB document (16 MiB at most): a message that would take it past
        // MaxChunkBytes waits for the next group, whatever MaxGroupBytes says.
        while (GroupHasRoom(group, bytes)
               && reader.TryPeek(out var next) && (group.Count == 0 || bytes + next.Size <= MaxChunkBytes)
               && reader.TryRead(out var op))
        {
            if (op is HurryOp)
            {
                hurry = true;
                continue;
            }
            if (op is PurgeOp purge)
            {
                _purges.Add(purge); // run once the group is committed, so it sees the messages queued before it
                hurry = true;
                continue;
            }
            group.Add(op);
            bytes += op.Size;
        }
        return hurry;
    }

    private bool GroupHasRoom(List<WriteOp> group, int bytes) => group.Count < _options.MaxGroupMessages && bytes < _options.MaxGroupBytes;

    /// <summary>
    /// Whether the group may wait for more: it holds new messages nobody waits for (MQTT QoS 0, STOMP
    /// SEND without receipt), and from <paramref name="from"/> on nothing else but upstreams' cursor
    /// moves, which nobody waits for either (the forwarder goes on from its own position).
    /// </summary>
    private static bool MayLinger(List<WriteOp> group, int from = 0)
    {
        var unawaited = from > 0; // a group already lingering holds one
        for (var i = from; i < group.Count; i++)
        {
            switch (group[i])
            {
                case AppendOp { Awaited: false }:
                    unawaited = true;
                    break;
                case AdvanceOp:
                    break;
                default:
                    return false; // an append somebody waits for, a quarantine
            }
        }
        return unawaited;
    }

    /// <summary>
    /// Holds a group of messages nobody waits for up to <see cref="LiteDbOutboxOptions.UnacknowledgedLinger"/>,
    /// taking in what arrives meanwhile, so they share a commit: fewer commits, fsyncs and pages written
    /// per message. Anything somebody waits for, a hurry (<see cref="CommitLingeringNow"/>), a full
    /// group, or the store closing ends the wait at once; what ended it goes in the same commit.
    /// </summary>
    private void LingerForMore(ChannelReader<WriteOp> reader, List<WriteOp> group, ref int bytes)
    {
        if (_options.UnacknowledgedLinger <= TimeSpan.Zero) return;
        var deadline = DeadlineAfter(_options.UnacknowledgedLinger);
        while (GroupHasRoom(group, bytes) && Environment.TickCount64 < deadline)
        {
            if (!WaitForWork(reader, deadline) || reader.Count == 0) return; // closing, or the time is up
            var from = group.Count;
            if (FillGroup(reader, group, ref bytes)) return;
            if (group.Count == from || !MayLinger(group, from)) return; // the next does not fit, or is awaited
        }
    }

    /// <summary>A moment on <see cref="Environment.TickCount64"/>'s clock, rounded up to whole milliseconds.</summary>
    private static long DeadlineAfter(TimeSpan wait) => Environment.TickCount64 + (long)Math.Ceiling(wait.TotalMilliseconds);

    /// <summary>Waits for queued writes or the next sweep; false once the queue is closed and empty.</summary>
    private static bool WaitForWork(ChannelReader<WriteOp> reader, long nextSweep)
    {
        if (reader.TryPeek(out _)) return true; // work queued already: no timer
        var wait = nextSweep - Environment.TickCount64;
        if (wait <= 0) return !reader.Completion.IsCompleted;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(wait));
        try
        {
            return reader.WaitToReadAsync(timeout.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            return true; // time for a sweep
        }
    }

    /// <summary>Removes every message past its expiry (MQTT 5 expiry or the routes' TTL): counted, never forwarded.</summary>
    private void SweepExpired()
    {
        if (_reopenNeeded) return; // after the reopen
        int removed;
        try
        {
            // An entry whose message is gone already (dropped within its own group commit) is removed and not counted.
            removed = RemoveNow(_store!.Expiry.DueBy(DateTimeOffset.UtcNow));
        }
        catch (Exception ex) when (StoreFiles.IsStoreFailure(ex))
        {
            _logger.SweepFailed(ex.Message);
            WriteFailed("removing expired messages", ex, inTransaction: true);
            return;
        }
        if (removed == 0) return;
        _metrics.Increment("messages_expired_total", "", removed);
        _logger.Expired(removed);
    }

    /// <summary>
    /// Removes messages in a transaction of their own (sweeps, outside the group commit), keeps the
    /// stored totals in step, makes the commit durable, and returns how many went. An expiry entry whose
    /// message is gone already is removed and not counted.
    /// </summary>
    private int RemoveNow(List<long> doomed)
    {
        if (doomed.Count == 0) return 0;
        var store = _store!;
        long freed = 0;
        var removed = 0;
        store.Chunks.ForgetEdits();
        store.Db.BeginTrans();
        foreach (var sequence in doomed)
        {
            var size = -1;
            if (store.Chunks.MarkGone(sequence, ref size))
            {
                removed++;
                freed += size;
            }
            else
            {
                store.Expiry.RemoveEntry(sequence);
            }
        }
        store.Chunks.WriteEdits();
        store.Totals.Write(Count - removed, Bytes - freed, _lastSequence);
        store.Db.Commit();
        store.Chunks.NoteCommitted();
        SyncLog();
        Interlocked.Add(ref _count, -removed);
        Interlocked.Add(ref _bytes, -freed);
        return removed;
    }

    /// <summary>Joins a run of small chunks into one, in a transaction of its own; false (and logged) when that failed and they stay as they were.</summary>
    private bool JoinChunks(IReadOnlyList<StoredChunk> run)
    {
        var store = _store!;
        store.Chunks.ForgetEdits();
        var inTransaction = false;
        try
        {
            var joined = ChunkStore.Join(run);
            store.Db.BeginTrans();
            inTransaction = true;
            store.Chunks.ReplaceWithJoined(run, joined);
            // The joined chunk takes the place of chunks the totals may already take in: write them,
            // or an open would add those up twice (StoreTotals.Read).
            store.Totals.Write(Count, Bytes, _lastSequence);
            store.Db.Commit();
            inTransaction = false;
            SyncLog();
            _metrics.Increment("outbox_chunks_joined_total", "", run.Count);
            return true;
        }
        catch (Exception ex)
        {
            // Whatever it is, the writer lives on; the chunks stay as they were.
            _logger.CompactionFailed(run[0].First, run[^1].Last, ex.Message);
            if (inTransaction) WriteFailed("joining small chunks", ex, inTransaction: true);
            return false;
        }
    }

    /// <summary>Flushes the log file to the device: the group commit is durable when this returns.</summary>
    private void SyncLog()
    {
        var started = Stopwatch.GetTimestamp();
        _store!.Files.SyncLog();
        _metrics.Observe("outbox_sync_seconds", Stopwatch.GetElapsedTime(started));
        NoteLogSize();
    }

    /// <summary>The log's size as the writer last saw it, for the free-space check on the ingest path (no fstat per append).</summary>
    private void NoteLogSize() => _disk.NoteLogSize(_store?.Files.LogBytes ?? 0);

    private void TryRollback()
    {
        if (_store is not { } store) return;
        store.Chunks.NoteRolledBack(); // not deleted after all
        try
        {
            store.Db.Rollback();
        }
        catch (Exception)
        {
            // The commit already failed; a rollback that fails too leaves LiteDB to recover from its log on next open.
        }
    }
}
