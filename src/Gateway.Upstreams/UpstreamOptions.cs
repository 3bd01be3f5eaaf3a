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
    public static TimeSpan DefaultHeartbeat { get; } = TimeSpan.FromSeconds(10);

    /// <summary>How soon a silent, dead connection is noticed.</summary>
    public TimeSpan Heartbeat { get; init; } = DefaultHeartbeat;
}
