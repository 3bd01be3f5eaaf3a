using System.Collections.Concurrent;
using Gateway.Core.Diagnostics;

namespace Gateway.Limits;

/// <summary>
/// Counts every time a limit is exceeded, in <c>gateway_limits_exceeded_total{reason=...}</c>, and logs
/// it: the first time, then at most one line per reason every <see cref="LogInterval"/>, saying how many
/// went unlogged, so a flood of refused connections does not become a flood of log lines on the SD card.
/// </summary>
internal sealed partial class LimitLog(GatewayMetrics metrics, ILogger<LimitLog> logger, TimeProvider time)
{
    /// <summary>Long enough that 5,000 refusals a second write one line, short enough that the journal shows an attack while it lasts.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    /// <param name="reason">One of <see cref="LimitReasons"/>.</param>
    /// <param name="remote">Who: an address, a client id.</param>
    /// <param name="detail">What was refused and how, for the log line.</param>
    public void Exceeded(string reason, string remote, string detail)
    {
        metrics.Increment(LimitReasons.Metric, reason);
        var window = _windows.GetOrAdd(reason, static _ => new Window());
        var now = time.GetTimestamp();
        long unlogged;
        lock (window)
        {
            if (window.LastLogged != 0 && time.GetElapsedTime(window.LastLogged, now) < LogInterval)
            {
                window.Unlogged++;
                return;
            }
            unlogged = window.Unlogged;
            window.Unlogged = 0;
            window.LastLogged = now;
        }
        LogExceeded(reason, remote, detail, unlogged);
    }

    private sealed class Window
    {
        public long LastLogged;
        public long Unlogged;
    }

    [LoggerMessage(EventIds.LimitExceeded, LogLevel.Warning,
        "Limit {Reason}: {Remote} {Detail} ({Unlogged} more since the last such line; all counted in gateway_limits_exceeded_total)")]
    private partial void LogExceeded(string reason, string remote, string detail, long unlogged);
}
