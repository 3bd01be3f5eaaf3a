namespace Gateway.Upstreams.ActiveMq;

/// <summary>
/// An ActiveMQ upstream: <c>stomp://host:61613</c> or <c>stomp+ssl://host:61614</c> endpoints. Amazon
/// MQ's active/standby pair gives two, and only the active one accepts connections.
/// </summary>
public sealed record ActiveMqUpstreamOptions : UpstreamOptions
{
    /// <summary>How long a TCP/TLS connect and the CONNECTED answer may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);
}
