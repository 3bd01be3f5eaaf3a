using Gateway.Core.Diagnostics;
using Gateway.Storage.LiteDb;

namespace Gateway.Mqtt.Sessions;

/// <summary>
/// Keeps persistent MQTT sessions and retained messages across restarts and crashes (MQTTnet keeps them
/// in memory only): the state in memory, every change applied at once and appended to
/// <see cref="MqttStateLog"/> by one writer thread, a group of changes per fdatasync.
/// </summary>
/// <remarks>
/// Callers change the state under <see cref="Gate"/> and do not wait for the disk; the ack of the publish
/// that caused a change waits for <see cref="WhenDurableAsync"/>, which completes with the group commit
/// holding the latest change. Concurrent publishers share one fdatasync, as in the outbox.
/// </remarks>
internal sealed partial class MqttStateStore : IDisposable
{
    /// <summary>Rewrite the log once it holds this many records more than the state needs, and four times as many.</summary>
    private const long CompactAfterRecords = 50_000;

    private readonly object _gate = new();
    private readonly string _path;
    private readonly IDiskSync _disk;
    private readonly ILogger _logger;
    private readonly MqttState _state = new();
    private readonly SemaphoreSlim _wake = new(0);
    private List<byte[]> _pending = [];
    private TaskCompletionSource _openBatch = NewBatch();
    private Task _latestChange = Task.CompletedTask;
    private MqttStateLog? _log;
    private Thread? _writer;
    private bool _stopping;
    private bool _rewriteNeeded;

    public MqttStateStore(string path, IDiskSync disk, ILogger logger)
    {
        _path = path;
        _disk = disk;
        _logger = logger;
    }

    /// <summary>Held while reading or changing <see cref="State"/>.</summary>
    public object Gate => _gate;

    /// <summary>The kept state; read and change it only under <see cref="Gate"/>, change it only through <see cref="Record"/>.</summary>
    public MqttState State
    {
        get
        {
            Open();
            return _state;
        }
    }

    /// <summary>Reads the log back (once), cutting a torn tail, and starts the writer.</summary>
    public void Open()
    {
        lock (_gate)
        {
            if (_log is not null) return;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
            _log = MqttStateLog.Open(_path, _disk, _state, out var cut);
            if (cut > 0) LogTornTail(_path, cut);
            var now = DateTimeOffset.UtcNow;
            foreach (var s in _state.Sessions.Values)
            {
                // Connected when the gateway stopped: its expiry clock starts now (MQTT-3.1.2-23 counts from the close).
                s.DisconnectedAt ??= now;
            }
            _log.Rewrite(Snapshot());
            LogOpened(_path, _state.Sessions.Count, _state.Sessions.Values.Sum(s => s.Queue.Count), _state.Retained.Count);
            _writer = new Thread(WriteLoop) { IsBackground = true, Name = "mqtt-state-writer" };
            _writer.Start();
        }
    }

    /// <summary>Applies <paramref name="record"/> and queues it for the next group commit. Call under <see cref="Gate"/>.</summary>
    public void Record(StateRecord record)
    {
        Open();
        _state.Apply(record);
        _pending.Add(MqttStateLog.Frame(record));
        if (_pending.Count == 1) _wake.Release();
        _latestChange = _openBatch.Task;
    }

    /// <summary>Completes once every change recorded so far is on disk; at once when there is none waiting.</summary>
    public Task WhenDurableAsync()
    {
        lock (_gate) return _latestChange;
    }

    /// <summary>
    /// Queues <paramref name="message"/> for <paramref name="session"/>, dropping its oldest messages beyond
    /// <paramref name="bound"/>; returns how many were dropped. Call under <see cref="Gate"/>.
    /// </summary>
    public int Enqueue(KeptSession session, KeptMessage message, int bound)
    {
        Record(new StateRecord(StateRecordKind.Queued, session.ClientId, Message: message));
        session.Unsent.AddLast(message.Seq);
        var dropped = 0;
        while (session.Queue.Count > bound)
        {
            var oldest = session.Queue.Keys.First();
            Record(new StateRecord(StateRecordKind.Removed, session.ClientId, Number: oldest));
            dropped++;
        }
        return dropped;
    }

    private List<byte[]> Snapshot() => _state.ToRecords().Select(MqttStateLog.Frame).ToList();

    private static TaskCompletionSource NewBatch() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void WriteLoop()
    {
        while (true)
        {
            if (!Volatile.Read(ref _stopping)) _wake.Wait();
            List<byte[]> frames;
            TaskCompletionSource batch;
            bool rewrite;
            lock (_gate)
            {
                if (_pending.Count == 0)
                {
                    if (_stopping) return;
                    continue;
                }
                batch = _openBatch;
                _openBatch = NewBatch();
                rewrite = _rewriteNeeded || (_log!.AppendedRecords > CompactAfterRecords && _log.AppendedRecords > 4 * _state.LiveRecords);
                // A rewrite takes the whole state, which already holds the pending changes.
                frames = rewrite ? Snapshot() : _pending;
                _pending = [];
                _rewriteNeeded = false;
            }
            try
            {
                if (rewrite) _log!.Rewrite(frames);
                else _log!.AppendDurably(frames);
                batch.SetResult();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // What reached the file is unknown: the next commit writes the whole state afresh.
                lock (_gate) _rewriteNeeded = true;
                LogWriteFailed(_path, ex.Message);
                batch.SetException(ex);
            }
        }
    }

    public void Dispose()
    {
        Thread? writer;
        lock (_gate)
        {
            _stopping = true;
            writer = _writer;
        }
        if (writer is not null)
        {
            _wake.Release();
            writer.Join();
        }
        _log?.Dispose();
        _wake.Dispose();
    }

    [LoggerMessage(EventIds.MqttStateOpened, LogLevel.Information, "MQTT state {Path} opened: {Sessions} persistent sessions with {Queued} queued messages, {Retained} retained messages")]
    private partial void LogOpened(string path, int sessions, int queued, int retained);

    [LoggerMessage(EventIds.MqttStateTornTail, LogLevel.Warning, "MQTT state {Path}: cut {Bytes} bytes of a write a crash left unfinished (never acknowledged)")]
    private partial void LogTornTail(string path, long bytes);

    [LoggerMessage(EventIds.MqttStateWriteFailed, LogLevel.Error, "MQTT state {Path} could not be written, the next write rewrites it whole: {Cause}")]
    private partial void LogWriteFailed(string path, string cause);
}
