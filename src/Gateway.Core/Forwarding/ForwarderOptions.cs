namespace Gateway.Core.Forwarding;

/// <summary>How one upstream is drained.</summary>
public sealed record ForwarderOptions
{
    public static ForwarderOptions Default { get; } = new();

    /// <summary>
    /// Messages per batch. One confirm wait per batch; 500 keeps a RabbitMQ channel busy (measured: 256
    /// outstanding confirms already reach about 8,500/s on this class of machine) without holding a
    /// large retry set in memory.
    /// </summary>
    public int BatchMaxMessages { get; init; } = 500;

    /// <summary>Bytes per batch, so large payloads do not make one batch hundreds of megabytes.</summary>
    public int BatchMaxBytes { get; init; } = 1 << 20;

    /// <summary>
    /// How long a batch in flight may go without any confirm (counted from the send, then from the
    /// last confirm) before the link is called stalled and restarted. Quiet time, not the batch's age:
    /// a slow broker that still confirms is not a stall, so this can be short. 10 s of no confirm at all
    /// is far beyond a working broker's fsync (milliseconds to a second) and well within what an
    /// operator expects failover to take.
    /// </summary>
    public TimeSpan ConfirmTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First reconnect delay; doubles per failed attempt up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);
}
