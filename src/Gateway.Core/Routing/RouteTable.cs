using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace Gateway.Core.Routing;

/// <summary>The configured routes, answering which routes and which upstreams a topic goes to.</summary>
/// <remarks>
/// Asked for every message on ingest, on every forwarded batch and on every delete, so answers are
/// cached per topic. Devices can invent topics without end (one per sensor id), so the cache is
/// dropped when it reaches <see cref="MaxCachedTopics"/> rather than growing with them.
/// </remarks>
public sealed class RouteTable
{
    private const int MaxCachedTopics = 10_000;
    private static readonly IReadOnlyList<Route> NoRoutes = [];

    private readonly IReadOnlyList<Route> _routes;
    private ConcurrentDictionary<string, TopicRoutes> _cache = new(StringComparer.Ordinal);

    public RouteTable(IEnumerable<Route> routes, IEnumerable<string> upstreams)
    {
        _routes = routes.ToArray();
        Upstreams = upstreams.ToFrozenSet(StringComparer.Ordinal);
        foreach (var route in _routes)
        {
            if (!Upstreams.Contains(route.Upstream))
                throw new ArgumentException($"route '{route.Filter}' names upstream '{route.Upstream}', which is not configured");
        }
    }

    /// <summary>The configured upstream names, whether or not any route uses them.</summary>
    public FrozenSet<string> Upstreams { get; }

    public IReadOnlyList<Route> Routes => _routes;

    /// <summary>Store-and-forward only: with no upstream configured, everything is kept until one is.</summary>
    public bool HasUpstreams => Upstreams.Count > 0;

    /// <summary>With upstreams configured, no route takes the topic: it is local only or refused (Gateway:Unrouted), MQTT and STOMP alike.</summary>
    public bool IsUnrouted(string topic) => HasUpstreams && Match(topic).Count == 0;

    /// <summary>Every route whose filter matches the topic, in configuration order.</summary>
    public IReadOnlyList<Route> Match(string topic) => Lookup(topic).All;

    /// <summary>The routes to one upstream that match the topic, in configuration order.</summary>
    public IReadOnlyList<Route> Match(string topic, string upstream) =>
        Lookup(topic).ByUpstream.TryGetValue(upstream, out var routes) ? routes : NoRoutes;

    /// <summary>
    /// When a message on this topic stops being worth storing: the latest of its routes' TTLs (a
    /// route without one keeps it until delivered), bounded by the message's own expiry (MQTT 5).
    /// </summary>
    public DateTimeOffset? ExpiryFor(string topic, DateTimeOffset receivedAt, DateTimeOffset? messageExpiry)
    {
        var routes = Match(topic);
        DateTimeOffset? byRoutes = routes.Count == 0 || routes.Any(r => r.Ttl is null) ? null : receivedAt + routes.Max(r => r.Ttl!.Value);
        return (byRoutes, messageExpiry) switch
        {
            (null, var m) => m,
            (var r, null) => r,
            var (r, m) => r < m ? r : m,
        };
    }

    /// <summary>The position in <see cref="Routes"/> of the first route the topic matches, or -1 for none.</summary>
    public int FirstRouteIndex(string topic) => Lookup(topic).FirstIndex;

    /// <summary>The upstreams that must confirm a message on this topic before it may leave the outbox.</summary>
    public IReadOnlyCollection<string> UpstreamsFor(string topic) => Lookup(topic).ByUpstream.Keys;

    private TopicRoutes Lookup(string topic)
    {
        var cache = _cache;
        if (cache.TryGetValue(topic, out var found)) return found;

        var matched = new List<Route>();
        var firstIndex = -1;
        for (var i = 0; i < _routes.Count; i++)
        {
            if (!TopicFilter.Matches(_routes[i].Filter, topic)) continue;
            if (firstIndex < 0) firstIndex = i;
            matched.Add(_routes[i]);
        }
        var entry = new TopicRoutes(
            matched,
            firstIndex,
            matched.GroupBy(r => r.Upstream, StringComparer.Ordinal)
                   .ToDictionary(g => g.Key, g => (IReadOnlyList<Route>)g.ToArray(), StringComparer.Ordinal));

        if (cache.Count >= MaxCachedTopics) _cache = cache = new(StringComparer.Ordinal);
        cache.TryAdd(topic, entry);
        return entry;
    }

    private sealed record TopicRoutes(IReadOnlyList<Route> All, int FirstIndex, Dictionary<string, IReadOnlyList<Route>> ByUpstream);
}
