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

    /// <summary>The <see cref="Heartbeat"/> when none is set; the gateway's configuration takes its default from here.</summary>
    /// <remarks>
    /// 3 s: a STOMP broker silent for two intervals, an AMQP one for three (the client's rule), is taken
    /// for dead, so an idle dead or frozen broker shows on /healthz within about 6-9 s, at a few bytes per
    /// interval; 1-2 s would take a congested uplink's hiccup for a dead broker.
    /// </remarks>
    public static TimeSpan DefaultHeartbeat { get; } = TimeSpan.FromSeconds(3);

    /// <summary>How soon a silent, dead or frozen connection is noticed, also with nothing in flight.</summary>
    public TimeSpan Heartbeat { get; init; } = DefaultHeartbeat;
}
