using System.Text;
using System.Text.Json;
using Gateway.Core.Diagnostics;

namespace Gateway.Status;

/// <summary>
/// Builds the status once a second, whoever is watching, and keeps it encoded: <c>/api/status</c>
/// answers the bytes built last, and every open <c>/api/status/events</c> stream writes the same
/// frame, so N dashboards cost one snapshot a second plus N small writes. The charts' hour of
/// samples is kept here too.
/// </summary>
internal sealed partial class StatusSampler(StatusBuilder builder, ILogger<StatusSampler> logger) : BackgroundService
{
    /// <summary>Clients listed by name in a snapshot; the counts cover all. Keeps a snapshot small on a busy gateway.</summary>
    public const int MaxClientsListed = 100;

    /// <summary>One sample a second, the dashboard's refresh: the page is then a second behind at most.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private TaskCompletionSource<Published> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Published? _current;

    /// <summary>One snapshot, as JSON and as a server-sent event frame.</summary>
    public sealed record Published(byte[] Json, byte[] EventFrame);

    public StatusHistory History { get; } = new(3600);

    /// <summary>The last snapshot, or null before the first.</summary>
    public Published? Current => _current;

    /// <summary>Completes with the first snapshot built after <paramref name="seen"/>.</summary>
    public Task<Published> NextAsync(Published? seen, CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is not null && !ReferenceEquals(current, seen)) return Task.FromResult(current);
        return Volatile.Read(ref _next).Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                Publish(await builder.BuildAsync().ConfigureAwait(false));
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
        var published = new Published(json, frame);
        _current = published;
        var waiting = Interlocked.Exchange(ref _next, new TaskCompletionSource<Published>(TaskCreationOptions.RunContinuationsAsynchronously));
        waiting.SetResult(published);
    }

    [LoggerMessage(EventIds.StatusSampleFailed, LogLevel.Warning, "Status: could not build this second's snapshot: {Reason}")]
    private partial void LogSampleFailed(string reason);
}
