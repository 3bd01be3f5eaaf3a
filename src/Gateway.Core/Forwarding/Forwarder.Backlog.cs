namespace Gateway.Core.Forwarding;

// What waits for this upstream, and for how long the link has been down: for /metrics and /readyz.
public sealed partial class Forwarder
{
    private readonly DrainEstimate _drain = new();

    /// <summary>When the link was last lost (<see cref="Environment.TickCount64"/>), or when the forwarder was made, before any link.</summary>
    private long _downSinceMs = Environment.TickCount64;

    /// <summary>How long the link has been down; null while it is up.</summary>
    public TimeSpan? DownFor => IsConnected ? null : TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref _downSinceMs));

    /// <summary>
    /// Messages waiting for this upstream: the sequence numbers committed after its cursor, and never
    /// more than the store holds (a sequence number another upstream's route took, or one expired or
    /// dropped, is not a message waiting here, so it is at most that).
    /// </summary>
    public long Backlog => Math.Min(outbox.Count, Math.Max(0, outbox.LastCommittedSequence - Position));

    /// <summary>The age of the oldest message after the cursor (one read of the store); zero when none waits.</summary>
    public TimeSpan OldestWaiting
    {
        get
        {
            if (Backlog == 0) return TimeSpan.Zero;
            var first = outbox.ReadAfter(Position, 1, int.MaxValue);
            return first.Count == 0 ? TimeSpan.Zero : DateTimeOffset.UtcNow - first[0].Message.ReceivedAt;
        }
    }

    /// <summary>Seconds to drain <see cref="Backlog"/> at the last minute's pace; 0 with none, NaN while nothing moves.</summary>
    public double DrainSeconds => _drain.SecondsToDrain(Environment.TickCount64, Position, Backlog);

    private void RegisterBacklogMetrics()
    {
        metrics.Gauge("upstream_down_seconds", Upstream, () => DownFor?.TotalSeconds ?? 0);
        metrics.Gauge("upstream_backlog_messages", Upstream, () => Backlog);
        metrics.Gauge("upstream_oldest_message_age_seconds", Upstream, () => Math.Max(0, OldestWaiting.TotalSeconds));
        metrics.Gauge("upstream_drain_eta_seconds", Upstream, () => DrainSeconds);
    }

    /// <summary>The link is gone (lost, failed or closed): down from now, unless it already was.</summary>
    private void MarkDown()
    {
        if (!_connected) return;
        _connected = false;
        Interlocked.Exchange(ref _downSinceMs, Environment.TickCount64);
    }

    /// <summary>Counts the confirmed deliveries per route, once per run of one route (a batch is mostly one route's).</summary>
    private void CountForwardedByRoute(List<Delivery> deliveries)
    {
        var start = 0;
        for (var i = 1; i <= deliveries.Count; i++)
        {
            if (i < deliveries.Count && ReferenceEquals(deliveries[i].Route, deliveries[start].Route)) continue;
            metrics.Increment("messages_forwarded_by_route_total", deliveries[start].Route.Filter, i - start);
            start = i;
        }
    }

    private void NoteProgress() => _drain.Sample(Environment.TickCount64, Position);
}
