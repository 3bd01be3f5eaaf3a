using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Forwarding;
using Gateway.Hosting;
using Gateway.Storage.LiteDb;

namespace Gateway.Status;

/// <summary>
/// Builds one <see cref="StatusReport"/> from the parts' own state: the forwarders, the store, the
/// metrics' counters, the connected clients, the fault log. Called once a second by
/// <see cref="StatusSampler"/> (one thread), never per request: <see cref="Sample"/> always,
/// <see cref="BuildAsync"/> (which reads the store for the backlog) only while somebody watches.
/// </summary>
internal sealed class StatusBuilder(
    GatewayOptions options,
    ForwardingService forwarding,
    LiteDbOutbox store,
    LiteDbOutboxOptions storeOptions,
    GatewayMetrics metrics,
    IBacklogFigures backlog,
    ConnectedClients clients,
    FaultLog faults,
    TimeProvider time)
{
    private readonly DateTimeOffset _startedAt = time.GetUtcNow();
    private readonly CounterRate _ingest = new(), _forward = new();
    private readonly Dictionary<string, CounterRate> _forwardPerUpstream = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (double ForwardPerSecond, string State, DateTimeOffset Since)> _links = new(StringComparer.Ordinal);
    private readonly LinkStateClock _linkClock = new(time.GetUtcNow());
    private StatusSample _sample;

    /// <summary>
    /// This second's point of the charts, and each link's state and rate: taken every second, watched
    /// or not, from counters and flags only.
    /// </summary>
    public StatusSample Sample()
    {
        var now = time.GetUtcNow();
        var atMs = now.ToUnixTimeMilliseconds();
        long forwarded = 0;
        foreach (var forwarder in forwarding.Forwarders)
        {
            var count = metrics.Get("messages_forwarded_total", forwarder.Upstream);
            forwarded += count;
            var (state, since) = _linkClock.Observe(forwarder.Upstream, forwarder.IsConnected, forwarder.BlockedBecause is not null, now);
            _links[forwarder.Upstream] = (Math.Round(RateOf(forwarder.Upstream).Next(count, atMs), 1), state, since);
        }
        _sample = new StatusSample(now.ToUnixTimeSeconds(), Math.Round(_ingest.Next(metrics.Get("outbox_appended_total"), atMs), 1),
            Math.Round(_forward.Next(forwarded, atMs), 1), store.Count);
        return _sample;
    }

    /// <summary>The whole snapshot, with the last <see cref="Sample"/>'s rates and states; only while somebody watches.</summary>
    public async Task<StatusReport> BuildAsync()
    {
        var now = time.GetUtcNow();
        var upstreams = new List<UpstreamStatus>();
        var routes = new List<RouteBacklog>();
        foreach (var forwarder in forwarding.Forwarders)
        {
            var (upstream, ownRoutes) = DescribeUpstream(forwarder, now);
            upstreams.Add(upstream);
            routes.AddRange(ownRoutes);
        }

        return new StatusReport(
            options.Id!,
            now,
            _startedAt,
            upstreams.ToArray(),
            routes.ToArray(),
            new RateStatus(_sample.IngestPerSecond, _sample.ForwardPerSecond),
            DescribeDisk(),
            await clients.ReadAsync().ConfigureAwait(false),
            faults.Recent(),
            _sample);
    }

    private (UpstreamStatus, RouteBacklog[]) DescribeUpstream(Forwarder forwarder, DateTimeOffset now)
    {
        var (forwardPerSecond, state, since) = _links.TryGetValue(forwarder.Upstream, out var link) ? link : (0, "reconnecting", _startedAt);
        // Before the forwarder has started its position is 0: the stored cursor is where it will start.
        var cursor = Math.Max(forwarder.Position, store.GetCursor(forwarder.Upstream));
        var (waiting, routes) = backlog.Read(forwarder.Upstream, cursor, now);
        var status = new UpstreamStatus(forwarder.Upstream, state, since, forwarder.CurrentEndpoint, forwarder.BlockedBecause,
            faults.LastLinkError(forwarder.Upstream), forwardPerSecond, waiting);
        return (status, routes);
    }

    private DiskStatus DescribeDisk()
    {
        long free;
        try
        {
            free = storeOptions.FreeSpace(storeOptions.DataPath);
        }
        catch (IOException)
        {
            free = -1; // the data folder's file system cannot be asked: shown as unknown
        }
        return new DiskStatus(free, storeOptions.MinFreeDiskBytes, store.DiskFull, store.Count, storeOptions.MaxMessages, store.Bytes, storeOptions.MaxBytes);
    }

    private CounterRate RateOf(string upstream)
    {
        if (!_forwardPerUpstream.TryGetValue(upstream, out var rate)) _forwardPerUpstream[upstream] = rate = new CounterRate();
        return rate;
    }
}
