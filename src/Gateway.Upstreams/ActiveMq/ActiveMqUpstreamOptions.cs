using Gateway.Upstreams.Tls;

namespace Gateway.Upstreams.ActiveMq;

public sealed record ActiveMqUpstreamOptions
{
    public required string Name { get; init; }

    /// <summary>
    /// <c>stomp://host:61613</c> or <c>stomp+ssl://host:61614</c>, walked in order on failure: Amazon MQ's
    /// active/standby pair gives two, and only the active one accepts connections.
    /// </summary>
    public required IReadOnlyList<Uri> Endpoints { get; init; }

    public string? UserName { get; init; }

    public string? Password { get; init; }

    public TlsSettings Tls { get; init; } = TlsSettings.Default;

    /// <summary>Heart-beat offered both ways; a broker silent for twice the agreed interval is taken for dead.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a TCP/TLS connect and the CONNECTED answer may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);
}
