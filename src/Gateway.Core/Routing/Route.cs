namespace Gateway.Core.Routing;

/// <summary>Maps local topics matching <see cref="Filter"/> to a destination on one upstream.</summary>
/// <param name="Filter">An MQTT topic filter, e.g. <c>sensors/#</c>.</param>
/// <param name="Upstream">The name of a configured upstream.</param>
/// <param name="Target">Where on that upstream the message goes; its meaning depends on the upstream's kind.</param>
/// <param name="Ttl">How long a message is worth delivering by this route; null = until delivered.</param>
/// <param name="WhenFull">This route's policy when the store is full; null = the store's own.</param>
public sealed record Route(string Filter, string Upstream, RouteTarget Target, TimeSpan? Ttl = null, Outbox.WhenFull? WhenFull = null)
{
    /// <summary>Whether a message received at <paramref name="receivedAt"/> is past this route's TTL.</summary>
    public bool IsExpired(DateTimeOffset receivedAt, DateTimeOffset now) => Ttl is { } ttl && receivedAt + ttl <= now;
}

/// <summary>Where a routed message goes on its upstream.</summary>
/// <param name="Exchange">RabbitMQ: the exchange to publish to.</param>
/// <param name="ExchangeType">RabbitMQ: direct, topic or fanout; used when the exchange is declared.</param>
/// <param name="DeclareExchange">RabbitMQ: declare the exchange (durable) at connect; otherwise check it exists (passive).</param>
/// <param name="RoutingKey">RabbitMQ: a fixed routing key; null = the topic mapped by <see cref="TopicMapping.MqttTopicToDotted"/>.</param>
/// <param name="Destination">STOMP upstreams: <c>/queue/...</c> or <c>/topic/...</c>.</param>
public sealed record RouteTarget(
    string? Exchange = null,
    ExchangeType ExchangeType = ExchangeType.Topic,
    bool DeclareExchange = false,
    string? RoutingKey = null,
    string? Destination = null)
{
    public string RoutingKeyFor(string topic) => RoutingKey ?? TopicMapping.MqttTopicToDotted(topic);
}

public enum ExchangeType
{
    Direct,
    Topic,
    Fanout,
}
