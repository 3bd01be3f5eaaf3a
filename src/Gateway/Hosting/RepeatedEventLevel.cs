using System.Collections.Concurrent;

namespace Gateway.Hosting;

/// <summary>
/// The level for an event that can happen once per message (a refused publish): Warning the first
/// time a cause is seen in an interval, Debug for its repeats, so a full store refusing thousands
/// of publishes a second writes one line a minute, not one per message. Every one is still counted
/// in the metrics. The cause is the reason with its figures taken out, so "the store is full (n
/// messages)" is one cause whatever n is.
/// </summary>
internal sealed class RepeatedEventLevel(TimeSpan interval)
{
    /// <summary>Causes remembered at most: reasons naming topics could otherwise grow the table without end.</summary>
    private const int MaxCauses = 256;

    private readonly ConcurrentDictionary<string, long> _lastWarned = new(StringComparer.Ordinal);

    public LogLevel For(string reason)
    {
        var cause = new string(reason.Where(c => !char.IsAsciiDigit(c)).ToArray());
        var now = Environment.TickCount64;
        if (_lastWarned.TryGetValue(cause, out var last) && now - last < interval.TotalMilliseconds) return LogLevel.Debug;
        if (_lastWarned.Count >= MaxCauses) _lastWarned.Clear();
        _lastWarned[cause] = now;
        return LogLevel.Warning;
    }
}
