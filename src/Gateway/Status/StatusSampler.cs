using System.Text;
using System.Text.Json;
using Gateway.Core.Diagnostics;

namespace Gateway.Status;

/// <summary>
/// Takes the charts' sample once a second (counters only) and, while somebody watches (a stream is
/// open, or <c>/api/status</c> was asked within <see cref="WatchedFor"/>), builds the whole status
/// and keeps it encoded: <c>/api/status</c> answers the bytes built last, and every open
/// <c>/api/status/events</c> stream writes the same frame, so N dashboards cost one snapshot a second
/// plus N small writes, and none cost nothing but the sample.
/// </summary>
internal sealed partial class StatusSampler(StatusBuilder builder, ILogger<StatusSampler> logger) : BackgroundService
{
    /// <summary>Clients listed by name in a snapshot; the counts cover all. Keeps a snapshot small on a busy gateway.</summary>
    public const int MaxClientsListed = 100;

    /// <summary>One sample a second, the dashboard's refresh: the page is then a second behind at most.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>After a GET of <c>/api/status</c>, snapshots go on being built this long (a poller every few seconds keeps them fresh).</summary>
    public static readonly TimeSpan WatchedFor = TimeSpan.FromSeconds(10);

    private int _streams;
    private long _askedAtMs = long.MinValue / 2;
    private TaskCompletionSource<Published> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Published? _current;

    /// <summary>One snapshot, as JSON and as a server-sent event frame, and when it was built (<see cref="Environment.TickCount64"/>).</summary>
    public sealed record Published(byte[] Json, byte[] EventFrame, long BuiltAtMs)
    {
        /// <summary>Built within the last two intervals: what a caller may be given without waiting.</summary>
        public bool IsFresh => Environment.TickCount64 - BuiltAtMs < 2 * Interval.TotalMilliseconds;
    }

    public StatusHistory History { get; } = new(3600);

    /// <summary>The last snapshot, or null before the first.</summary>
    public Published? Current => _current;

    private bool Watched => Volatile.Read(ref _streams) > 0 || Environment.TickCount64 - Interlocked.Read(ref _askedAtMs) < WatchedFor.TotalMilliseconds;

    /// <summary>An open event stream: snapshots are built until it is disposed.</summary>
    public IDisposable WatchStream()
    {
        Interlocked.Increment(ref _streams);
        return new StreamWatch(this);
    }

    /// <summary>
    /// The snapshot for a GET: the current one when fresh, otherwise the next (within a second; the
    /// sampler builds none while nobody watches).
    /// </summary>
    public async Task<Published> FreshAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _askedAtMs, Environment.TickCount64);
        var current = _current;
        return current is { IsFresh: true } ? current : await NextAsync(current, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Completes with the first snapshot built after <paramref name="seen"/>.</summary>
    public Task<Published> NextAsync(Published? seen, CancellationToken cancellationToken)
    {
        // The signal first, then the snapshot: a publish in between is then either seen here or completes that signal.
        var next = Volatile.Read(ref _next);
        var current = _current;
        if (current is not null && !ReferenceEquals(current, seen)) return Task.FromResult(current);
        return next.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                var sample = builder.Sample();
                if (Watched) Publish(await builder.BuildAsync().ConfigureAwait(false));
                else History.Add(sample);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A part mid-restart (a store reopening) must not end the dashboard: the next second tries again.
                LogSampleFailed(ex.Message);
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    internal void Publish(StatusReport report)
    {
        History.Add(report.Sample);
        var json = JsonSerializer.SerializeToUtf8Bytes(report, StatusJson.Default.StatusReport);
        var frame = new byte[json.Length + 8];
        Encoding.ASCII.GetBytes("data: ", frame);
        json.CopyTo(frame, 6);
        frame[^2] = frame[^1] = (byte)'\n';
        var published = new Published(json, frame, Environment.TickCount64);
        _current = published;
        var waiting = Interlocked.Exchange(ref _next, new TaskCompletionSource<Published>(TaskCreationOptions.RunContinuationsAsynchronously));
        waiting.SetResult(published);
    }

    private sealed class StreamWatch(StatusSampler sampler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) Interlocked.Decrement(ref sampler._streams);
        }
    }

    [LoggerMessage(EventIds.StatusSampleFailed, LogLevel.Warning, "Status: could not build this second's snapshot: {Reason}")]
    private partial void LogSampleFailed(string reason);
}
