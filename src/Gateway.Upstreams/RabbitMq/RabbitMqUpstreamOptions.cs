namespace Gateway.Upstreams.RabbitMq;

/// <summary>A RabbitMQ upstream: <c>amqp://</c> or <c>amqps://</c> endpoints.</summary>
public sealed record RabbitMqUpstreamOptions : UpstreamOptions
{
    /// <summary>Connection name shown in the RabbitMQ management UI.</summary>
    public string ClientName { get; init; } = "edge-gateway";

    /// <summary>The gateway id, sent as the AMQP <c>app-id</c>.</summary>
    public string GatewayId { get; init; } = "gateway";
}
