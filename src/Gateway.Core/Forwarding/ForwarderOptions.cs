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
    /// a slow broker that still confirms is not a stall, so this can be short. 5 s of no confirm at all
    /// is far beyond a working broker's fsync (milliseconds to a second), and with the 1 s close grace
    /// and a reconnect it keeps failover from a frozen broker under 10 s.
    /// </summary>
    public TimeSpan ConfirmTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First reconnect delay; doubles per failed attempt up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Every value out of range, each a line naming its key as <paramref name="section"/><c>:Name</c>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (BatchMaxMessages is <= 0 or > 10_000) yield return $"{section}:BatchMaxMessages must be 1-10000 (was {BatchMaxMessages})";
        if (BatchMaxBytes <= 0) yield return $"{section}:BatchMaxBytes must be positive (was {BatchMaxBytes})";
        if (ConfirmTimeout <= TimeSpan.Zero) yield return $"{section}:ConfirmTimeout must be positive (was {ConfirmTimeout})";
        if (ReconnectMinDelay <= TimeSpan.Zero) yield return $"{section}:ReconnectMinDelay must be positive (was {ReconnectMinDelay})";
        if (ReconnectMaxDelay < ReconnectMinDelay) yield return $"{section}:ReconnectMaxDelay must be at least ReconnectMinDelay (was {ReconnectMaxDelay})";
    }
}
