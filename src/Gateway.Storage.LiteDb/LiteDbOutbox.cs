using System.Diagnostics;
using System.Threading.Channels;
using Gateway.Core.Diagnostics;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Route = Gateway.Core.Routing.Route;
using LiteDB;
using Microsoft.Extensions.Logging;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// The outbox on LiteDB. One writer loop owns every write: it drains a bounded queue of appends and
/// cursor moves, commits them in one transaction (group commit), fsyncs, and only then completes the
/// appends, so an ack never leaves for a message that is not on disk.
/// </summary>
/// <remarks>
/// A group is whatever is queued when the writer comes round (no fixed linger for anything somebody
/// waits for): a lone message with an ack waiting is committed at once, and under load the groups
/// grow by themselves, so one fsync covers many acks. Messages nobody waits for (QoS 0) may linger
/// to share a commit (<see cref="LiteDbOutboxOptions.UnacknowledgedLinger"/>).
/// Readers (the forwarders) read committed data concurrently; LiteDB isolates them from the writer's
/// open transaction.
/// </remarks>
public sealed partial class LiteDbOutbox : IOutbox, IAsyncDisposable
{
    private const string MetaCollection = "meta", CursorsCollection = "cursors", ExpiringCollection = "expiring";

    /// <summary>In <see cref="ExpiringCollection"/>: when the message with that <c>_id</c> expires (ms since the epoch), indexed.</summary>
    private const string ExpiringAtField = "e";
    private const string SequenceKey = "sequence", BytesKey = "bytes", CountKey = "count";

    /// <summary>
    /// In the count's meta document: the sequence the stored count and bytes take in. Chunks above it
    /// were appended by commits that left the totals alone; opening adds them up (<see cref="WriteTotals"/>).
    /// A version that does not know it rewrites the document without it, and its totals are whole again.
    /// </summary>
    private const string CountedThroughField = "through";

    private int _appendCommitsSinceTotals;
    private long _appendedBytesSinceTotals, _totalsDueAt;

    private readonly LiteDbOutboxOptions _options;
    private readonly RouteTable _routes;
    private readonly IDiskSync _sync;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<LiteDbOutbox> _logger;
    private readonly Channel<WriteOp> _queue;
    private readonly Dictionary<string, long> _cursors = new(StringComparer.Ordinal);

    private DurableFileStream? _dataFile;
    private PreallocatedLogStream? _logFile;
    private LiteDatabase? _db;
    private ILiteCollection<BsonDocument> _meta = null!, _cursorDocs = null!, _expiring = null!;

    /// <summary>About how many entries <see cref="_expiring"/> holds; when 0, deletes skip it. Recounted whenever the store is (re)opened.</summary>
    private long _expiringCount;
    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _writerStarted, _reopenNeeded;

    private long _lastSequence, _lastCommitted, _count, _bytes;
    private long _pendingCount, _pendingBytes; // queued appends, not yet committed: counted against the quota
    private long _logBytes;
    private long _bytesSinceFreeCheck; // payload bytes taken in since the disk was last asked
    private long _freeBytes = long.MaxValue, _freeCheckedAt = -1_000_000; // far enough back that the first append asks the disk
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
    }

    public string DataFilePath => Path.Combine(_options.DataPath, "outbox.db");

    /// <summary>LiteDB's log, in the preallocated layout (<see cref="PreallocatedLogStream"/>).</summary>
    public string LogFilePath => Path.Combine(_options.DataPath, "outbox-wal.db");

    /// <summary>LiteDB's log as releases before 2026-11-25 kept it (plain pages); converted at the first start.</summary>
    public string EarlierLogFilePath => Path.Combine(_options.DataPath, "outbox-log.db");

    public long LastCommittedSequence => Volatile.Read(ref _lastCommitted);

    public long Count => Interlocked.Read(ref _count);

    /// <summary>Payload bytes stored.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Bytes of the data and log files, for metrics and the soak test. The log's file keeps its preallocated size; <see cref="LogBytes"/> is what it holds.</summary>
    public (long Data, long Log) FileSizes => (_dataFile?.Length ?? 0, _logFile?.FileBytes ?? 0);

    /// <summary>Bytes of log not yet checkpointed into the data file.</summary>
    public long LogBytes => _logFile?.Length ?? 0;

    /// <summary>Opens (or creates) the store, restores the sequence and cursors, and starts the writer.</summary>
    /// <remarks>
    /// A store LiteDB cannot open is moved aside (<c>outbox.db.corrupt-&lt;time&gt;</c>, kept for
    /// inspection), reported, and replaced by a new one: the appliance keeps taking data.
    /// </remarks>
    public void Open()
    {
        Directory.CreateDirectory(_options.DataPath);
        try
        {
            OpenFiles();
        }
        catch (Exception ex) when (IsCorruption(ex))
        {
            ReplaceCorruptStore(ex.Message);
        }
        StartRescan(_lastCommitted);

        _metrics.Gauge("outbox_messages", "", () => Count);
        _metrics.Gauge("outbox_payload_bytes", "", () => Bytes);
        _metrics.Gauge("outbox_disk_free_bytes", "", () => Interlocked.Read(ref _freeBytes));
        _metrics.Gauge("outbox_last_sequence", "", () => LastCommittedSequence);
        _metrics.Gauge("outbox_data_file_bytes", "", () => FileSizes.Data);
        _metrics.Gauge("outbox_log_file_bytes", "", () => FileSizes.Log);
        _metrics.Gauge("outbox_log_bytes", "", () => LogBytes);
        LogOpened(DataFilePath, _count, _lastSequence);
        // A thread of its own: LiteDB and fsync block, and on an SD card an fsync can take tens of
        // milliseconds; the thread pool (two threads on a 2-core board) must not wait on them.
        var writerThread = new Thread(WriteLoop) { IsBackground = true, Name = "outbox-writer" };
        writerThread.Start();
        _writerStarted = true;
    }

    private void OpenFiles()
    {
        // FileShare.None: a second gateway on the same folder fails here, loudly, instead of corrupting the store.
        _dataFile = new DurableFileStream(OpenFile(DataFilePath), _sync);
        _logFile = OpenLog(_dataFile, LogFilePath, EarlierLogFilePath, _sync, _options.LogPreallocateBytes, note =>
        {
            _metrics.Increment("outbox_log_mended_total");
            LogLogMended(LogFilePath, note);
        }, earlier => LogLogConverted(earlier, LogFilePath));
        _db = new LiteDatabase(_dataFile, new BsonMapper(), _logFile);
        _chunks = _db.GetCollection(ChunksCollection, BsonAutoId.Int64);
        _gone = _db.GetCollection(GoneCollection, BsonAutoId.Int64);
        _meta = _db.GetCollection(MetaCollection);
        _cursorDocs = _db.GetCollection(CursorsCollection);
        // Expiries live in a small collection of their own, holding only the messages that have one.
        _expiring = _db.GetCollection(ExpiringCollection, BsonAutoId.Int64);
        _expiring.EnsureIndex(ExpiringAtField);
        ForgetEdits();
        _smallChunks.Clear();
        _compactPending = false;
        _dropFrom.Clear();
        _dropExhausted.Clear();
        MoveLegacyMessagesIntoChunks();
        _expiringCount = _expiring.LongCount();
        _goneCount = _gone.LongCount();
        _goneRemovedPending = 0;

        var highestStored = _chunks.Query().OrderByDescending("_id").Limit(1).FirstOrDefault()?["_id"].AsInt64 ?? 0;
        var persisted = _meta.FindById(SequenceKey)?["value"].AsInt64 ?? 0;
        _lastSequence = _lastCommitted = Math.Max(highestStored, persisted);
        lock (_cursors)
        {
            _cursors.Clear();
            foreach (var doc in _cursorDocs.FindAll()) _cursors[doc["_id"].AsString] = doc["through"].AsInt64;
        }
        _toDelete.Clear(); // what they held is at or below a cursor: SweepPassedMessages below removes it
        // The totals are kept in the meta collection; add them all up only for a store without them.
        var countDoc = _meta.FindById(CountKey);
        var bytesDoc = _meta.FindById(BytesKey);
        if (countDoc is null || bytesDoc is null)
        {
            _count = CountStored();
            _bytes = BytesStored();
        }
        else
        {
            _count = countDoc["value"].AsInt64;
            _bytes = bytesDoc["value"].AsInt64;
            if (countDoc.TryGetValue(CountedThroughField, out var countedThrough)) AddChunksAfter(countedThrough.AsInt64);
        }
        _appendCommitsSinceTotals = 0;
        _appendedBytesSinceTotals = 0;
        _totalsDueAt = 0; // the first commit that appends writes them
        SweepPassedMessages();
        SweepExpired();
        NoteLogSize();
    }

    /// <summary>Moves a store that cannot be used aside (kept for inspection), reports it, and opens a new one.</summary>
    private void ReplaceCorruptStore(string cause)
    {
        CloseFiles();
        var aside = MoveAside();
        _metrics.Increment("outbox_corrupt_stores_total");
        LogCorrupt(DataFilePath, aside, cause);
        OpenFiles();
        // The old high-water mark is lost with the file: continue far above anything it can have
        // reached, so no new message reuses an id a consumer has already seen.
        _lastSequence = _lastCommitted = Math.Max(_lastSequence, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
    }

    /// <summary>
    /// What LiteDB throws for a file that is not a sound database. Not a file held by another process
    /// (an <see cref="IOException"/> from opening it): that store is fine and must not be moved.
    /// </summary>
    private static bool IsCorruption(Exception ex) =>
        ex is LiteException or InvalidCastException or ArgumentOutOfRangeException or IndexOutOfRangeException
            or InvalidOperationException or EndOfStreamException or OverflowException or KeyNotFoundException
            or InvalidDataException // a chunk whose records do not add up (ChunkCodec)
            || (ex is not IOException && ex.InnerException is not null && IsCorruption(ex.InnerException));

    private void CloseFiles()
    {
        try
        {
            _db?.Dispose();
        }
        catch (Exception)
        {
            // a corrupt database may fail to close; its files are closed below either way
        }
        _db = null;
        _logFile?.Dispose();
        _dataFile?.Dispose();
    }

    private string MoveAside()
    {
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var aside = $"{DataFilePath}.corrupt-{stamp}";
        File.Move(DataFilePath, aside);
        if (File.Exists(LogFilePath)) File.Move(LogFilePath, $"{LogFilePath}.corrupt-{stamp}");
        if (File.Exists(EarlierLogFilePath)) File.Move(EarlierLogFilePath, $"{EarlierLogFilePath}.corrupt-{stamp}");
        return aside;
    }

    /// <summary>
    /// Opens LiteDB's log in its preallocated layout (<see cref="PreallocatedLogStream"/>). A log of the
    /// earlier layout (plain LiteDB pages in a file that grows, under another name) is first
    /// checkpointed into the data file by LiteDB itself; its file is then emptied, synced and deleted,
    /// so it can never be replayed over newer data. Pages of a commit that never completed (a crash
    /// mid-commit) are not replayed by LiteDB either, and go with it.
    /// </summary>
    internal static PreallocatedLogStream OpenLog(DurableFileStream data, string path, string earlierPath, IDiskSync sync, long preallocateBytes, Action<string>? note = null, Action<string>? converted = null)
    {
        if (File.Exists(earlierPath))
        {
            using (var earlierFile = OpenFile(earlierPath))
            {
                if (earlierFile.Length > 0)
                {
                    using var earlier = new DurableFileStream(earlierFile, sync, disposeFile: false);
                    using (var db = new LiteDatabase(data, new BsonMapper(), earlier)) db.Checkpoint();
                    converted?.Invoke(earlierPath);
                }
                earlierFile.SetLength(0);
                sync.Sync(earlierFile);
            }
            File.Delete(earlierPath);
        }
        var file = OpenFile(path);
        try
        {
            return PreallocatedLogStream.Open(file, sync, preallocateBytes, note);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static FileStream OpenFile(string path) =>
        new(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0, FileOptions.RandomAccess);

    public async ValueTask<long> AppendAsync(IncomingMessage message, CancellationToken cancellationToken = default) =>
        await (await EnqueueAsync(message, awaited: true, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);

    public async ValueTask<Task<long>> EnqueueAsync(IncomingMessage message, bool awaited = true, CancellationToken cancellationToken = default)
    {
        if (message.Payload.Length > _options.MaxMessageBytes)
        {
            throw new OutboxRejectedException(OutboxRejection.TooLarge,
                $"payload of {message.Payload.Length} bytes is over the limit of {_options.MaxMessageBytes}");
        }

        var route = _routes.FirstRouteIndex(message.Topic);
        var op = new AppendOp(message, route) { Awaited = awaited };
        if (op.Size > MaxChunkBytes)
        {
            throw new OutboxRejectedException(OutboxRejection.TooLarge,
                $"the message with its topic and properties takes {op.Size} bytes, over the store's limit of {MaxChunkBytes}");
        }
        CheckDiskSpace(message.Payload.Length);
        if (PolicyFor(route) == WhenFull.RejectNew && WouldOverflow(message.Payload.Length))
        {
            _metrics.Increment("messages_refused_full_total");
            throw new OutboxRejectedException(OutboxRejection.QuotaExceeded,
                $"the store is full ({Count} messages, {Bytes} payload bytes; limits {_options.MaxMessages} and {_options.MaxBytes})");
        }

        Interlocked.Increment(ref _pendingCount);
        Interlocked.Add(ref _pendingBytes, message.Payload.Length);
        try
        {
            await _queue.Writer.WriteAsync(op, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
        {
            Interlocked.Decrement(ref _pendingCount);
            Interlocked.Add(ref _pendingBytes, -message.Payload.Length);
            if (ex is OperationCanceledException) throw;
            throw new OutboxRejectedException(OutboxRejection.Unavailable, "the store is closing");
        }
        return op.Completion.Task;
    }

    private WhenFull PolicyFor(int route) => route >= 0 && _routes.Routes[route].WhenFull is { } own ? own : _options.WhenFull;

    private string RouteName(int route) => route >= 0 ? _routes.Routes[route].Filter : "(no route)";

    private bool WouldOverflow(long size) =>
        Count + Interlocked.Read(ref _pendingCount) + 1 > _options.MaxMessages
        || Bytes + Interlocked.Read(ref _pendingBytes) + size > _options.MaxBytes;

    /// <summary>Refuses new messages below the free-space watermark.</summary>
    private void CheckDiskSpace(int size)
    {
        var now = Environment.TickCount64;
        // Once a second is plenty with room to spare; close to the watermark a burst can fill the
        // rest within that second, so then every append asks (a statfs: microseconds). "Close" counts
        // what the next checkpoint needs and what was taken in since the last reading (twice over: the
        // log and the data file both receive it).
        var sinceReading = Interlocked.Add(ref _bytesSinceFreeCheck, size);
        var estimate = Interlocked.Read(ref _freeBytes) - Interlocked.Read(ref _logBytes) - 2 * sinceReading;
        if (now - Interlocked.Read(ref _freeCheckedAt) >= 1000 || estimate < 2 * _options.MinFreeDiskBytes)
        {
            Interlocked.Exchange(ref _freeCheckedAt, now);
            Interlocked.Exchange(ref _bytesSinceFreeCheck, 0);
            try
            {
                Interlocked.Exchange(ref _freeBytes, _options.FreeSpace(_options.DataPath));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // Cannot tell: keep the last reading rather than refusing everything.
            }
        }
        // A checkpoint copies the log into the data file and may need that much room at once (LiteDB
        // checkpoints on its own past 8 MiB of log): that room is spoken for, so it does not count as
        // free, or the checkpoint itself would hit ENOSPC just above the watermark.
        var free = Interlocked.Read(ref _freeBytes);
        var log = Interlocked.Read(ref _logBytes);
        if (_options.MinFreeDiskBytes > 0 && free - log < _options.MinFreeDiskBytes) // 0: no watermark at all
        {
            _metrics.Increment("messages_refused_disk_total");
            throw new OutboxRejectedException(OutboxRejection.QuotaExceeded,
                $"the disk is almost full ({free >> 20} MiB free, {log >> 20} MiB of it kept for the next checkpoint; the gateway keeps at least {_options.MinFreeDiskBytes >> 20} MiB)");
        }
    }

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
        ReadChunks(afterSequence, maxCount, maxBytes, result);
        return result;
    }

    public void CommitLingeringNow() => _queue.Writer.TryWrite(HurryOp.Instance); // a full queue makes a full group: no linger then

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
        if (_db is not null)
        {
            _db.Checkpoint();
            _db.Dispose();
            LogClosed(DataFilePath, Count);
        }
        _logFile?.Dispose();
        _dataFile?.Dispose();
        _db = null;
    }

    private void WriteLoop()
    {
        try
        {
            var group = new List<WriteOp>(_options.MaxGroupMessages);
            var reader = _queue.Reader;
            var nextSweep = DeadlineAfter(_options.ExpirySweepInterval);
            // Blocking is right here: this thread exists only to wait for work and then for the disk.
            while (true)
            {
                if (_toDelete.Count > 0 && reader.Count == 0 && !_reopenNeeded)
                {
                    // Nothing waiting: a chunk of confirmed messages goes (an empty group commits deletes only).
                    group.Clear();
                    CommitOps(group);
                    CheckpointWhenDrained(reader);
                    continue;
                }
                if (_compactPending && reader.Count == 0 && !_reopenNeeded && TryCompact()) continue;
                if (!WaitForWork(reader, nextSweep)) break;
                if (Environment.TickCount64 >= nextSweep)
                {
                    SweepExpired();
                    nextSweep = DeadlineAfter(_options.ExpirySweepInterval);
                }
                group.Clear();
                var bytes = 0;
                var hurry = FillGroup(reader, group, ref bytes);
                if (!hurry && MayLinger(group)) LingerForMore(reader, group, ref bytes);
                if (group.Count > 0) CommitGroup(group); // empty when woken only for a sweep (or a hurry with nothing held)
                CheckpointWhenDrained(reader);
            }
            _writerDone.TrySetResult();
        }
        catch (Exception ex)
        {
            _writerDone.TrySetException(ex);
        }
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

    /// <summary>Most bytes (as <see cref="WriteOp.Size"/> counts them) in one chunk of more than one message: LiteDB's document limit is 16 MiB.</summary>
    private const int MaxChunkBytes = 14 << 20;

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

    /// <summary>Most deletes in one commit, unless the store is near a limit (then all of them, first).</summary>
    private const int DeleteChunk = 100;

    /// <summary>
    /// Commits a group. When it holds both new messages and confirmed ones to delete, and the store
    /// is not near its limits, the new messages are committed (and acknowledged) first and the
    /// deletes in a second commit: a forwarder's batch of 500 deletes would otherwise sit in front
    /// of every ack of the group. Near a limit, one commit with the deletes first, so what was
    /// confirmed makes room before anything is refused or dropped.
    /// </summary>
    private void CommitGroup(List<WriteOp> group)
    {
        long appendCount = 0, appendBytes = 0;
        var advances = false;
        foreach (var op in group)
        {
            if (op is AppendOp append)
            {
                appendCount++;
                appendBytes += append.Message.Payload.Length;
            }
            else if (op is AdvanceOp)
            {
                advances = true;
            }
        }
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

    private void CommitOps(List<WriteOp> group)
    {
        if (_reopenNeeded && !TryReopen())
        {
            FailGroup(group, new IOException("the store is not writable yet (reopening after a failed commit did not succeed)"), releasePending: true);
            return;
        }
        var db = _db!;
        var sequence = _lastSequence;
        var committed = false;
        Dictionary<string, long>? movedCursors = null;
        long count = Count, bytes = Bytes;
        int appended = 0, deleted = 0, quarantined = 0, appendedBytes = 0;
        (long First, long Last, int Count, int Bytes)? newChunk = null;
        Dictionary<int, int>? dropped = null;
        try
        {
            var started = Stopwatch.GetTimestamp();
            ForgetEdits();
            db.BeginTrans();
            foreach (var op in group)
            {
                if (op is not AdvanceOp advance) continue;
                movedCursors ??= new(StringComparer.Ordinal);
                movedCursors[advance.Upstream] = Math.Max(advance.Through, movedCursors.GetValueOrDefault(advance.Upstream));
            }

            long appendCount = 0, appendBytes = 0;
            foreach (var op in group)
            {
                if (op is AppendOp append)
                {
                    appendCount++;
                    appendBytes += append.Message.Payload.Length;
                }
                else if (op is AdvanceOp advance)
                {
                    foreach (var passed in advance.Passed) _toDelete.Enqueue(passed);
                }
            }
            if (movedCursors is not null)
            {
                foreach (var (upstream, through) in movedCursors)
                    _cursorDocs.Upsert(new BsonDocument { ["_id"] = upstream, ["through"] = through });
            }
            foreach (var op in group)
            {
                if (op is not QuarantineOp quarantine) continue;
                var (lost, lostBytes) = Quarantine(quarantine.First, quarantine.Last);
                count -= lost;
                bytes -= lostBytes;
                quarantined += lost;
            }

            // Deletes before appends: near a limit, what upstreams confirmed makes room before any
            // DropOldest or refusal has to; otherwise a chunk, and none in a group of new messages.
            var nearLimit = count + appendCount >= _options.MaxMessages || bytes + appendBytes >= _options.MaxBytes;
            for (var budget = nearLimit ? int.MaxValue : appendCount > 0 ? 0 : DeleteChunk; budget > 0 && _toDelete.TryDequeue(out var doomed); budget--)
            {
                var size = doomed.Size;
                if (!IsConfirmedEverywhere(doomed.Topic, doomed.Sequence, movedCursors) || !MarkGone(doomed.Sequence, ref size)) continue;
                deleted++;
                count--;
                bytes -= doomed.Size;
            }

            // The group's new messages become one chunk; a drop may take back one of them (groupDead).
            _chunkItems.Clear();
            byte[]? groupDead = null;
            foreach (var op in group)
            {
                if (op is not AppendOp append) continue;
                var size = append.Message.Payload.Length;
                while (count + 1 > _options.MaxMessages || bytes + size > _options.MaxBytes)
                {
                    // Full. RejectNew was checked before queueing, but appends queued together can
                    // still overflow; DropOldest makes room from the same route, never from others.
                    if (PolicyFor(append.Route) != WhenFull.DropOldest || !TryDropOldest(append.Route, _chunkItems, ref groupDead, ref count, ref bytes))
                    {
                        append.Refused = true;
                        break;
                    }
                    dropped ??= [];
                    dropped[append.Route] = dropped.GetValueOrDefault(append.Route) + 1;
                }
                if (append.Refused) continue;
                append.Sequence = ++sequence;
                _chunkItems.Add((append.Message, append.Route, append.RecordSize));
                if (append.Message.ExpiresAt is { } expiresAt)
                {
                    _expiring.Insert(new BsonDocument { ["_id"] = sequence, [ExpiringAtField] = expiresAt.ToUnixTimeMilliseconds() });
                    _expiringCount++;
                }
                appended++;
                appendedBytes += append.Size;
                count++;
                bytes += size;
            }
            if (_chunkItems.Count > 0)
            {
                var groupDeadCount = 0;
                for (var j = 0; j < _chunkItems.Count; j++) groupDeadCount += IsSet(groupDead, j) ? 1 : 0;
                if (groupDeadCount < _chunkItems.Count) InsertChunk(sequence - _chunkItems.Count + 1, _chunkItems, groupDead, groupDeadCount);
                if (groupDeadCount == 0) newChunk = (sequence - _chunkItems.Count + 1, sequence, _chunkItems.Count, appendedBytes);
            }
            WriteEdits();

            // A commit that only appends a chunk may leave the totals as they are: opening adds up the
            // chunks above the sequence they take in. One that removes anything writes them, even when
            // as much came in as went (a drop to make room), or an open would count what went.
            var removedAny = deleted > 0 || quarantined > 0 || dropped is not null;
            if (removedAny || (appended > 0 ? TotalsDueAfterAppend(appendedBytes) : count != Count || bytes != Bytes))
                WriteTotals(count, bytes, sequence);

            db.Commit();
            _metrics.Observe("outbox_commit_seconds", Stopwatch.GetElapsedTime(started));
            NoteCommitted();
            committed = true;
            foreach (var (_, route, _) in _chunkItems) _dropExhausted.Remove(route);
            // Only new messages need the fsync before their acks. A commit of cursor moves and removals
            // alone is made durable by the next commit that syncs (or the checkpoint); lost in a power
            // cut, it only means a batch is forwarded again (at-least-once). While forwarding, that
            // halves the fsyncs: every confirmed batch used to cost one.
            if (appended > 0) SyncLog();
            else NoteLogSize();
            if (newChunk is { } small)
            {
                NoteSmallChunk(small.First, small.Last, small.Count, small.Bytes);
                _compactPending = true;
            }
        }
        catch (Exception ex)
        {
            if (!committed)
            {
                TryRollback(db);
                // A commit that failed half way (ENOSPC, EIO) can leave LiteDB's memory disagreeing with
                // its files: never reuse the sequence numbers it saw, and read the store afresh.
                _lastSequence = sequence;
                _reopenNeeded = true;
            }
            FailGroup(group, ex, releasePending: !committed);
            if (!committed) return;
            // Committed but not known to be on disk: the messages exist and will be forwarded, but their
            // acks were refused above, so a client may send them again (allowed: at-least-once).
        }

        _lastSequence = sequence;
        if (movedCursors is not null)
        {
            lock (_cursors)
            {
                foreach (var (upstream, through) in movedCursors) _cursors[upstream] = through;
            }
            // A rescan waiting for newer messages has nothing left to wait for once every upstream has
            // passed its chunks (a drain after a restart, with nothing new coming): its next step ends it.
            if (_rescanning && PassedByEveryUpstream(_rescanThrough)) _compactPending = true;
        }
        Interlocked.Exchange(ref _count, count);
        Interlocked.Exchange(ref _bytes, bytes);
        ReleasePending(group);
        _metrics.Increment("outbox_appended_total", "", appended);
        _metrics.Increment("outbox_deleted_total", "", deleted);
        if (quarantined > 0)
        {
            _metrics.Increment("messages_lost_corrupt_total", "", quarantined);
            LogChunkRemoved(quarantined);
        }
        _metrics.Increment("outbox_group_commits_total");
        foreach (var (route, n) in dropped ?? [])
        {
            _metrics.Increment("messages_dropped_total", RouteName(route), n);
            LogDropped(n, RouteName(route));
        }

        Volatile.Write(ref _lastCommitted, sequence);
        Interlocked.Exchange(ref _committed, NewSignal()).TrySetResult();
        foreach (var op in group)
        {
            if (op is not AppendOp { Refused: true } append) continue;
            _metrics.Increment("messages_refused_full_total");
            append.Failure ??= new OutboxRejectedException(OutboxRejection.QuotaExceeded,
                $"the store is full ({count} messages, {bytes} payload bytes) and route '{RouteName(append.Route)}' has nothing older to drop");
        }
        Settle(group);
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

    /// <summary>Acks completed by one pool work item.</summary>
    private const int SettleSlice = 16;

    /// <summary>Refuses every append of a group the store could not commit.</summary>
    private void FailGroup(List<WriteOp> group, Exception ex, bool releasePending)
    {
        LogCommitFailed(group.Count, ex.Message, ex);
        _metrics.Increment("outbox_commit_failures_total");
        var failure = new OutboxRejectedException(OutboxRejection.StoreFailed, $"the store could not commit: {ex.Message}", ex);
        foreach (var op in group)
        {
            if (op is AppendOp append) append.Failure = failure;
        }
        Settle(group);
        if (releasePending) ReleasePending(group);
    }

    /// <summary>Closes and opens the store files again after a failed commit; false while that fails too (the disk still full).</summary>
    private bool TryReopen()
    {
        var sequence = _lastSequence;
        try
        {
            CloseFiles();
            OpenFiles();
        }
        catch (Exception ex)
        {
            // Whatever it is, the writer must live on: it keeps refusing until the store opens again.
            LogReopenFailed(ex.Message);
            return false;
        }
        _lastSequence = _lastCommitted = Math.Max(sequence, _lastSequence);
        _reopenNeeded = false;
        ResumeRescan(_lastCommitted); // the small chunks noted before are forgotten: the rescan covers them
        LogReopened(_count);
        return true;
    }

    /// <summary>Messages in the store, added up from the chunk heads (a store without the total in its meta collection).</summary>
    private long CountStored() => _chunks.FindAll().Sum(c => (long)c[CountField].AsInt32) - _gone.FindAll().Sum(g => (long)g[DeadCountField].AsInt32);

    /// <summary>Adds to the totals read from the meta collection the chunks appended after them (<see cref="CountedThroughField"/>).</summary>
    private void AddChunksAfter(long countedThrough)
    {
        foreach (var chunk in _chunks.Find(Query.GT("_id", countedThrough)))
        {
            _count += chunk[CountField].AsInt32;
            _bytes += chunk.TryGetValue(PayloadBytesField, out var b) ? b.AsInt64 : 0;
        }
        // Parts of them removed later rewrote the totals; this is for a store that says otherwise.
        foreach (var gone in _gone.Find(Query.GT("_id", countedThrough)))
        {
            _count -= gone[DeadCountField].AsInt32;
            _bytes -= gone.TryGetValue(DeadBytesField, out var b) ? b.AsInt64 : 0;
        }
    }

    /// <summary>
    /// Writes the totals, and the sequence they take in, in the open transaction. Every commit that
    /// removes anything does; one that only appends does now and then (<see cref="TotalsDueAfterAppend"/>).
    /// </summary>
    private void WriteTotals(long count, long bytes, long sequence)
    {
        _meta.Upsert(new BsonDocument { ["_id"] = SequenceKey, ["value"] = sequence });
        _meta.Upsert(new BsonDocument { ["_id"] = BytesKey, ["value"] = bytes });
        _meta.Upsert(new BsonDocument { ["_id"] = CountKey, ["value"] = count, [CountedThroughField] = sequence });
        _appendCommitsSinceTotals = 0;
        _appendedBytesSinceTotals = 0;
        _totalsDueAt = DeadlineAfter(_options.TotalsEvery);
    }

    /// <summary>
    /// Whether a commit that only appends writes the totals: every so many commits, bytes or seconds,
    /// which bounds what an open has to read back and add up. In between, a one-message commit leaves
    /// the meta page out: a third of what it writes (SD-card wear).
    /// </summary>
    private bool TotalsDueAfterAppend(int appendedBytes)
    {
        _appendedBytesSinceTotals += appendedBytes;
        return ++_appendCommitsSinceTotals >= _options.TotalsEveryCommits
            || _appendedBytesSinceTotals >= _options.TotalsEveryBytes
            || Environment.TickCount64 >= _totalsDueAt;
    }

    /// <summary>Payload bytes in the store, added up from every chunk (a store without the total in its meta collection).</summary>
    private long BytesStored()
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

    /// <summary>The group's appends are no longer pending: committed, refused or failed.</summary>
    private void ReleasePending(List<WriteOp> group)
    {
        foreach (var op in group)
        {
            if (op is not AppendOp append) continue;
            Interlocked.Decrement(ref _pendingCount);
            Interlocked.Add(ref _pendingBytes, -append.Message.Payload.Length);
        }
    }

    /// <summary>Past this the log is checkpointed at the next drained moment even if work keeps coming (LiteDB's own default is 1000 pages, 8 MiB).</summary>
    private const long CheckpointLogBytes = 8L << 20;

    /// <summary>How long the store must stay drained and quiet before a smaller log is checkpointed.</summary>
    private static readonly TimeSpan QuietBeforeCheckpoint = TimeSpan.FromMilliseconds(250);

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
        int removed;
        try
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            // An entry whose message is gone already (dropped within its own group commit) is removed and not counted.
            removed = RemoveNow(_expiring.Find(Query.Between(ExpiringAtField, 1, now)).Select(e => e["_id"].AsInt64).ToList());
        }
        catch (Exception ex) when (ex is IOException or LiteException or InvalidDataException)
        {
            TryRollback(_db!);
            LogSweepFailed(ex.Message);
            return;
        }
        if (removed == 0) return;
        _metrics.Increment("messages_expired_total", "", removed);
        LogExpired(removed);
    }

    /// <summary>
    /// Removes messages in a transaction of their own (sweeps, outside the group commit), keeps the
    /// stored totals in step, makes the commit durable, and returns how many went. An expiry entry whose
    /// message is gone already is removed and not counted.
    /// </summary>
    private int RemoveNow(List<long> doomed)
    {
        if (doomed.Count == 0) return 0;
        long freed = 0;
        var removed = 0;
        ForgetEdits();
        _db!.BeginTrans();
        foreach (var sequence in doomed)
        {
            var size = -1;
            if (MarkGone(sequence, ref size))
            {
                removed++;
                freed += size;
            }
            else if (_expiring.Delete(sequence))
            {
                _expiringCount--;
            }
        }
        WriteEdits();
        WriteTotals(Count - removed, Bytes - freed, _lastSequence);
        _db.Commit();
        NoteCommitted();
        SyncLog();
        Interlocked.Add(ref _count, -removed);
        Interlocked.Add(ref _bytes, -freed);
        return removed;
    }

    /// <summary>
    /// Once the store is empty and nothing waits, copies the log into the data file and truncates the
    /// log, so the log never grows without bound; LiteDB reuses the data file's freed pages, so that
    /// file stops growing once it has held the largest backlog.
    /// </summary>
    private void CheckpointWhenDrained(ChannelReader<WriteOp> reader)
    {
        if (Interlocked.Read(ref _count) != 0 || reader.Count != 0 || _logFile!.Length == 0) return;
        // A checkpoint copies the log into the data file and syncs both: worth it when the store is
        // quiet, not between two messages of a steady stream that the forwarder keeps draining (that
        // put a checkpoint, and a data-file fsync, behind nearly every ack). So: once the log is big,
        // or once nothing new has come for a moment. New work ends the wait at once.
        if (_logFile.Length < CheckpointLogBytes && WaitForWork(reader, DeadlineAfter(QuietBeforeCheckpoint)) && reader.Count != 0)
            return;
        if (Interlocked.Read(ref _count) != 0) return;
        try
        {
            var started = Stopwatch.GetTimestamp();
            _db!.Checkpoint();
            _metrics.Observe("outbox_checkpoint_seconds", Stopwatch.GetElapsedTime(started));
            NoteLogSize();
            _metrics.Increment("outbox_checkpoints_total");
        }
        catch (Exception ex) when (ex is IOException or LiteException)
        {
            // The log stays as it is and is checkpointed next time (or by LiteDB itself); nothing is lost.
            LogCheckpointFailed(ex.Message);
        }
    }

    /// <summary>Flushes the log file to the device: the group commit is durable when this returns.</summary>
    private void SyncLog()
    {
        var log = _logFile!;
        var started = Stopwatch.GetTimestamp();
        lock (log) log.Flush();
        _metrics.Observe("outbox_sync_seconds", Stopwatch.GetElapsedTime(started));
        NoteLogSize();
    }

    /// <summary>The log's size as the writer last saw it, for the free-space check on the ingest path (no fstat per append).</summary>
    private void NoteLogSize() => Interlocked.Exchange(ref _logBytes, _logFile?.Length ?? 0);

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

    /// <summary>
    /// Deletes messages every upstream has passed but that are still here: left by a change of routes
    /// (an upstream removed from the configuration no longer holds them).
    /// </summary>
    private void SweepPassedMessages()
    {
        if (!_routes.HasUpstreams) return; // store-and-forward only: everything is kept until an upstream is configured
        var highest = _routes.Upstreams.Max(GetCursor);
        if (highest == 0) return;

        var passed = new List<long>();
        foreach (var doc in _chunks.FindAll())
        {
            var edit = Load(doc);
            if (edit.First > highest) break; // chunks come in sequence order
            var chunk = edit.Blob;
            var found = new List<long>();
            try
            {
                ChunkCodec.Walk(chunk, edit.Count, 0, (i, offset, length) =>
                {
                    var sequence = edit.First + i;
                    if (sequence > highest) return false;
                    if (!edit.IsDead(i) && IsConfirmedEverywhere(ChunkCodec.ReadMessage(chunk, offset, length, sequence).Message.Topic, sequence, null))
                        found.Add(sequence);
                    return true;
                });
            }
            catch (InvalidDataException ex)
            {
                ReportCorruptChunk(edit.First, edit.Last, ex.Message); // removed whole by its quarantine
                continue;
            }
            passed.AddRange(found);
        }
        var swept = RemoveNow(passed);
        if (swept > 0) LogSwept(swept);
    }

    private void TryRollback(LiteDatabase db)
    {
        ForgetEdits();
        _goneRemovedPending = 0; // not deleted after all
        try
        {
            db.Rollback();
        }
        catch (Exception)
        {
            // The commit already failed; a rollback that fails too leaves LiteDB to recover from its log on next open.
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private abstract class WriteOp
    {
        public abstract int Size { get; }
    }

    private sealed class AppendOp(IncomingMessage message, int route) : WriteOp
    {
        public IncomingMessage Message { get; } = message;

        /// <summary>Index of the message's first route, -1 for none.</summary>
        public int Route { get; } = route;

        /// <summary>Refused inside the writer (the store was full and nothing of its route could make room).</summary>
        public bool Refused { get; set; }

        /// <summary>Somebody waits for the commit (an ack, a receipt): its group is committed without lingering.</summary>
        public bool Awaited { get; init; } = true;

        // Completed only by Settle, on a pool thread: the waiting ack runs inline there, never on the writer.
        public TaskCompletionSource<long> Completion { get; } = new();

        public long Sequence { get; set; }

        /// <summary>Why the append was not stored; null once it is committed.</summary>
        public OutboxRejectedException? Failure { get; set; }

        public void Complete()
        {
            if (Failure is { } failure) Completion.TrySetException(failure);
            else Completion.TrySetResult(Sequence);
        }

        /// <summary>Its encoded size in a chunk: what the group and chunk limits count.</summary>
        public int RecordSize { get; } = ChunkCodec.RecordSize(message, route);

        public override int Size => ChunkCodec.Framed(RecordSize);
    }

    /// <summary>Asks the writer to commit what it holds now (<see cref="CommitLingeringNow"/>); not itself stored.</summary>
    private sealed class HurryOp : WriteOp
    {
        public static HurryOp Instance { get; } = new();

        public override int Size => 0;
    }

    /// <summary>A damaged chunk a reader met, for the writer to remove.</summary>
    private sealed class QuarantineOp(long first, long last) : WriteOp
    {
        public long First { get; } = first;
        public long Last { get; } = last;
        public override int Size => 0;
    }

    private sealed class AdvanceOp(string upstream, long through, (long Sequence, string Topic, int Size)[] passed) : WriteOp
    {
        public string Upstream { get; } = upstream;
        public long Through { get; } = through;
        public (long Sequence, string Topic, int Size)[] Passed { get; } = passed;
        public override int Size => 16 * Passed.Length;
    }

    [LoggerMessage(EventIds.OutboxOpened, LogLevel.Information, "Outbox {Path} opened: {Count} messages stored, last sequence {Sequence}")]
    private partial void LogOpened(string path, long count, long sequence);

    [LoggerMessage(EventIds.OutboxCommitFailed, LogLevel.Error, "Outbox commit of {Operations} operations failed, their acks are refused: {Cause}")]
    private partial void LogCommitFailed(int operations, string cause, Exception ex);

    [LoggerMessage(EventIds.OutboxRescanned, LogLevel.Information, "Outbox: read {Chunks} chunks stored before it opened (through sequence {Through}) for small ones to join: {Joined} joined, {Milliseconds:0} ms of the writer's time")]
    private partial void LogRescanned(long chunks, long through, long joined, double milliseconds);

    [LoggerMessage(EventIds.OutboxClosed, LogLevel.Information, "Outbox {Path} closed with {Count} messages stored")]
    private partial void LogClosed(string path, long count);

    [LoggerMessage(EventIds.OutboxCorrupt, LogLevel.Critical, "Outbox {Path} could not be opened ({Cause}); moved aside to {Aside} and a new, empty store opened")]
    private partial void LogCorrupt(string path, string aside, string cause);

    [LoggerMessage(EventIds.OutboxCheckpointFailed, LogLevel.Warning, "Outbox checkpoint failed, will try again when next drained: {Cause}")]
    private partial void LogCheckpointFailed(string cause);

    [LoggerMessage(EventIds.OutboxExpired, LogLevel.Information, "Outbox: removed {Count} expired messages")]
    private partial void LogExpired(int count);

    [LoggerMessage(EventIds.OutboxSweepFailed, LogLevel.Warning, "Outbox: removing expired messages failed, will try again: {Cause}")]
    private partial void LogSweepFailed(string cause);

    [LoggerMessage(EventIds.OutboxDropped, LogLevel.Warning, "Outbox full: dropped the {Count} oldest messages of route '{Route}' (WhenFull=DropOldest)")]
    private partial void LogDropped(int count, string route);

    [LoggerMessage(EventIds.OutboxReopened, LogLevel.Information, "Outbox reopened after a failed commit: {Count} messages stored")]
    private partial void LogReopened(long count);

    [LoggerMessage(EventIds.OutboxReopenFailed, LogLevel.Warning, "Outbox could not be reopened yet, new messages are refused: {Cause}")]
    private partial void LogReopenFailed(string cause);

    [LoggerMessage(EventIds.OutboxCorruptChunk, LogLevel.Critical, "Outbox: messages {First}..{Last} cannot be read ({Cause}); skipped, and the chunk is removed")]
    private partial void LogCorruptChunk(long first, long last, string cause);

    [LoggerMessage(EventIds.OutboxChunkRemoved, LogLevel.Critical, "Outbox: removed a damaged chunk; {Count} messages in it are lost (gateway_messages_lost_corrupt_total)")]
    private partial void LogChunkRemoved(int count);

    [LoggerMessage(EventIds.OutboxCompactionFailed, LogLevel.Warning, "Outbox: joining the small chunks {First}..{Last} failed, left as they are: {Cause}")]
    private partial void LogCompactionFailed(long first, long last, string cause);

    [LoggerMessage(EventIds.OutboxMigrated, LogLevel.Information, "Outbox: moved {Count} messages of the earlier one-document-per-message layout into chunks")]
    private partial void LogMigrated(long count);

    [LoggerMessage(EventIds.OutboxLogMended, LogLevel.Warning, "Outbox log {Path}: {What}")]
    private partial void LogLogMended(string path, string what);

    [LoggerMessage(EventIds.OutboxLogConverted, LogLevel.Information, "Outbox: the log of the earlier layout {Earlier} was checkpointed into the data file and removed; the log is now {Path}")]
    private partial void LogLogConverted(string earlier, string path);

    [LoggerMessage(EventIds.OutboxSwept, LogLevel.Information, "Outbox: deleted {Count} messages that every configured upstream had already passed")]
    private partial void LogSwept(int count);
}
