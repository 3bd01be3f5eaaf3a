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
/// refused before it is queued), <c>.Writer</c> (the loop, lingering, sweeps, checkpoints),
/// <c>.GroupCommit</c> (one transaction of a group), <c>.Opening</c> (open, corruption, reopening);
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

    /// <summary>The files and the parts on them; replaced by a reopen (writer thread).</summary>
    private OpenStore? _store;

    private bool _writerStarted;

    /// <summary>The last commit failed: LiteDB's memory may disagree with its files, so the writer reopens them before the next.</summary>
    private bool _reopenNeeded;

    /// <summary>The last sequence handed out (writer), the last one committed (everybody), and the store's totals.</summary>
    private long _lastSequence, _lastCommitted, _count, _bytes;

    /// <summary>Queued appends, not yet committed: counted against the quota.</summary>
    private long _pendingCount, _pendingBytes;

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
    public (long Data, long Log) FileSizes => _store?.Files.Sizes ?? (0, 0);

    /// <summary>Bytes of log not yet checkpointed into the data file.</summary>
    public long LogBytes => _store?.Files.LogBytes ?? 0;

    /// <summary>Whether the chunks stored before opening are still to be read for small ones (tests watch it).</summary>
    internal bool Rescanning => _compactor.Rescanning;

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
        var store = _store ?? throw new ObjectDisposedException(nameof(LiteDbOutbox));
        store.Chunks.Read(afterSequence, maxCount, maxBytes, result);
        return result;
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

    /// <summary>Stops taking writes, commits what is queued, checkpoints and closes the files.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writerStarted) await _writerDone.Task.ConfigureAwait(false);
        if (_store is not { } store) return;
        _store = null;
        store.Files.CheckpointAndClose();
        _logger.Closed(DataFilePath, Count);
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
