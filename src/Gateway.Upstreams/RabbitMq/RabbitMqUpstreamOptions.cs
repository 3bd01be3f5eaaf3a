using Gateway.Upstreams.Tls;

namespace Gateway.Upstreams.RabbitMq;

public sealed record RabbitMqUpstreamOptions
{
    public required string Name { get; init; }

    /// <summary><c>amqp://</c> or <c>amqps://</c> URIs, walked in order on failure (a cluster's nodes, or one load-balanced name).</summary>
    public required IReadOnlyList<Uri> Endpoints { get; init; }

    /// <summary>Overrides a user name in the URIs; with <see cref="Password"/>, keeps secrets out of URIs that get logged.</summary>
    public string? UserName { get; init; }

    public string? Password { get; init; }

    public TlsSettings Tls { get; init; } = TlsSettings.Default;

    /// <summary>AMQP heartbeat: how soon a dead TCP connection is noticed when nothing else is sent.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Connection name shown in the RabbitMQ management UI.</summary>
    public string ClientName { get; init; } = "edge-gateway";

    /// <summary>The gateway id, sent as the AMQP <c>app-id</c>.</summary>
    public string GatewayId { get; init; } = "gateway";
}
