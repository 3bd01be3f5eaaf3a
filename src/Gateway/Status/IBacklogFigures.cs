namespace Gateway.Status;

/// <summary>
/// The backlog per upstream and per route, read once a second by <see cref="StatusSampler"/>. Behind
/// an interface so that the figures can come from wherever they are kept (today
/// <see cref="OutboxBacklogFigures"/> reads the store; counters kept by the metrics would do too).
/// </summary>
public interface IBacklogFigures
{
    /// <summary>What waits for <paramref name="upstream"/>, and for each of its routes.</summary>
    /// <param name="upstream">The upstream.</param>
    /// <param name="cursor">Its cursor: everything at or below is confirmed.</param>
    /// <param name="now">The time to measure ages against.</param>
    (UpstreamBacklog Upstream, RouteBacklog[] Routes) Read(string upstream, long cursor, DateTimeOffset now);
}
