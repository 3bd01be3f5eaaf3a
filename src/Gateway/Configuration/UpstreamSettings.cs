using Gateway.Core.Forwarding;
using Gateway.Core.Routing;
using Gateway.Upstreams;

namespace Gateway.Configuration;

public enum UpstreamKind
{
    /// <summary>AMQP 0-9-1: <c>amqp://</c> / <c>amqps://</c> endpoints, routes name exchanges.</summary>
    RabbitMq,

    /// <summary>STOMP 1.2: <c>stomp://</c> / <c>stomp+ssl://</c> endpoints, routes name destinations.</summary>
    ActiveMq,
}

/// <summary>
/// How to reach one upstream broker, bound from <c>Gateway:Upstreams:&lt;name&gt;</c>. The same section
/// also sets how it is drained: <see cref="Forwarding"/>.
/// </summary>
public sealed record UpstreamSettings
{
    public UpstreamKind Kind { get; init; } = UpstreamKind.RabbitMq;

    /// <summary>
    /// RabbitMQ: <c>amqp://host:5672/vhost</c> or <c>amqps://host:5671/vhost</c>; ActiveMQ:
    /// <c>stomp://host:61613</c> or <c>stomp+ssl://host:61614</c>. Walked in order on failure.
    /// </summary>
    public List<string> Endpoints { get; init; } = [];

    public string? UserName { get; init; }

    /// <summary>Prefer <see cref="PasswordFile"/> or the environment variable; never logged.</summary>
    public string? Password { get; init; }

    /// <summary>A file whose first line is the password (a systemd credential, a mounted secret).</summary>
    public string? PasswordFile { get; init; }

    /// <summary>The name of a systemd credential (<c>LoadCredential=name:/path</c>) holding the password, read from <c>$CREDENTIALS_DIRECTORY</c>.</summary>
    public string? PasswordCredential { get; init; }

    /// <summary>A PEM or DER CA certificate that upstream TLS certificates must chain to (private CAs).</summary>
    public string? CaFile { get; init; }

    /// <summary>Lab use only: accept any TLS certificate. Logged as a warning at every start.</summary>
    public bool AllowUntrustedCertificate { get; init; }

    /// <summary>Heart-beat (STOMP) / heartbeat (AMQP) interval: how soon a silent, dead connection is noticed.</summary>
    public TimeSpan Heartbeat { get; init; } = UpstreamOptions.DefaultHeartbeat;

    /// <summary>Not a key: bound from this upstream's section beside these settings (see <see cref="GatewayConfiguration"/>).</summary>
    public ForwarderOptions Forwarding { get; init; } = new();

    /// <summary>Every value out of range, each a line naming its key as <paramref name="section"/><c>:Name</c>; passwords never appear.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (Endpoints.Count == 0) yield return $"{section}:Endpoints must list at least one endpoint";
        string[] schemes = Kind == UpstreamKind.ActiveMq ? ["stomp", "stomp+ssl"] : ["amqp", "amqps"];
        for (var i = 0; i < Endpoints.Count; i++)
        {
            var ok = Uri.TryCreate(Endpoints[i], UriKind.Absolute, out var uri) && schemes.Contains(uri.Scheme) && uri.Host.Length > 0;
            if (!ok)
                yield return $"{section}:Endpoints:{i} must be a URI with a host starting {string.Join(":// or ", schemes)}:// (Kind is {Kind}; was '{Redact(Endpoints[i])}')";
        }
        if (Heartbeat < TimeSpan.FromSeconds(1) && Heartbeat != TimeSpan.Zero) yield return $"{section}:Heartbeat must be 0 (off) or at least 1 second (was {Heartbeat})";
        if (new[] { Password is not null, PasswordFile is not null, PasswordCredential is not null }.Count(set => set) > 1)
            yield return $"{section}: set only one of Password, PasswordFile and PasswordCredential";
        if (PasswordCredential is { } credential && (credential.Length == 0 || credential.Contains('/') || credential.Contains("..", StringComparison.Ordinal)))
            yield return $"{section}:PasswordCredential must be a credential's name (no '/'; was '{credential}')";
        if (PasswordFile is not null && !File.Exists(PasswordFile)) yield return $"{section}:PasswordFile names a file that does not exist ('{PasswordFile}')";
        if (CaFile is not null && !File.Exists(CaFile)) yield return $"{section}:CaFile names a file that does not exist ('{CaFile}')";
        foreach (var problem in Forwarding.Validate(section)) yield return problem;
    }

    /// <summary>A URI with any password replaced, so an error message never carries a secret.</summary>
    internal static string Redact(string endpoint) =>
        Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.UserInfo.Contains(':')
            ? endpoint.Replace(uri.UserInfo, uri.UserInfo[..uri.UserInfo.IndexOf(':')] + ":***", StringComparison.Ordinal)
            : endpoint;
}

/// <summary>One route, bound from <c>Gateway:Routes:&lt;i&gt;</c>.</summary>
public sealed record RouteSettings
{
    /// <summary>MQTT topic filter, e.g. <c>sensors/#</c>.</summary>
    public string? Filter { get; init; }

    /// <summary>Name of an entry in <see cref="GatewayOptions.Upstreams"/>.</summary>
    public string? Upstream { get; init; }

    /// <summary>RabbitMQ exchange; default <c>amq.topic</c>.</summary>
    public string Exchange { get; init; } = "amq.topic";

    public ExchangeType ExchangeType { get; init; } = ExchangeType.Topic;

    /// <summary>Declare the exchange (durable) at connect; otherwise it must exist (checked passively).</summary>
    public bool DeclareExchange { get; init; }

    /// <summary>Fixed routing key; default: the topic with <c>/</c> and <c>.</c> swapped, as RabbitMQ's MQTT plugin does.</summary>
    public string? RoutingKey { get; init; }

    /// <summary>ActiveMQ: <c>/queue/name</c> or <c>/topic/name</c>; default <c>/topic/</c> plus the topic mapped as for routing keys.</summary>
    public string? Destination { get; init; }

    /// <summary>How long a message is worth delivering by this route; expired messages are removed and counted, never sent.</summary>
    public TimeSpan? Ttl { get; init; }

    /// <summary>This route's policy when the store is full; default: Gateway:Outbox:WhenFull.</summary>
    public Core.Outbox.WhenFull? WhenFull { get; init; }

    /// <summary>Every value out of range, each a line naming its key as <paramref name="section"/><c>:Name</c>.</summary>
    /// <param name="upstreams">The configured upstreams' names, one of which <see cref="Upstream"/> must be.</param>
    public IEnumerable<string> Validate(string section, IReadOnlyCollection<string> upstreams)
    {
        if (TopicFilter.Validate(Filter) is { } filterProblem) yield return $"{section}:Filter {filterProblem}";
        if (Upstream is null || !upstreams.Contains(Upstream))
            yield return $"{section}:Upstream must name a configured upstream ({(upstreams.Count == 0 ? "none configured" : string.Join(", ", upstreams))}; was '{Upstream}')";
        if (RoutingKey is not null && System.Text.Encoding.UTF8.GetByteCount(RoutingKey) > 255) yield return $"{section}:RoutingKey must be at most 255 bytes (AMQP short string)";
        if (Destination is not null && !((Destination.StartsWith("/queue/", StringComparison.Ordinal) || Destination.StartsWith("/topic/", StringComparison.Ordinal)) && Destination.Length > 7))
            yield return $"{section}:Destination must be /queue/<name> or /topic/<name> (was '{Destination}')";
        if (Ttl is not null && Ttl <= TimeSpan.Zero) yield return $"{section}:Ttl must be positive when set (was {Ttl})";
    }
}
