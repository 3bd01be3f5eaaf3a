namespace Gateway.Stomp.Server;

/// <summary>How a server session behaves; the defaults suit dashboards on a small board.</summary>
public sealed record StompServerOptions
{
    /// <summary>The <c>server</c> header of CONNECTED.</summary>
    public string ServerName { get; init; } = "edge-gateway";

    /// <summary>
    /// Our heart-beat offer: the shortest interval at which we send (x) and at which we want to hear
    /// from the client (y). The client's header decides the real intervals (STOMP 1.2, "Heart-beating").
    /// </summary>
    public TimeSpan HeartbeatSend { get; init; } = TimeSpan.FromSeconds(10);

    /// <inheritdoc cref="HeartbeatSend"/>
    public TimeSpan HeartbeatReceive { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// One interval offered both ways: sets <see cref="HeartbeatSend"/> and <see cref="HeartbeatReceive"/>
    /// (the gateway's single configuration key); reads as <see cref="HeartbeatSend"/>.
    /// </summary>
    public TimeSpan Heartbeat
    {
        get => HeartbeatSend;
        init => HeartbeatSend = HeartbeatReceive = value;
    }

    /// <summary>A client silent for this many negotiated intervals is gone (network delay allowed for).</summary>
    public double HeartbeatTolerance { get; init; } = 2.0;

    /// <summary>How long a new connection may take to send CONNECT.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// MESSAGE frames waiting to be written to one connection, plus (for client and client-individual
    /// subscriptions) those written and not yet acknowledged. Beyond it the client is a slow consumer:
    /// it gets an ERROR saying so and is disconnected, and nobody else waits for it.
    /// </summary>
    public int MaxPendingMessages { get; init; } = 1000;

    /// <summary>The same limit in body bytes (a few large messages weigh as much as many small ones).</summary>
    public long MaxPendingBytes { get; init; } = 16L << 20;

    /// <summary>SUBSCRIBEs one connection may hold at once.</summary>
    public int MaxSubscriptionsPerConnection { get; init; } = 100;

    /// <summary>Frames (SEND, ACK, NACK) one transaction may hold until COMMIT.</summary>
    public int MaxTransactionFrames { get; init; } = 1000;

    public int MaxOpenTransactions { get; init; } = 16;

    /// <summary>Message body bytes all open transactions of a connection may hold until COMMIT.</summary>
    public long MaxTransactionBytes { get; init; } = 8L << 20;

    /// <summary>How long the goodbye (an ERROR, a DISCONNECT's RECEIPT) may take to be written before the connection is cut.</summary>
    public TimeSpan CloseGrace { get; init; } = TimeSpan.FromSeconds(2);

    public StompLimits Limits { get; init; } = StompLimits.Default;

    /// <summary>Every value out of range, each a line naming its key as <paramref name="section"/><c>:Name</c>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (MaxPendingMessages <= 0) yield return $"{section}:MaxPendingMessages must be positive (was {MaxPendingMessages})";
        if (MaxPendingBytes < 64 * 1024) yield return $"{section}:MaxPendingBytes must be at least 65536 (was {MaxPendingBytes})";
        foreach (var heartbeat in new[] { HeartbeatSend, HeartbeatReceive }.Distinct())
        {
            if (heartbeat < TimeSpan.Zero || heartbeat > TimeSpan.FromHours(1)) yield return $"{section}:Heartbeat must be between 0 and 1 hour (was {heartbeat})";
        }
        if (ConnectTimeout <= TimeSpan.Zero) yield return $"{section}:ConnectTimeout must be positive (was {ConnectTimeout})";
        if (MaxSubscriptionsPerConnection <= 0) yield return $"{section}:MaxSubscriptionsPerConnection must be positive (was {MaxSubscriptionsPerConnection})";
    }
}
