namespace Gateway.Core.Messages;

/// <summary>A message as a client handed it to the gateway, before it has a sequence number.</summary>
/// <remarks>
/// Carries what an upstream needs of an MQTT 5 publish (content type, correlation data, response topic,
/// user properties, expiry) so nothing a consumer relies on is lost on the way through the store.
/// </remarks>
public sealed record IncomingMessage
{
    public required string Topic { get; init; }
    public required ReadOnlyMemory<byte> Payload { get; init; }
    public QualityOfService Qos { get; init; }
    public bool Retain { get; init; }
    public string? ContentType { get; init; }
    public ReadOnlyMemory<byte>? CorrelationData { get; init; }
    public string? ResponseTopic { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> UserProperties { get; init; } = [];

    /// <summary>When the message stops being worth delivering (MQTT 5 message expiry); null = never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    public required string ClientId { get; init; }
    public required DateTimeOffset ReceivedAt { get; init; }

    /// <summary>A rough size used for batch and group limits: payload plus the strings that travel with it.</summary>
    public int ApproximateSize => Payload.Length + Topic.Length + ClientId.Length + 64;
}

public enum QualityOfService : byte
{
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}
