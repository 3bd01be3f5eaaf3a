namespace Gateway.Core.Messages;

/// <summary>A message committed to the outbox, identified by the gateway's monotonic sequence.</summary>
public sealed record StoredMessage(long Sequence, IncomingMessage Message)
{
    /// <summary>The id every upstream copy carries, so consumers can drop replays: <c>&lt;gateway-id&gt;-&lt;sequence&gt;</c>.</summary>
    public string MessageId(string gatewayId) => string.Create(null, stackalloc char[64], $"{gatewayId}-{Sequence}");
}
