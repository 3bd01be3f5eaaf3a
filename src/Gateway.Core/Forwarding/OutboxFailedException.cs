namespace Gateway.Core.Forwarding;

/// <summary>
/// The outbox failed under the forwarder (a read, a wait, a cursor move). Not the link's fault, and
/// nothing a reconnect mends, so it ends the forwarder instead of cycling the link.
/// </summary>
public sealed class OutboxFailedException(Exception inner) : Exception($"the outbox failed: {inner.Message}", inner);
