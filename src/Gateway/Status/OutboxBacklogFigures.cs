using Gateway.Core.Outbox;
using Gateway.Core.Routing;

namespace Gateway.Status;

/// <summary>
/// The backlog from the store itself, without walking it: a bounded read of the oldest messages past
/// the upstream's cursor (<see cref="LookMessages"/>, as a forwarder reads a batch), kept and extended
/// from second to second rather than read again: while the cursor stands still only the messages
/// committed since are read, and once a look has stopped short of the newest message nothing is read
/// at all. When the look reaches the newest committed message the counts are exact; otherwise they
/// are scaled from the sequences it covered to all those ahead of the cursor, and marked as estimates.
/// </summary>
/// <remarks>
/// Messages removed behind the look's back (expired, dropped for room) are noticed at the next full
/// look: when the cursor moves, or after <see cref="RelookAfterMs"/>.
/// </remarks>
public sealed class OutboxBacklogFigures(IOutbox outbox, RouteTable routes, Func<long>? clockMs = null) : IBacklogFigures
{
    /// <summary>Messages read at most per upstream and refresh: one forwarder batch, a millisecond or two.</summary>
    public const int LookMessages = 1000;

    /// <summary>A look kept while the cursor stands still is taken again after this long, to see removals.</summary>
    public const long RelookAfterMs = 30_000;

    private const int LookBytes = 4 << 20;

    private readonly Dictionary<string, DrainEstimate> _drains = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Look> _looks = new(StringComparer.Ordinal);
    private readonly Func<long> _clockMs = clockMs ?? (() => Environment.TickCount64);

    public (UpstreamBacklog Upstream, RouteBacklog[] Routes) Read(string upstream, long cursor, DateTimeOffset now)
    {
        var nowMs = _clockMs();
        var last = outbox.LastCommittedSequence;
        var ownRoutes = routes.Routes.Where(r => r.Upstream == upstream).ToArray();
        if (!_looks.TryGetValue(upstream, out var look) || look.Cursor != cursor || nowMs - look.TakenAtMs >= RelookAfterMs)
            _looks[upstream] = look = new Look(cursor, nowMs, ownRoutes.Length);
        if (look.Through < last && !look.CutShort) Extend(look, upstream, ownRoutes, last);

        var exact = look.Through >= last;
        // The sequences ahead of the cursor over those the look covered (expired and dropped ones leave gaps in both).
        var scale = exact || look.Through <= cursor ? 1.0 : (double)(last - cursor) / (look.Through - cursor);
        var total = Scale(look.Messages, scale);
        var backlog = new UpstreamBacklog(total, Scale(look.Bytes, scale), exact,
            look.Oldest is { } o ? Math.Max(0, Math.Round((now - o).TotalSeconds, 1)) : null, Drain(upstream).Next(total, nowMs));
        var routeBacklogs = ownRoutes.Select((r, i) => new RouteBacklog(r.Filter, upstream, Scale(look.PerRoute[i].Messages, scale), Scale(look.PerRoute[i].Bytes, scale), exact)).ToArray();
        return (backlog, routeBacklogs);
    }

    /// <summary>Reads on from where the look ended, one bounded read; a read that does not reach <paramref name="last"/> ends the look.</summary>
    private void Extend(Look look, string upstream, Core.Routing.Route[] ownRoutes, long last)
    {
        var read = outbox.ReadAfter(look.Through, LookMessages, LookBytes);
        foreach (var stored in read)
        {
            var matched = routes.Match(stored.Message.Topic, upstream);
            if (matched.Count == 0) continue;
            look.Messages++;
            look.Bytes += stored.Message.Payload.Length;
            look.Oldest ??= stored.Message.ReceivedAt;
            foreach (var route in matched)
            {
                var i = Array.IndexOf(ownRoutes, route);
                if (i >= 0) look.PerRoute[i] = (look.PerRoute[i].Messages + 1, look.PerRoute[i].Bytes + stored.Message.Payload.Length);
            }
        }
        if (read.Count > 0) look.Through = read[^1].Sequence;
        if (look.Through < last) look.CutShort = read.Count > 0; // nothing read below last: gaps only, the look is whole
        if (read.Count == 0) look.Through = last;
    }

    private static long Scale(long value, double scale) => (long)Math.Round(value * scale);

    private DrainEstimate Drain(string upstream)
    {
        if (!_drains.TryGetValue(upstream, out var drain)) _drains[upstream] = drain = new DrainEstimate();
        return drain;
    }

    /// <summary>What one look has counted of the messages after <see cref="Cursor"/>, through <see cref="Through"/>.</summary>
    private sealed class Look(long cursor, long takenAtMs, int routeCount)
    {
        public long Cursor { get; } = cursor;
        public long TakenAtMs { get; } = takenAtMs;
        public long Through { get; set; } = cursor;
        public bool CutShort { get; set; }
        public long Messages { get; set; }
        public long Bytes { get; set; }
        public DateTimeOffset? Oldest { get; set; }
        public (long Messages, long Bytes)[] PerRoute { get; } = new (long, long)[routeCount];
    }
}
