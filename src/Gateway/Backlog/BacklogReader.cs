using Gateway.Core.Messages;
using Gateway.Core.Routing;
using Gateway.Storage.LiteDb;
using Route = Gateway.Core.Routing.Route;

namespace Gateway.Backlog;

/// <summary>
/// The backlog over an open outbox: what the admin API serves while the gateway runs, and what the
/// command line uses on a stopped gateway's store. Reads beside the writer as a forwarder does; a
/// purge is run by the outbox's own writer.
/// </summary>
public sealed class BacklogReader(LiteDbOutbox outbox, RouteTable routes, TimeProvider? clock = null)
{
    /// <summary>Messages read per step while filtering: bounded memory for any backlog.</summary>
    private const int ReadBatch = 500;

    /// <summary>Most messages in one page, whatever is asked: a page is one HTTP answer.</summary>
    public const int MaxLimit = 10_000;

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public long Stored => outbox.Count;

    public BacklogPage List(BacklogQuery query)
    {
        var route = ResolveRoute(query.Route);
        if (query.Upstream is { } upstream && !routes.Upstreams.Contains(upstream))
            throw new BacklogRequestException($"no upstream '{upstream}' (configured: {Names(routes.Upstreams)})");
        var limit = Math.Clamp(query.Limit, 1, MaxLimit);
        var found = new List<BacklogEntry>();
        var batch = new List<StoredMessage>();
        var after = Math.Max(0, query.From - 1);
        while (found.Count < limit)
        {
            batch.Clear();
            batch.AddRange(outbox.ReadAfter(after, ReadBatch, int.MaxValue));
            if (batch.Count == 0) return new BacklogPage(Stored, found.ToArray(), null);
            foreach (var message in batch)
            {
                after = message.Sequence;
                if (!Matches(message, route, query.Upstream)) continue;
                found.Add(Entry(message, query.Details));
                if (found.Count == limit) break;
            }
        }
        return new BacklogPage(Stored, found.ToArray(), after + 1);
    }

    /// <summary>One message with its details, or null when it is not (or no longer) stored.</summary>
    public BacklogEntry? Show(long sequence)
    {
        var read = outbox.ReadAfter(sequence - 1, 1, int.MaxValue);
        return read.Count == 1 && read[0].Sequence == sequence ? Entry(read[0], details: true) : null;
    }

    public async Task<PurgeResult> PurgeAsync(PurgeRequest request, CancellationToken cancellationToken)
    {
        if (request.Route is null && request.Before is null && request.OlderThan is null)
            throw new BacklogRequestException("a purge needs a route, a sequence to purge before, or an age to purge older than");
        var route = ResolveRoute(request.Route);
        var receivedBefore = request.OlderThan is { } age ? _clock.GetUtcNow() - age : (DateTimeOffset?)null;
        var removed = await outbox.PurgeAsync(m =>
            (route is null || routes.Match(m.Message.Topic).Any(route.Contains))
            && (request.Before is not { } before || m.Sequence < before)
            && (receivedBefore is not { } cutoff || m.Message.ReceivedAt < cutoff), cancellationToken).ConfigureAwait(false);
        return new PurgeResult(removed, Stored);
    }

    /// <summary>The routes an operator named, by index or filter; null for none named.</summary>
    private HashSet<Route>? ResolveRoute(string? name)
    {
        if (name is null) return null;
        var all = routes.Routes;
        if (int.TryParse(name, out var index) && index >= 0 && index < all.Count) return [all[index]];
        var byFilter = all.Where(r => r.Filter == name).ToHashSet();
        if (byFilter.Count > 0) return byFilter;
        var known = all.Count == 0 ? "none configured" : string.Join(", ", all.Select((r, i) => $"{i} {r.Filter}"));
        throw new BacklogRequestException($"no route '{name}' (routes by index and filter: {known})");
    }

    private bool Matches(StoredMessage message, HashSet<Route>? route, string? upstream) =>
        (route is null || routes.Match(message.Message.Topic).Any(route.Contains))
        && (upstream is null || OwedBy(message).Contains(upstream));

    private string[] OwedBy(StoredMessage message) =>
        routes.UpstreamsFor(message.Message.Topic).Where(u => outbox.GetCursor(u) < message.Sequence).Order(StringComparer.Ordinal).ToArray();

    private BacklogEntry Entry(StoredMessage stored, bool details)
    {
        var m = stored.Message;
        var entry = new BacklogEntry(stored.Sequence, m.Topic, m.Payload.Length, m.ReceivedAt,
            Math.Round((_clock.GetUtcNow() - m.ReceivedAt).TotalSeconds, 3), OwedBy(stored));
        if (!details) return entry;
        return entry with
        {
            ClientId = m.ClientId,
            Qos = (int)m.Qos,
            Retain = m.Retain,
            ContentType = m.ContentType,
            ResponseTopic = m.ResponseTopic,
            CorrelationData = m.CorrelationData is { Length: > 0 } c ? Convert.ToBase64String(c.Span) : null,
            ExpiresAt = m.ExpiresAt,
            UserProperties = m.UserProperties.Count == 0 ? null : m.UserProperties.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value),
            Payload = Convert.ToBase64String(m.Payload.Span),
        };
    }

    private static string Names(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "none";
}
