using System.Threading.Channels;
using Gateway.Core.Diagnostics;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Microsoft.Extensions.Logging;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// The outbox on LiteDB. One writer loop owns every write: it drains a bounded queue of appends and
/// cursor moves, commits them in one transaction (group commit), fsyncs, and only then completes the
/// appends, so an ack never leaves for a message that is not on disk.
/// </summary>
/// <remarks>
/// <para>
/// A group is whatever is queued when the writer comes round (no fixed linger for anything somebody
/// waits for): a lone message with an ack waiting is committed at once, and under load the groups
/// grow by themselves, so one fsync covers many acks. Messages nobody waits for (QoS 0) may linger
/// to share a commit (<see cref="LiteDbOutboxOptions.UnacknowledgedLinger"/>).
/// Readers (the forwarders) read committed data concurrently; LiteDB isolates them from the writer's
/// open transaction.
/// </para>
/// <para>
/// The parts: this file (the contract and the state the others share), <c>.Ingest</c> (what is
/// refused before it is queued), <c>.Writer</c> (the loop, lingering, sweeps, joins),
/// <c>.GroupCommit</c> (one transaction of a group, <see cref="CommitTally"/>), <c>.Opening</c> (open,
/// corruption, reopening), <c>.Failures</c> (checkpoints, a full disk, a failed write, a writer fault);
/// beside them <see cref="ChunkStore"/> (messages as chunks), <see cref="SmallChunkCompactor"/>,
/// <see cref="StoreTotals"/>, <see cref="ExpiryIndex"/>, <see cref="OldestMessageDropper"/>,
/// <see cref="DiskSpaceGuard"/> and <see cref="StoreFiles"/>.
/// </para>
/// </remarks>
public sealed partial class LiteDbOutbox : IOutbox, IAsyncDisposable
{
    /// <summary>Most bytes (as <see cref="WriteOp.Size"/> counts them) in one chunk of more than one message: LiteDB's document limit is 16 MiB.</summary>
    private const int MaxChunkBytes = 14 << 20;

    private readonly LiteDbOutboxOptions _options;
    private readonly RouteTable _routes;
    private readonly IDiskSync _sync;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<LiteDbOutbox> _logger;
    private readonly Channel<WriteOp> _queue;
    private readonly DiskSpaceGuard _disk;
    private readonly SmallChunkCompactor _compactor;
    private readonly OldestMessageDropper _dropper;

    /// <summary>Every upstream's cursor as last committed; the lock guards it (readers and the writer).</summary>
    private readonly Dictionary<string, long> _cursors = new(StringComparer.Ordinal);

    /// <summary>Chunks a reader found damaged and handed to the writer to remove (each reported once).</summary>
    private readonly HashSet<long> _corruptChunks = [];

    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed with the fault if the writer stops on one it does not expect (<see cref="Faulted"/>).</summary>
    private readonly TaskCompletionSource<Exception> _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Readers hold it shared while they read; the writer holds it alone while it closes and opens the files.</summary>
    private readonly ReaderWriterLockSlim _storeSwap = new(LockRecursionPolicy.SupportsRecursion); // a reopen opens inside its swap

    /// <summary>
    /// Messages committed whose fsync then failed: their acks were refused, so they are never read
    /// (forwarded) and the next commit deletes them. Replaced whole by the writer, read by readers.
    /// </summary>
    private volatile IReadOnlySet<long>? _revoked;

    /// <summary>The files and the parts on them; replaced by a reopen (writer thread), null while there are none.</summary>
    private OpenStore? _store;

    private bool _writerStarted;

    /// <summary>Opened by <see cref="OpenToRead"/>: no writer, nothing written, not even at close.</summary>
    private bool _readOnly;

    /// <summary>A write failed: LiteDB's memory may disagree with its files, so the writer reopens them before the next.</summary>
    private bool _reopenNeeded;

    /// <summary>
    /// The disk has no room for what the store must write next (its checkpoint, its log): new messages
    /// are refused before they are queued, so none is stored and refused; what is stored is still
    /// read, forwarded and deleted. Cleared by the first checkpoint that succeeds.
    /// </summary>
    private volatile bool _diskFull;

    /// <summary>Why <see cref="_diskFull"/> is set, for the refusals.</summary>
    private volatile string _diskFullCause = "";

    /// <summary>When the writer next tries to reopen the files or checkpoint after a failure (<see cref="Environment.TickCount64"/>).</summary>
    private long _retryAt;

    /// <summary>Free bytes just after the last checkpoint that failed for lack of room, and when the next is tried anyway.</summary>
    private long _freeWhenFull, _fullRetryAt;

    /// <summary>The last sequence handed out (writer), the last one committed (everybody), and the store's totals.</summary>
    private long _lastSequence, _lastCommitted, _count, _bytes;

    /// <summary>Queued appends, not yet committed: counted against the quota.</summary>
    private long _pendingCount, _pendingBytes;

    /// <summary>When the writer took up its current work (<see cref="Environment.TickCount64"/>); 0 while it waits for work.</summary>
    private long _workingSince;

    /// <summary>Completed, and replaced, by every commit: what <see cref="WaitForMessagesAfterAsync"/> waits on.</summary>
    private TaskCompletionSource _committed = NewSignal();

    public LiteDbOutbox(LiteDbOutboxOptions options, RouteTable routes, GatewayMetrics metrics, ILogger<LiteDbOutbox> logger, IDiskSync? sync = null)
    {
        _options = options;
        _routes = routes;
        _metrics = metrics;
        _logger = logger;
        _sync = sync ?? FsyncDiskSync.Instance;
        _queue = Channel.CreateBounded<WriteOp>(new BoundedChannelOptions(options.PendingCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _disk = new DiskSpaceGuard(options.MinFreeDiskBytes, () => options.FreeSpace(options.DataPath), metrics);
        _compactor = new SmallChunkCompactor(options.CompactBehind, PassedByEveryUpstream, () => _queue.Reader.Count > 0, JoinChunks, logger);
        _dropper = new OldestMessageDropper(options.MaxGroupMessages);
    }

    public string DataFilePath => Path.Combine(_options.DataPath, "outbox.db");

    /// <summary>LiteDB's log, in the preallocated layout (<see cref="PreallocatedLogStream"/>).</summary>
    public string LogFilePath => Path.Combine(_options.DataPath, "outbox-wal.db");

    public long LastCommittedSequence => Volatile.Read(ref _lastCommitted);

    public long Count => Interlocked.Read(ref _count);

    /// <summary>Payload bytes stored.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Bytes of the data and log files, for metrics and the soak test. The log's file keeps its preallocated size; <see cref="LogBytes"/> is what it holds.</summary>
    public (long Data, long Log) FileSizes => WithStore(store => store.Files.Sizes, (0L, 0L));

    /// <summary>Bytes of log not yet checkpointed into the data file.</summary>
    public long LogBytes => WithStore(store => store.Files.LogBytes, 0L);

    /// <summary>
    /// Completes, with the fault, if the writer stops on one it does not expect (a bug, not a full or
    /// failing disk, which it refuses and outlives). Every waiting and later append is refused then;
    /// the host should stop with a non-zero exit so that it is restarted.
    /// </summary>
    public Task<Exception> Faulted => _faulted.Task;

    /// <summary>
    /// How long the writer has been at its current piece of work (a commit, an fsync, a deletion, a
    /// checkpoint); null while it waits for work. A figure growing past any fsync's time is a writer
    /// stuck in the disk or in LiteDB, which the watchdog turns into a restart.
    /// </summary>
    public TimeSpan? WriterBusyFor => Volatile.Read(ref _workingSince) is var since and not 0
        ? TimeSpan.FromMilliseconds(Environment.TickCount64 - since)
        : null;

    /// <summary>Whether new messages are refused for lack of room on the disk: below the watermark, or no room for the store's next write.</summary>
    public bool DiskFull => _diskFull || _disk.Refusing;

    /// <summary>Below the free-space watermark (<see cref="LiteDbOutboxOptions.MinFreeDiskBytes"/>): new messages refused before the disk fills.</summary>
    public bool DiskGuardActive => _disk.Refusing;

    /// <summary>A write found no room on the disk; new messages are refused until one succeeds.</summary>
    public string? DiskFullCause => _diskFull ? _diskFullCause : null;

    /// <summary>At its quota with the store's policy <see cref="WhenFull.RejectNew"/>: the next message is refused.</summary>
    public bool AtQuota => _options.WhenFull == WhenFull.RejectNew && WouldOverflow(1);

    /// <summary>Free bytes on the data folder's file system at the last reading; null before the first.</summary>
    public long? DiskFreeBytes => _disk.FreeBytes;

    /// <summary>The store's files are open (not being reopened after a failed commit, not closed).</summary>
    public bool IsOpen => WithStore(static _ => true, false);

    /// <summary>Whether the chunks stored before opening are still to be read for small ones (tests watch it).</summary>
    internal bool Rescanning => _compactor.Rescanning;

    /// <summary>Writes queued for the writer and not taken yet (tests watch it).</summary>
    internal int QueuedWrites => _queue.Reader.Count;

    /// <summary>Whether the writer has no compaction step to try until something changes (tests watch it).</summary>
    internal bool CompactionIdle => !_compactor.Pending;

    public async Task WaitForMessagesAfterAsync(long sequence, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Take the signal before checking, so a commit between the check and the wait is not missed.
            var signal = Volatile.Read(ref _committed);
            if (LastCommittedSequence > sequence) return;
            await signal.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public long GetCursor(string upstream)
    {
        lock (_cursors) return _cursors.GetValueOrDefault(upstream);
    }

    public IReadOnlyList<StoredMessage> ReadAfter(long afterSequence, int maxCount, int maxBytes)
    {
        var result = new List<StoredMessage>(Math.Min(maxCount, 1024));
        // Only up to the last commit known to be on disk, so nothing is forwarded whose ack may yet be
        // refused; and nothing while the files are being reopened (or cannot be): the forwarder then
        // waits for the next commit as when it is drained.
        WithStore(store =>
        {
            store.Chunks.Read(afterSequence, LastCommittedSequence, maxCount, maxBytes, result, _revoked);
            return 0;
        }, 0);
        return result;
    }

    /// <summary>Runs a read on the open store, never while the writer swaps it; <paramref name="closed"/> when there is none.</summary>
    private T WithStore<T>(Func<OpenStore, T> read, T closed)
    {
        _storeSwap.EnterReadLock();
        try
        {
            return _store is { } store ? read(store) : closed;
        }
        catch (ObjectDisposedException)
        {
            return closed; // the writer failed and closed the files; /healthz says so, a scrape must not fail
        }
        finally
        {
            _storeSwap.ExitReadLock();
        }
    }

    /// <summary>Replaces the store (writer thread, or closing): waits for the readers, never runs beside them.</summary>
    private void SwapStore(Func<OpenStore?> swap)
    {
        _storeSwap.EnterWriteLock();
        try
        {
            _store = swap();
        }
        finally
        {
            _storeSwap.ExitWriteLock();
        }
    }

    public async ValueTask AdvanceCursorAsync(string upstream, long throughSequence, IReadOnlyList<StoredMessage> passed, CancellationToken cancellationToken = default)
    {
        var op = new AdvanceOp(upstream, throughSequence, passed.Select(p => (p.Sequence, p.Message.Topic, p.Message.Payload.Length)).ToArray());
        try
        {
            await _queue.Writer.WriteAsync(op, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // Closing: the cursor stays where it was and the batch is sent again after restart (at-least-once).
        }
    }

    /// <summary>Stops taking writes, commits what is queued, checkpoints and closes the files. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writerStarted) await _writerDone.Task.ConfigureAwait(false); // completes whatever happened to the writer
        OpenStore? store = null;
        SwapStore(() =>
        {
            store = _store;
            return null;
        });
        if (store is null) return;
        // After a fault the writer may have left a transaction open, which a checkpoint would wait for.
        if (!_faulted.Task.IsCompleted && !_reopenNeeded && !_readOnly) TryCheckpointAtClose(store);
        store.Files.Dispose();
        _logger.Closed(DataFilePath, Count);
    }

    private void TryCheckpointAtClose(OpenStore store)
    {
        try
        {
            store.Files.Checkpoint();
        }
        catch (Exception ex) when (StoreFiles.IsStoreFailure(ex))
        {
            // Nothing is lost: the log is read back at the next start.
            _logger.CheckpointFailed(ex.Message);
        }
    }

    /// <summary>Whether every configured upstream's cursor is at or past a sequence (the message is leaving anyway).</summary>
    private bool PassedByEveryUpstream(long sequence)
    {
        if (!_routes.HasUpstreams) return false;
        foreach (var upstream in _routes.Upstreams)
        {
            if (GetCursor(upstream) < sequence) return false;
        }
        return true;
    }

    /// <summary>Whether every upstream the topic routes to has its cursor at or past the message.</summary>
    private bool IsConfirmedEverywhere(string topic, long sequence, IReadOnlyDictionary<string, long>? moved)
    {
        foreach (var upstream in _routes.UpstreamsFor(topic))
        {
            var cursor = moved is not null && moved.TryGetValue(upstream, out var m) ? m : GetCursor(upstream);
            if (cursor < sequence) return false;
        }
        return true;
    }

    private void ReportCorruptChunk(long first, long last, string cause)
    {
        lock (_corruptChunks)
        {
            if (!_corruptChunks.Add(last)) return;
        }
        _metrics.Increment("outbox_corrupt_chunks_total");
        _logger.CorruptChunk(first, last, cause);
        if (!_queue.Writer.TryWrite(new QuarantineOp(first, last)))
        {
            lock (_corruptChunks) _corruptChunks.Remove(last); // queue full or closing: the next read reports it again
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
