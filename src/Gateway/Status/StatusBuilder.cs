using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Forwarding;
using Gateway.Hosting;
using Gateway.Storage.LiteDb;

namespace Gateway.Status;

/// <summary>
/// Builds one <see cref="StatusReport"/> from the parts' own state: the forwarders, the store, the
/// metrics' counters, the connected clients, the fault log. Called once a second by
/// <see cref="StatusSampler"/> (one thread), never per request.
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
    private readonly LinkStateClock _links = new(time.GetUtcNow());

    public async Task<StatusReport> BuildAsync()
    {
        var now = time.GetUtcNow();
        var atMs = now.ToUnixTimeMilliseconds();
        var upstreams = new List<UpstreamStatus>();
        var routes = new List<RouteBacklog>();
        long forwarded = 0;
        foreach (var forwarder in forwarding.Forwarders)
        {
            var count = metrics.Get("messages_forwarded_total", forwarder.Upstream);
            forwarded += count;
            var (upstream, ownRoutes) = DescribeUpstream(forwarder, now, RateOf(forwarder.Upstream).Next(count, atMs));
            upstreams.Add(upstream);
            routes.AddRange(ownRoutes);
        }

        var rates = new RateStatus(Math.Round(_ingest.Next(metrics.Get("outbox_appended_total"), atMs), 1), Math.Round(_forward.Next(forwarded, atMs), 1));
        return new StatusReport(
            options.Id!,
            now,
            _startedAt,
            upstreams.ToArray(),
            routes.ToArray(),
            rates,
            DescribeDisk(),
            await clients.ReadAsync().ConfigureAwait(false),
            faults.Recent(),
            new StatusSample(now.ToUnixTimeSeconds(), rates.IngestPerSecond, rates.ForwardPerSecond, store.Count));
    }

    private (UpstreamStatus, RouteBacklog[]) DescribeUpstream(Forwarder forwarder, DateTimeOffset now, double forwardPerSecond)
    {
        var blockedBecause = forwarder.BlockedBecause;
        var (state, since) = _links.Observe(forwarder.Upstream, forwarder.IsConnected, blockedBecause is not null, now);
        // Before the forwarder has started its position is 0: the stored cursor is where it will start.
        var cursor = Math.Max(forwarder.Position, store.GetCursor(forwarder.Upstream));
        var (waiting, routes) = backlog.Read(forwarder.Upstream, cursor, now);
        var status = new UpstreamStatus(forwarder.Upstream, state, since, forwarder.CurrentEndpoint, blockedBecause,
            faults.LastLinkError(forwarder.Upstream), Math.Round(forwardPerSecond, 1), waiting);
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
