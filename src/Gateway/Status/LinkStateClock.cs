namespace Gateway.Status;

/// <summary>
/// Names an upstream's link state from what the forwarder says now, and remembers since when it is
/// in it. A link not connected is "reconnecting" for its first <see cref="DownAfter"/> (the forwarder
/// walks its endpoints with backoff meanwhile), "down" after that.
/// </summary>
public sealed class LinkStateClock(DateTimeOffset startedAt)
{
    /// <summary>A broker restart or a failover takes seconds; a minute without a link is an outage to show as one.</summary>
    public static readonly TimeSpan DownAfter = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, (string State, DateTimeOffset Since, DateTimeOffset LinkLostAt)> _links = new(StringComparer.Ordinal);

    public (string State, DateTimeOffset Since) Observe(string upstream, bool connected, bool blocked, DateTimeOffset now)
    {
        var (previous, since, lostAt) = _links.TryGetValue(upstream, out var known) ? known : ("", startedAt, startedAt);
        if (connected) lostAt = now;
        else if (previous is "connected" or "blocked") lostAt = now;
        var state = connected ? blocked ? "blocked" : "connected"
            : now - lostAt < DownAfter ? "reconnecting" : "down";
        if (state != previous && previous.Length > 0 && !(previous == "reconnecting" && state == "down")) since = now;
        // Down continues the outage that began when the link was lost: its since is that moment.
        if (state == "down") since = lostAt;
        _links[upstream] = (state, since, lostAt);
        return (state, since);
    }
}
