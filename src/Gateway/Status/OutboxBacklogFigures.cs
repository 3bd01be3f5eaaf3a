using Gateway.Core.Outbox;
using Gateway.Core.Routing;

namespace Gateway.Status;

/// <summary>
/// The backlog from the store itself, without walking it: one bounded read of the oldest messages
/// past the upstream's cursor (<see cref="LookMessages"/>, as a forwarder reads a batch). When the
/// read reaches the newest committed message, the counts are exact; otherwise they are the sequences
/// still ahead of the cursor, scaled by the share of the read that is this upstream's (and of each
/// route's), and marked as estimates.
/// </summary>
public sealed class OutboxBacklogFigures(IOutbox outbox, RouteTable routes, Func<long>? clockMs = null) : IBacklogFigures
{
    /// <summary>At most this many messages are read per upstream and refresh: two forwarder batches, a few milliseconds.</summary>
    public const int LookMessages = 2000;

    private const int LookBytes = 4 << 20;

    private readonly Dictionary<string, DrainEstimate> _drains = new(StringComparer.Ordinal);
    private readonly Func<long> _clockMs = clockMs ?? (() => Environment.TickCount64);

    public (UpstreamBacklog Upstream, RouteBacklog[] Routes) Read(string upstream, long cursor, DateTimeOffset now)
    {
        var last = outbox.LastCommittedSequence;
        var look = cursor < last ? outbox.ReadAfter(cursor, LookMessages, LookBytes) : [];
        var ownRoutes = routes.Routes.Where(r => r.Upstream == upstream).ToArray();
        var perRoute = new (long Messages, long Bytes)[ownRoutes.Length];
        long messages = 0, bytes = 0;
        DateTimeOffset? oldest = null;
        foreach (var stored in look)
        {
            var matched = routes.Match(stored.Message.Topic, upstream);
            if (matched.Count == 0) continue;
            messages++;
            bytes += stored.Message.Payload.Length;
            oldest ??= stored.Message.ReceivedAt;
            foreach (var route in matched)
            {
                var i = Array.IndexOf(ownRoutes, route);
                if (i >= 0) perRoute[i] = (perRoute[i].Messages + 1, perRoute[i].Bytes + stored.Message.Payload.Length);
            }
        }

        var exact = look.Count == 0 || look[^1].Sequence >= last;
        // Sequences ahead of the cursor, at most what the store holds (expired and dropped ones leave gaps).
        var scale = exact ? 1.0 : Math.Min(last - cursor, Math.Max(outbox.Count, look.Count)) / (double)look.Count;
        var total = Scale(messages, scale);
        var eta = Drain(upstream).Next(total, _clockMs());
        var backlog = new UpstreamBacklog(total, Scale(bytes, scale), exact,
            oldest is { } o ? Math.Max(0, Math.Round((now - o).TotalSeconds, 1)) : null, eta);
        var routeBacklogs = ownRoutes.Select((r, i) => new RouteBacklog(r.Filter, upstream, Scale(perRoute[i].Messages, scale), Scale(perRoute[i].Bytes, scale), exact)).ToArray();
        return (backlog, routeBacklogs);
    }

    private static long Scale(long value, double scale) => (long)Math.Round(value * scale);

    private DrainEstimate Drain(string upstream)
    {
        if (!_drains.TryGetValue(upstream, out var drain)) _drains[upstream] = drain = new DrainEstimate();
        return drain;
    }
}
