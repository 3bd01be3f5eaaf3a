using System.Diagnostics;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;

namespace Gateway.Storage.LiteDb;

// One group commit: cursor moves, quarantines, deletes of confirmed messages, the new messages as
// one chunk (with DropOldest making room), the totals, one transaction, the fsync; then the acks.
public sealed partial class LiteDbOutbox
{
    /// <summary>Most deletes in one commit, unless the store is near a limit (then all of them, first).</summary>
    private const int DeleteChunk = 100;

    /// <summary>Acks completed by one pool work item.</summary>
    private const int SettleSlice = 16;

    /// <summary>A group split in two (<see cref="CommitGroup"/>); writer thread only.</summary>
    private readonly List<WriteOp> _appendsFirst = [], _advancesAfter = [];

    /// <summary>The group's new messages with their routes, encoded into one chunk at commit (writer thread only).</summary>
    private readonly List<(IncomingMessage Message, int Route, int RecordSize)> _chunkItems = [];

    /// <summary>
    /// Confirmed messages not deleted yet, oldest first (writer thread only). Deletes go in chunks
    /// between append groups and when the writer is idle, so a forwarder's batch of 500 never holds
    /// up the acks queued behind it. A crash before they are deleted loses nothing: the cursors are
    /// committed, and the sweep at open removes whatever is at or below them.
    /// </summary>
    private readonly Queue<(long Sequence, string Topic, int Size)> _toDelete = new();

    /// <summary>The commit under way (writer thread only), reused from one to the next.</summary>
    private readonly CommitTally _tally = new();

    /// <summary>
    /// Commits a group. When it holds both new messages and confirmed ones to delete, and the store
    /// is not near its limits, the new messages are committed (and acknowledged) first and the
    /// deletes in a second commit: a forwarder's batch of 500 deletes would otherwise sit in front
    /// of every ack of the group. Near a limit, one commit with the deletes first, so what was
    /// confirmed makes room before anything is refused or dropped.
    /// </summary>
    private void CommitGroup(List<WriteOp> group)
    {
        var (appendCount, appendBytes, advances) = Survey(group);
        var roomy = Count + appendCount < _options.MaxMessages && Bytes + appendBytes < _options.MaxBytes;
        if (!advances || appendCount == 0 || !roomy)
        {
            CommitOps(group);
            return;
        }
        _appendsFirst.Clear();
        _advancesAfter.Clear();
        foreach (var op in group) (op is AppendOp ? _appendsFirst : _advancesAfter).Add(op);
        CommitOps(_appendsFirst);
        CommitOps(_advancesAfter);
    }

    /// <summary>The new messages of a group (how many, their payload bytes) and whether it moves any cursor.</summary>
    private static (long Appends, long AppendBytes, bool Advances) Survey(List<WriteOp> group)
    {
        long appends = 0, appendBytes = 0;
        var advances = false;
        foreach (var op in group)
        {
            if (op is AppendOp append)
            {
                appends++;
                appendBytes += append.Message.Payload.Length;
            }
            else if (op is AdvanceOp)
            {
                advances = true;
            }
        }
        return (appends, appendBytes, advances);
    }

    private void CommitOps(List<WriteOp> group)
    {
        if (_reopenNeeded && !TryReopen())
        {
            FailGroup(group, new IOException($"the store is not writable yet (reopening after a failed write did not succeed{(_diskFull ? $": {_diskFullCause}" : "")})"), releasePending: true);
            return;
        }
        var store = _store!;
        var tally = _tally.Start(_lastSequence, Count, Bytes);
        var committed = false;
        try
        {
            var started = Stopwatch.GetTimestamp();
            store.Chunks.ForgetEdits();
            store.Db.BeginTrans();
            WriteGroup(group, tally);
            store.Db.Commit();
            _metrics.Observe("outbox_commit_seconds", Stopwatch.GetElapsedTime(started));
            store.Chunks.NoteCommitted();
            committed = true;
            AfterCommit(tally);
        }
        catch (Exception ex) when (StoreFiles.IsStoreFailure(ex))
        {
            if (!committed)
            {
                // A commit that failed half way (ENOSPC, EIO) can leave LiteDB's memory disagreeing with
                // its files: never reuse the sequence numbers it saw, and read the store afresh.
                _lastSequence = tally.Sequence;
                WriteFailed("a group commit", ex, inTransaction: true);
            }
            FailGroup(group, ex, releasePending: !committed);
            if (!committed) return;
            // Committed but not known to be on disk, and their acks refused above: the client sends
            // them again, so these are never forwarded (they would arrive twice under two ids).
            Revoke(group);
        }
        Publish(group, tally);
    }

    /// <summary>Everything the group changes, inside the open transaction.</summary>
    private void WriteGroup(List<WriteOp> group, CommitTally tally)
    {
        var (appendCount, appendBytes, _) = Survey(group);
        MoveCursors(group, tally);
        RemoveQuarantined(group, tally);
        DeleteRevoked(tally);
        DeleteConfirmed(DeleteBudget(tally, appendCount, appendBytes), tally);
        var groupDead = AppendNew(group, tally);
        StoreNewChunk(tally, groupDead);
        _store!.Chunks.WriteEdits();
        // A commit that only appends a chunk may leave the totals as they are: opening adds up the
        // chunks above the sequence they take in. One that removes anything writes them, even when
        // as much came in as went (a drop to make room), or an open would count what went.
        var removedAny = tally.Deleted > 0 || tally.Quarantined > 0 || tally.Dropped is not null;
        if (removedAny || (tally.Appended > 0 ? _store.Totals.DueAfterAppend(tally.AppendedBytes) : tally.Count != Count || tally.Bytes != Bytes))
            _store.Totals.Write(tally.Count, tally.Bytes, tally.Sequence);
    }

    /// <summary>Stores each upstream's new cursor (the highest the group holds) and queues what it passed for deletion.</summary>
    private void MoveCursors(List<WriteOp> group, CommitTally tally)
    {
        foreach (var op in group)
        {
            if (op is not AdvanceOp advance) continue;
            tally.MovedCursors ??= new(StringComparer.Ordinal);
            tally.MovedCursors[advance.Upstream] = Math.Max(advance.Through, tally.MovedCursors.GetValueOrDefault(advance.Upstream));
            foreach (var passed in advance.Passed) _toDelete.Enqueue(passed);
        }
        foreach (var (upstream, through) in tally.MovedCursors ?? []) _store!.WriteCursor(upstream, through);
    }

    /// <summary>Removes the damaged chunks readers reported; what they held is lost, and counted.</summary>
    private void RemoveQuarantined(List<WriteOp> group, CommitTally tally)
    {
        foreach (var op in group)
        {
            if (op is not QuarantineOp quarantine) continue;
            var (lost, lostBytes) = _store!.Chunks.Quarantine(quarantine.First, quarantine.Last);
            tally.Count -= lost;
            tally.Bytes -= lostBytes;
            tally.Quarantined += lost;
        }
    }

    /// <summary>Deletes the messages whose acks were refused after their commit (<see cref="_revoked"/>).</summary>
    private void DeleteRevoked(CommitTally tally)
    {
        if (_revoked is not { } revoked) return;
        foreach (var sequence in revoked)
        {
            var size = -1;
            if (!_store!.Chunks.MarkGone(sequence, ref size)) continue;
            tally.Deleted++;
            tally.Count--;
            tally.Bytes -= size;
        }
        tally.Revoked = revoked;
    }

    /// <summary>The group's new messages are not to be forwarded: their acks were refused after the commit.</summary>
    private void Revoke(List<WriteOp> group)
    {
        var revoked = new HashSet<long>(_revoked ?? new HashSet<long>());
        foreach (var op in group)
        {
            if (op is AppendOp { Refused: false, Sequence: > 0 } append) revoked.Add(append.Sequence);
        }
        _revoked = revoked;
    }

    /// <summary>
    /// How many confirmed messages this commit deletes. Deletes go before appends: near a limit, all
    /// of them, so what upstreams confirmed makes room before any DropOldest or refusal has to;
    /// otherwise a chunk of them, and none in a group of new messages (their acks come first).
    /// </summary>
    private int DeleteBudget(CommitTally tally, long appendCount, long appendBytes)
    {
        var nearLimit = tally.Count + appendCount >= _options.MaxMessages || tally.Bytes + appendBytes >= _options.MaxBytes;
        if (nearLimit) return int.MaxValue;
        return appendCount > 0 ? 0 : DeleteChunk;
    }

    /// <summary>Deletes up to <paramref name="budget"/> of the confirmed messages queued, oldest first, those every upstream has passed.</summary>
    private void DeleteConfirmed(int budget, CommitTally tally)
    {
        for (var taken = 0; taken < budget && _toDelete.TryDequeue(out var doomed); taken++)
        {
            var size = doomed.Size;
            if (!IsConfirmedEverywhere(doomed.Topic, doomed.Sequence, tally.MovedCursors) || !_store!.Chunks.MarkGone(doomed.Sequence, ref size)) continue;
            tally.Deleted++;
            tally.Count--;
            tally.Bytes -= doomed.Size;
        }
    }

    /// <summary>Gives the group's new messages their sequences, refusing those there is no room for; returns the drops among them.</summary>
    private byte[]? AppendNew(List<WriteOp> group, CommitTally tally)
    {
        _chunkItems.Clear();
        byte[]? groupDead = null;
        foreach (var op in group)
        {
            if (op is not AppendOp append) continue;
            if (!MakeRoomFor(append, tally, ref groupDead))
            {
                append.Refused = true;
                continue;
            }
            append.Sequence = ++tally.Sequence;
            _chunkItems.Add((append.Message, append.Route, append.RecordSize));
            if (append.Message.ExpiresAt is { } expiresAt) _store!.Expiry.Add(tally.Sequence, expiresAt);
            tally.Appended++;
            tally.AppendedBytes += append.Size;
            tally.Count++;
            tally.Bytes += append.Message.Payload.Length;
        }
        return groupDead;
    }

    /// <summary>
    /// Whether the store has room for the message. Full: RejectNew was checked before queueing, but
    /// appends queued together can still overflow; DropOldest makes room from the same route, never
    /// from others (a drop may take back one of this group's own, marked in <paramref name="groupDead"/>).
    /// </summary>
    private bool MakeRoomFor(AppendOp append, CommitTally tally, ref byte[]? groupDead)
    {
        var size = append.Message.Payload.Length;
        while (tally.Count + 1 > _options.MaxMessages || tally.Bytes + size > _options.MaxBytes)
        {
            if (PolicyFor(append.Route) != WhenFull.DropOldest
                || !_dropper.TryDrop(_store!.Chunks, append.Route, _chunkItems, ref groupDead, ref tally.Count, ref tally.Bytes))
                return false;
            tally.Dropped ??= [];
            tally.Dropped[append.Route] = tally.Dropped.GetValueOrDefault(append.Route) + 1;
        }
        return true;
    }

    /// <summary>The group's new messages become one chunk (unless every one of them was dropped again).</summary>
    private void StoreNewChunk(CommitTally tally, byte[]? groupDead)
    {
        if (_chunkItems.Count == 0) return;
        var first = tally.Sequence - _chunkItems.Count + 1;
        var deadCount = DeletionBitmap.CountSet(groupDead, _chunkItems.Count);
        if (deadCount < _chunkItems.Count) _store!.Chunks.Insert(first, _chunkItems, groupDead, deadCount);
        if (deadCount == 0) tally.NewChunk = (first, tally.Sequence, _chunkItems.Count, tally.AppendedBytes);
    }

    /// <summary>Committed: makes new messages durable before their acks, and notes what compaction may join.</summary>
    private void AfterCommit(CommitTally tally)
    {
        foreach (var (_, route, _) in _chunkItems) _dropper.NoteStored(route);
        // Only new messages need the fsync before their acks. A commit of cursor moves and removals
        // alone is made durable by the next commit that syncs (or the checkpoint); lost in a power
        // cut, it only means a batch is forwarded again (at-least-once). While forwarding, that
        // halves the fsyncs: every confirmed batch used to cost one.
        if (tally.Appended > 0) SyncLog();
        else NoteLogSize();
        if (tally.NewChunk is { } chunk) _compactor.NoteNewChunk(chunk.First, chunk.Last, chunk.Count, chunk.Bytes);
    }

    /// <summary>Makes a commit visible: sequence, cursors, totals, metrics, the readers' signal, then the acks and refusals.</summary>
    private void Publish(List<WriteOp> group, CommitTally tally)
    {
        _lastSequence = tally.Sequence;
        if (tally.Revoked is { } deleted && _revoked is { } revoked)
            _revoked = revoked.Except(deleted).ToHashSet() is { Count: > 0 } left ? left : null;
        if (tally.MovedCursors is not null)
        {
            lock (_cursors)
            {
                foreach (var (upstream, through) in tally.MovedCursors) _cursors[upstream] = through;
            }
            _compactor.NoteCursorsMoved();
        }
        Interlocked.Exchange(ref _count, tally.Count);
        Interlocked.Exchange(ref _bytes, tally.Bytes);
        ReleasePending(group);
        CountCommit(tally);
        Volatile.Write(ref _lastCommitted, tally.Sequence);
        Interlocked.Exchange(ref _committed, NewSignal()).TrySetResult();
        var (storedRoute, stored) = (int.MinValue, 0);
        foreach (var op in group)
        {
            if (op is not AppendOp append) continue;
            if (!append.Refused)
            {
                // Counted per run of one route, not per message: a group usually holds one device's burst.
                if (append.Route != storedRoute)
                {
                    CountStored(storedRoute, stored);
                    (storedRoute, stored) = (append.Route, 0);
                }
                stored++;
                continue;
            }
            _metrics.Increment("messages_refused_full_total", RouteName(append.Route));
            append.Failure ??= new OutboxRejectedException(OutboxRejection.QuotaExceeded,
                $"the store is full ({tally.Count} messages, {tally.Bytes} payload bytes) and route '{RouteName(append.Route)}' has nothing older to drop");
        }
        CountStored(storedRoute, stored);
        Settle(group);
    }

    /// <summary>Counts <paramref name="n"/> messages stored for <paramref name="route"/>.</summary>
    private void CountStored(int route, int n)
    {
        if (n > 0) _metrics.Increment("messages_stored_total", RouteName(route), n);
    }

    private void CountCommit(CommitTally tally)
    {
        _metrics.Increment("outbox_appended_total", "", tally.Appended);
        _metrics.Increment("outbox_deleted_total", "", tally.Deleted);
        if (tally.Quarantined > 0)
        {
            _metrics.Increment("messages_lost_corrupt_total", "", tally.Quarantined);
            _logger.ChunkRemoved(tally.Quarantined);
        }
        _metrics.Increment("outbox_group_commits_total");
        foreach (var (route, n) in tally.Dropped ?? [])
        {
            _metrics.Increment("messages_dropped_total", RouteName(route), n);
            _logger.Dropped(n, RouteName(route));
        }
    }

    /// <summary>
    /// Completes the group's appends (acks or refusals) on one thread-pool thread, in order. The waiting
    /// code (MQTTnet's PUBACK, a STOMP RECEIPT) then runs inline there, one after the other, instead of
    /// each being queued to the pool on its own: measured, those hand-offs and the wake-ups of idle pool
    /// threads cost more CPU than the store itself. Never inline on the writer, which must get back to the disk.
    /// </summary>
    private static void Settle(List<WriteOp> group)
    {
        AppendOp[]? appends = null;
        var n = 0;
        foreach (var op in group)
        {
            if (op is not AppendOp append) continue;
            appends ??= new AppendOp[group.Count];
            appends[n++] = append;
        }
        if (appends is null) return;
        // In slices, so a continuation that runs long (MQTTnet's receive loop going on inline through a
        // client's buffered QoS 0 publishes) holds up only its slice, and both cores can take part.
        for (var start = 0; start < n; start += SettleSlice)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state =>
            {
                var (ops, from, to) = state;
                for (var i = from; i < to; i++) ops[i].Complete();
            }, (appends, start, Math.Min(n, start + SettleSlice)), preferLocal: false);
        }
    }

    /// <summary>Refuses every append of a group the store could not commit.</summary>
    private void FailGroup(List<WriteOp> group, Exception ex, bool releasePending)
    {
        // A full disk is its own explanation: no stack trace for each refused commit while it lasts.
        _logger.CommitFailed(group.Count, ex.Message, StoreFiles.IsDiskFull(ex) ? null : ex);
        _metrics.Increment("outbox_commit_failures_total");
        var failure = new OutboxRejectedException(OutboxRejection.StoreFailed, $"the store could not commit: {ex.Message}", ex);
        foreach (var op in group)
        {
            if (op is AppendOp append) append.Failure = failure;
        }
        Settle(group);
        if (releasePending) ReleasePending(group);
    }
}
