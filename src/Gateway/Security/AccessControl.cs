using System.Collections.Concurrent;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;

namespace Gateway.Security;

/// <summary>
/// The ACL in force (<c>Gateway:Auth:AclFile</c>, read again when it changes), and the one place refusals
/// are counted and logged. Without an ACL file every client may do everything, as before ACLs existed.
/// </summary>
public sealed partial class AccessControl : IDisposable
{
    /// <summary>
    /// A connection refused again and again (a device publishing to a topic it may not, every second) is
    /// logged once per this interval, with the count of refusals not logged since: a flood must not fill
    /// the journal, and the first refusal is always seen.
    /// </summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    /// <summary>Bounds the per-connection log state; past it the state starts afresh (a line more at worst).</summary>
    private const int MaxLogStates = 10_000;

    private readonly ReloadingFile<AccessRules>? _file;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, RefusalLog> _logged = new(StringComparer.Ordinal);

    public AccessControl(GatewayOptions options, GatewayMetrics metrics, ILogger<AccessControl> logger)
    {
        _metrics = metrics;
        _logger = logger;
        if (options.Auth.AclFile is { } path)
            _file = new ReloadingFile<AccessRules>(path, "the ACL file (Gateway:Auth:AclFile)", AclFileParser.Parse, logger);
    }

    /// <summary>Whether an ACL file is configured; when not, nothing is checked (no interceptor is registered).</summary>
    public bool IsEnabled => _file is not null;

    /// <summary>The rules as last read; null without an ACL file.</summary>
    public AccessRules? Rules => _file?.Current;

    /// <summary>Looks at the file now rather than at the next poll.</summary>
    public void Poll() => _file?.Poll();

    /// <summary>One client's rules, kept until the file changes.</summary>
    public CachedAccess For(string? user, string clientId) => new(this, user, clientId);

    /// <summary>
    /// Counts a refusal (<c>acl_denied_total</c>, labelled by what was refused) and logs it, at most once per
    /// <see cref="LogInterval"/> per connection.
    /// </summary>
    /// <param name="what">mqtt_publish, mqtt_subscribe, mqtt_delivery, stomp_send, stomp_subscribe or stomp_delivery.</param>
    /// <param name="connection">Names the connection for the rate limit (its client id, or the STOMP session).</param>
    public void Refused(string what, string connection, string? user, string clientId, string topic, AclDecision decision)
    {
        _metrics.Increment("acl_denied_total", what);
        var now = Environment.TickCount64;
        if (_logged.Count > MaxLogStates) _logged.Clear();
        var state = _logged.GetOrAdd(connection, static _ => new RefusalLog());
        int unlogged;
        lock (state)
        {
            if (now < state.NextLogAt)
            {
                state.Unlogged++;
                return;
            }
            unlogged = state.Unlogged;
            state.Unlogged = 0;
            state.NextLogAt = now + (long)LogInterval.TotalMilliseconds;
        }
        LogRefused(what, string.IsNullOrEmpty(user) ? "(anonymous)" : user, clientId, topic, decision.Why, unlogged);
    }

    /// <summary>Forgets a connection's log state when it ends.</summary>
    public void Forget(string connection) => _logged.TryRemove(connection, out _);

    public void Dispose() => _file?.Dispose();

    private sealed class RefusalLog
    {
        public long NextLogAt;
        public int Unlogged;
    }

    [LoggerMessage(EventIds.AclRefused, LogLevel.Warning,
        "ACL refused {What} by user {User}, client {ClientId}, topic '{Topic}': {Why} (refusals on this connection not logged since its last line: {Unlogged})")]
    private partial void LogRefused(string what, string user, string clientId, string topic, string why, int unlogged);
}

/// <summary>One client's <see cref="ClientAccess"/>, worked out again only when the ACL file has changed.</summary>
public sealed class CachedAccess(AccessControl control, string? user, string clientId)
{
    private Resolved? _current;

    public string? User => user;

    public string ClientId => clientId;

    public ClientAccess Current
    {
        get
        {
            var rules = control.Rules;
            if (rules is null) return ClientAccess.Unrestricted;
            var current = Volatile.Read(ref _current);
            if (current is not null && ReferenceEquals(current.Rules, rules)) return current.Access;
            // A race here works the same out twice; the pair is swapped whole.
            var access = rules.For(user, clientId);
            Volatile.Write(ref _current, new Resolved(rules, access));
            return access;
        }
    }

    private sealed record Resolved(AccessRules Rules, ClientAccess Access);
}
