using Gateway.Upstreams.Tls;

namespace Gateway.Upstreams;

/// <summary>What every upstream connection needs, whatever the broker kind.</summary>
public abstract record UpstreamOptions
{
    public required string Name { get; init; }

    /// <summary>Walked in order on failure (a cluster's nodes, or an active/standby pair).</summary>
    public required IReadOnlyList<Uri> Endpoints { get; init; }

    /// <summary>Overrides a user name in the URIs; with <see cref="Password"/>, keeps secrets out of URIs that get logged.</summary>
    public string? UserName { get; init; }

    public string? Password { get; init; }

    public TlsSettings Tls { get; init; } = TlsSettings.Default;

    /// <summary>
    /// How soon a silent, dead or frozen connection is noticed, also with nothing in flight: a STOMP
    /// broker silent for two intervals, an AMQP one for three (the client's rule) is taken for dead.
    /// 5 s: seen within 10-20 s, at a few bytes per interval, and far from the false alarms of 1-2 s.
    /// </summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(5);
}
