using System.Diagnostics;
using System.Threading.Channels;
using Gateway.Core.Outbox;

namespace Gateway.Storage.LiteDb;

// What the writer does when the disk fails it: every write path (group commit, sweeps, deletes, joins,
// checkpoints, the totals inside them) refuses and goes on; a write that failed has the files
// reopened before the next; no room on the disk refuses new messages before they are queued until a
// checkpoint succeeds again. A fault it does not expect stops the writer, loudly.
public sealed partial class LiteDbOutbox
{
    /// <summary>Past this the log is checkpointed at once, drained or not (LiteDB's own threshold, 1,000 pages, which the outbox turns off).</summary>
    private const long CheckpointLogBytes = 8L << 20;

    /// <summary>How long the store must stay drained and quiet before a smaller log is checkpointed.</summary>
    private static readonly TimeSpan QuietBeforeCheckpoint = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// After a failure, how often the writer tries again to reopen the files or checkpoint: often enough
    /// that a gateway accepts within about a second of room returning, seldom enough that a disk that
    /// stays full costs nothing (the free space is asked first, and nothing is logged while it is short).
    /// </summary>
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>While the disk stays full, how often a checkpoint is tried all the same (see <see cref="RoomMayHaveReturned"/>).</summary>
    private static readonly TimeSpan FullRetryInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Free space a store that met a full disk needs before it takes messages again: a second or two
    /// of a busy site's messages, counted twice (log and data file), as the watermark's margin
    /// (<see cref="DiskSpaceGuard.ResumeMargin"/>) does, so acceptance does not flap on a disk with no watermark.
    /// </summary>
    private const long DiskFullResumeBytes = 4L << 20;

    /// <summary>Room a checkpoint needs beyond the log it copies (LiteDB's header and a little more), counted when deciding whether to try.</summary>
    private const long CheckpointRoom = 1L << 20;

    /// <summary>A write outside a successful commit failed: rolled back, the files reopened before the next write.</summary>
    private void WriteFailed(string what, Exception ex, bool inTransaction)
    {
        if (inTransaction) TryRollback();
        _reopenNeeded = true;
        _retryAt = DeadlineAfter(RetryInterval);
        if (StoreFiles.IsDiskFull(ex)) EnterDiskFull(what, ex.Message, log: true);
    }

    /// <summary>No room for what the store must write next: new messages are refused before they are queued (<see cref="_diskFull"/>).</summary>
    private void EnterDiskFull(string what, string cause, bool log)
    {
        _diskFullCause = $"no room on the disk for {what} ({cause})";
        _freeWhenFull = FreeSpaceOrNull() ?? 0;
        _fullRetryAt = DeadlineAfter(FullRetryInterval);
        if (_diskFull) return;
        _diskFull = true;
        _metrics.Increment("outbox_disk_full_total");
        if (log) _logger.DiskFull(what, cause);
    }

    /// <summary>The wake-up for the next sweep, or sooner for a retry after a failure.</summary>
    private long NextWake(long nextSweep) => _reopenNeeded || _diskFull ? Math.Min(nextSweep, _retryAt) : nextSweep;

    /// <summary>
    /// After a failure, once a <see cref="RetryInterval"/>: the files are reopened if a write failed,
    /// and, once the disk may have room again, the log checkpointed, which takes new messages again.
    /// </summary>
    private void RetryWhenDue()
    {
        if ((!_reopenNeeded && !_diskFull) || Environment.TickCount64 < _retryAt) return;
        _retryAt = DeadlineAfter(RetryInterval);
        if (_diskFull && !RoomMayHaveReturned()) return;
        if (_reopenNeeded && !TryReopen()) return;
        if (_diskFull) Checkpoint();
    }

    /// <summary>
    /// Whether a checkpoint that failed for lack of room is worth trying again: the free space grew
    /// since (room made, the file system grown), or half a minute passed (room made and taken again
    /// would not show). A disk that stays full then costs a statfs a second, and writes nothing.
    /// </summary>
    private bool RoomMayHaveReturned() =>
        FreeSpaceOrNull() is not { } free || free >= _freeWhenFull + CheckpointRoom || Environment.TickCount64 >= _fullRetryAt;

    /// <summary>
    /// Checkpoints the log into the data file: at once when it is large, or once the store is empty
    /// and nothing new has come for a moment (then the data file's freed pages are reused and the
    /// files stay flat). Never between two messages of a steady stream the forwarder keeps draining:
    /// that put a checkpoint, and a data-file fsync, behind nearly every ack.
    /// </summary>
    private void CheckpointWhenDue(ChannelReader<WriteOp> reader)
    {
        if (_reopenNeeded || _diskFull || _store is null) return; // a retry checkpoints once there is room
        var log = LogBytesNow;
        if (log == 0) return;
        if (log < CheckpointLogBytes)
        {
            if (Interlocked.Read(ref _count) != 0 || reader.Count != 0) return;
            // New work ends the wait at once.
            if (WaitForWork(reader, DeadlineAfter(QuietBeforeCheckpoint)) && reader.Count != 0) return;
            if (Interlocked.Read(ref _count) != 0) return;
        }
        Checkpoint();
    }

    /// <param name="quiet">At open: the full disk is reported in the opening's own line.</param>
    private void Checkpoint(bool quiet = false)
    {
        try
        {
            var started = Stopwatch.GetTimestamp();
            _store!.Files.Checkpoint();
            _metrics.Observe("outbox_checkpoint_seconds", Stopwatch.GetElapsedTime(started));
            _metrics.Increment("outbox_checkpoints_total");
            NoteLogSize();
        }
        catch (Exception ex) when (StoreFiles.IsDiskFull(ex))
        {
            _metrics.Increment("outbox_commit_failures_total"); // a checkpoint commits the log to the data file
            // The log is kept whole (what it holds is read from it) and checkpointed once there is
            // room; the data file was cut back, which LiteDB has to read afresh.
            _reopenNeeded = true;
            _retryAt = DeadlineAfter(RetryInterval);
            EnterDiskFull("the log's checkpoint", ex.Message, log: !quiet);
            return;
        }
        catch (Exception ex) when (StoreFiles.IsStoreFailure(ex))
        {
            _metrics.Increment("outbox_commit_failures_total");
            // The log stays as it is and is checkpointed next time; nothing is lost.
            _logger.CheckpointFailed(ex.Message);
            return;
        }
        if (!_diskFull) return;
        // Room for a checkpoint is not yet room for messages: taking them again with a few pages free
        // had the next commit meet ENOSPC again, every second, each a refused ack and an error line.
        if (FreeSpaceOrNull() is { } free && free < DiskFullResumeBytes)
        {
            _freeWhenFull = free;
            _fullRetryAt = DeadlineAfter(FullRetryInterval);
            return;
        }
        _diskFull = false;
        _logger.RoomAgain((FreeSpaceOrNull() ?? 0) >> 20);
    }

    /// <summary>The log's size, read on the writer thread (which alone swaps the store).</summary>
    private long LogBytesNow => _store?.Files.LogBytes ?? 0;

    /// <summary>Free bytes on the data folder's file system; null when that cannot be told.</summary>
    private long? FreeSpaceOrNull()
    {
        try
        {
            return _options.FreeSpace(_options.DataPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// The writer met a fault it does not expect (a bug, not the disk): it stops, says so loudly, and
    /// refuses everything waiting or still to come, so nothing hangs; <see cref="Faulted"/> tells the host.
    /// </summary>
    private void WriterFailed(Exception ex, List<WriteOp> group)
    {
        _logger.WriterFailed(ex.Message, ex);
        _metrics.Increment("outbox_writer_failures_total");
        var failure = new OutboxRejectedException(OutboxRejection.Unavailable, $"the store's writer stopped: {ex.Message}", ex);
        _faulted.TrySetResult(ex);
        _queue.Writer.TryComplete(); // appends waiting for room in the queue, and later ones, are refused at once
        var refused = new List<WriteOp>(group);
        while (_queue.Reader.TryRead(out var op)) refused.Add(op);
        foreach (var op in refused)
        {
            if (op is AppendOp append) append.Failure ??= failure;
        }
        FailPurges(refused, failure);
        Settle(refused);
    }
}
