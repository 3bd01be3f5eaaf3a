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

    public int MaxSubscriptions { get; init; } = 100;

    /// <summary>Frames (SEND, ACK, NACK) one transaction may hold until COMMIT.</summary>
    public int MaxTransactionFrames { get; init; } = 1000;

    public int MaxOpenTransactions { get; init; } = 16;

    /// <summary>Message body bytes all open transactions of a connection may hold until COMMIT.</summary>
    public long MaxTransactionBytes { get; init; } = 8L << 20;

    /// <summary>How long the goodbye (an ERROR, a DISCONNECT's RECEIPT) may take to be written before the connection is cut.</summary>
    public TimeSpan CloseGrace { get; init; } = TimeSpan.FromSeconds(2);

    public StompLimits Limits { get; init; } = StompLimits.Default;
}
