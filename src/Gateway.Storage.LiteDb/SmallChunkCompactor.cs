using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// Decides which small chunks to join, one join per step, when the writer is idle.
/// </summary>
/// <remarks>
/// At a trickle every message is a commit and so a chunk of its own, which costs about three times
/// the file space of messages that share a chunk (measured: about 620 against 190 bytes for a
/// 128-byte payload). Runs of such small chunks that sit well behind the newest message
/// (<see cref="LiteDbOutboxOptions.CompactBehind"/>: a real backlog, the upstream down for a while,
/// not a burst about to be forwarded) are joined into one. The writer notes each chunk it commits
/// (<see cref="NoteNewChunk"/>), so finding them reads no other chunk. Chunks with removed messages
/// are left alone, and so are the newest, which a forwarder that keeps up removes anyway. Small
/// chunks written before the store was opened are found by reading the stored chunks, a step at a
/// time (the rescan). The join itself (a transaction, the totals, the fsync) is the caller's.
/// </remarks>
internal sealed class SmallChunkCompactor
{
    /// <summary>
    /// Fewest small chunks joined at once (fewer only when what follows cannot join them), so each
    /// message is rewritten once and the joined chunk is worth having.
    /// </summary>
    public const int MinRun = 64;

    /// <summary>
    /// Fewest small chunks joined when a bigger chunk follows them. Under load most commits are big and
    /// the small ones come one or two between them: joining those saved a few hundred bytes for a
    /// transaction and an fsync each (measured: an eighth of the writer's time at 100 publishing
    /// connections), so they are left as they are.
    /// </summary>
    public const int MinBlockedRun = 8;

    /// <summary>A chunk of fewer messages is small; a joined one holds at most so many messages and bytes.</summary>
    private const int SmallChunk = 16, MaxJoinedMessages = 1000, MaxJoinedBytes = 256 << 10;

    /// <summary>Most small chunks remembered; older ones are forgotten (never joined) past it.</summary>
    private const int SmallChunksNoted = 65_536;

    /// <summary>
    /// What one rescan step reads at most (besides a run it is following) before the writer looks at
    /// its queue again: 64 chunks or 1 MiB of them, whichever comes first, and no more once work is
    /// waiting. A chunk of a backlog taken in under load holds about 50 messages, a few kilobytes
    /// each, and is read whole.
    /// </summary>
    private const int RescanStepChunks = 64, RescanStepBytes = 1 << 20;

    private readonly long _behind;
    private readonly Func<long, bool> _passedByEveryUpstream;
    private readonly Func<bool> _workWaiting;
    private readonly Func<IReadOnlyList<StoredChunk>, bool> _join;
    private readonly ILogger _logger;

    /// <summary>Small chunks committed since the store was opened, oldest first.</summary>
    private readonly Queue<(long First, long Last, int Count, int Bytes)> _smallChunks = new();

    /// <summary>Set by each commit of new messages, cleared when there is nothing more to join for now.</summary>
    private bool _pending;

    /// <summary>True while the chunks stored before the store was opened have not all been read for small ones.</summary>
    private bool _rescanning;

    /// <summary>The rescan goes on with the chunks above this one (by last sequence), and ends at the last sequence committed before opening.</summary>
    private long _rescanAfter, _rescanThrough;

    /// <summary>What the rescan has read and joined, and the writer's time it took (Stopwatch ticks), for its closing log line.</summary>
    private long _rescanRead, _rescanJoined, _rescanTicks;

    /// <param name="behind">How far behind the newest sequence a chunk must be to be joined.</param>
    /// <param name="passedByEveryUpstream">Whether every upstream is past a sequence (such chunks are leaving anyway).</param>
    /// <param name="workWaiting">Whether the writer has work queued (a rescan step then stops reading).</param>
    /// <param name="join">Joins a run in a transaction of its own; false (and logged) when that failed and the chunks stay as they were.</param>
    /// <param name="logger">For the rescan's closing line.</param>
    public SmallChunkCompactor(long behind, Func<long, bool> passedByEveryUpstream, Func<bool> workWaiting,
        Func<IReadOnlyList<StoredChunk>, bool> join, ILogger logger)
    {
        _behind = behind;
        _passedByEveryUpstream = passedByEveryUpstream;
        _workWaiting = workWaiting;
        _join = join;
        _logger = logger;
    }

    /// <summary>Whether a step may find something to join now.</summary>
    public bool Pending => Volatile.Read(ref _pending);

    /// <summary>Whether the chunks stored before opening are still to be read for small ones.</summary>
    public bool Rescanning => Volatile.Read(ref _rescanning);

    /// <summary>At open: the small chunks already stored are looked for once the writer is idle.</summary>
    public void StartRescan(long lastStored)
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
    public void ResumeRescan(long lastStored)
    {
        _rescanThrough = Math.Max(_rescanThrough, lastStored);
        _rescanning = _rescanThrough > _rescanAfter;
        _pending |= _rescanning;
    }

    /// <summary>When the files are (re)opened: what was noted may no longer be so.</summary>
    public void ForgetNoted()
    {
        _smallChunks.Clear();
        _pending = false;
    }

    /// <summary>A commit stored a chunk of new messages, none of them dropped.</summary>
    public void NoteNewChunk(long first, long last, int count, int bytes)
    {
        _pending = true;
        if (count >= SmallChunk) return;
        if (_smallChunks.Count >= SmallChunksNoted) _smallChunks.Dequeue();
        _smallChunks.Enqueue((first, last, count, bytes));
    }

    /// <summary>
    /// Upstreams moved their cursors. A rescan waiting for newer messages has nothing left to wait for
    /// once every upstream has passed its chunks (a drain after a restart, with nothing new coming):
    /// its next step ends it.
    /// </summary>
    public void NoteCursorsMoved()
    {
        if (_rescanning && _passedByEveryUpstream(_rescanThrough)) _pending = true;
    }

    /// <summary>A compaction step that never throws: whatever fails, the chunks stay as they are. True when there may be more to do now.</summary>
    public bool TryStep(ChunkStore chunks, long lastCommitted)
    {
        try
        {
            return (_rescanning && RescanStep(chunks, lastCommitted)) || JoinNoted(chunks, lastCommitted);
        }
        catch (Exception ex)
        {
            _pending = false;
            _logger.CompactionFailed(0, 0, ex.Message);
            return false;
        }
    }

    /// <summary>Joins the oldest run of the small chunks noted since opening, if one is ready.</summary>
    private bool JoinNoted(ChunkStore chunks, long lastCommitted)
    {
        while (_smallChunks.TryPeek(out var front) && _passedByEveryUpstream(front.Last)) _smallChunks.Dequeue();
        var (take, blocked) = ReadyRun(lastCommitted - _behind);
        if (take == 0 || (take < MinRun && !blocked))
        {
            _pending = false; // wait for more to fall behind the newest
            return false;
        }
        if (take < MinBlockedRun)
        {
            for (var i = 0; i < take; i++) _smallChunks.Dequeue(); // too few to be worth a commit: left alone
            return true;
        }
        // One join per step, so the writer looks at its queue between two (each ends with an fsync).
        var run = TakeStillJoinable(chunks, take);
        if (run.Count >= 2) Join(run);
        return true;
    }

    /// <summary>
    /// The run from the front of the noted chunks: consecutive sequences, within the limits, none
    /// above <paramref name="limit"/>; blocked when the entry after it exists but cannot join it.
    /// </summary>
    private (int Take, bool Blocked) ReadyRun(long limit)
    {
        int take = 0, messages = 0, bytes = 0;
        long end = 0;
        foreach (var (first, last, count, size) in _smallChunks)
        {
            if (last > limit) return (take, false);
            if (take > 0 && !JoinsRun(end, messages, bytes, first, count, size)) return (take, true);
            take++;
            messages += count;
            bytes += size;
            end = last;
        }
        return (take, false);
    }

    /// <summary>Dequeues <paramref name="take"/> noted chunks; one that went meanwhile (forwarded, or emptied by removals) or has removals ends what joins.</summary>
    private List<StoredChunk> TakeStillJoinable(ChunkStore chunks, int take)
    {
        var run = new List<StoredChunk>(take);
        for (var i = 0; i < take; i++)
        {
            var (_, last, _, _) = _smallChunks.Dequeue();
            if (chunks.Find(last) is { } chunk && !chunks.HasRemovals(last))
            {
                run.Add(chunk);
                continue;
            }
            if (run.Count >= 2) break;
            run.Clear();
        }
        return run;
    }

    private bool Join(IReadOnlyList<StoredChunk> run)
    {
        if (_join(run)) return true;
        _pending = false; // tried again after the next commit of new messages
        return false;
    }

    /// <summary>
    /// Whether a small chunk (<paramref name="first"/>, <paramref name="count"/> messages,
    /// <paramref name="size"/> bytes) can join a run that ends at <paramref name="end"/> and holds
    /// <paramref name="messages"/> and <paramref name="bytes"/> so far: consecutive, within the limits.
    /// </summary>
    private static bool JoinsRun(long end, int messages, int bytes, long first, int count, int size) =>
        first == end + 1 && messages + count <= MaxJoinedMessages && bytes + size <= MaxJoinedBytes;

    /// <summary>
    /// One step of the rescan: reads the chunks stored before opening, oldest first, up to the first
    /// run of small chunks that can be joined (consecutive, none removed, not yet passed by every
    /// upstream, well behind the newest), and joins it. True when it did something and there may be
    /// more; false when it has to wait (for more to fall behind the newest) or is done.
    /// </summary>
    private bool RescanStep(ChunkStore chunks, long lastCommitted)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (_passedByEveryUpstream(_rescanThrough))
            {
                _rescanning = false; // all forwarded (or going): nothing of it is worth joining now
                return false;
            }
            var limit = Math.Min(_rescanThrough, lastCommitted - _behind);
            return ConcludeStep(ReadStep(chunks, limit), limit);
        }
        catch
        {
            _rescanning = false; // opportunistic: a store it cannot read this way is left as it is (the failure is logged)
            throw;
        }
        finally
        {
            _rescanTicks += Stopwatch.GetTimestamp() - started;
            if (!_rescanning && _rescanRead > 0) _logger.Rescanned(_rescanRead, _rescanThrough, _rescanJoined, Stopwatch.GetElapsedTime(0, _rescanTicks).TotalMilliseconds);
        }
    }

    /// <summary>What ended a rescan step's reading.</summary>
    private enum StepEnd
    {
        /// <summary>The last chunk stored was read.</summary>
        EndOfChunks,

        /// <summary>The next chunk is not yet far enough behind the newest.</summary>
        AtLimit,

        /// <summary>The step read its share; the next goes on from <see cref="StepRead.ResumeAfter"/>.</summary>
        StepSpent,

        /// <summary>A chunk that cannot join ended a run long enough to join.</summary>
        RunComplete,
    }

    /// <param name="End">What ended the reading.</param>
    /// <param name="Run">The run of small chunks found (maybe empty).</param>
    /// <param name="ResumeAfter">Where the next step starts: after the last chunk no run needs again.</param>
    private readonly record struct StepRead(StepEnd End, SmallRun Run, long ResumeAfter);

    private StepRead ReadStep(ChunkStore chunks, long limit)
    {
        var run = new SmallRun();
        var read = 0;
        long readBytes = 0, resumeAfter = _rescanAfter;
        foreach (var chunk in chunks.ChunksAbove(_rescanAfter))
        {
            if (chunk.Last > limit) return new StepRead(StepEnd.AtLimit, run, resumeAfter);
            if (read > 0 && run.Count == 0 && (read >= RescanStepChunks || readBytes >= RescanStepBytes || _workWaiting()))
                return new StepRead(StepEnd.StepSpent, run, resumeAfter); // the next step reads this chunk again
            read++;
            _rescanRead++;
            readBytes += chunk.Blob?.Length ?? 0;
            var small = chunk.Count < SmallChunk && chunk.Size <= MaxJoinedBytes && !chunks.HasRemovals(chunk.Last) && !_passedByEveryUpstream(chunk.Last);
            if (small && run.Count > 0 && run.TryAdd(chunk)) continue;
            if (run.Count >= MinBlockedRun)
            {
                _rescanRead--; // this chunk ends the run, joined next; the next step reads it again
                return new StepRead(StepEnd.RunComplete, run, resumeAfter);
            }
            run.Clear();
            resumeAfter = small ? chunk.First - 1 : chunk.Last; // a small one may start a run: read again from it
            if (small) run.TryAdd(chunk);
        }
        return new StepRead(StepEnd.EndOfChunks, run, resumeAfter);
    }

    private bool ConcludeStep(StepRead step, long limit)
    {
        var run = step.Run;
        if (step.End == StepEnd.AtLimit && _rescanThrough > limit && run.Count < MinRun)
        {
            // The chunks after these are not yet far enough behind the newest, and the run may go on
            // into them: as with the chunks noted since opening, it waits for more commits.
            _rescanAfter = step.ResumeAfter;
            _rescanRead -= run.Count; // read again then
            return false;
        }
        if (run.Count >= MinBlockedRun)
        {
            _rescanAfter = run.Chunks[^1].Last; // joined or not (a failed join is not tried again)
            if (Join(run.Chunks)) _rescanJoined += run.Count;
            return true;
        }
        if (step.End == StepEnd.StepSpent)
        {
            _rescanAfter = step.ResumeAfter;
            return true;
        }
        _rescanning = false; // every chunk stored before opening has been read
        return false;
    }

    /// <summary>Consecutive small chunks that can be joined into one, within the limits of a joined chunk.</summary>
    private sealed class SmallRun
    {
        private int _messages, _bytes;

        public List<StoredChunk> Chunks { get; } = [];

        public int Count => Chunks.Count;

        /// <summary>Adds the chunk if it is the first or follows on within the limits.</summary>
        public bool TryAdd(StoredChunk chunk)
        {
            if (Chunks.Count > 0 && !JoinsRun(Chunks[^1].Last, _messages, _bytes, chunk.First, chunk.Count, chunk.Size)) return false;
            Chunks.Add(chunk);
            _messages += chunk.Count;
            _bytes += chunk.Size;
            return true;
        }

        public void Clear()
        {
            Chunks.Clear();
            _messages = _bytes = 0;
        }
    }
}
