namespace Gateway.Stomp;

/// <summary>What a peer may send before the reader refuses it. Checked before anything is allocated.</summary>
public sealed record StompLimits
{
    /// <summary>Sized for sensor data and dashboards: 1 MiB bodies (the outbox's default limit), headers kept small.</summary>
    public static StompLimits Default { get; } = new();

    public int MaxBodyBytes { get; init; } = 1 << 20;

    public int MaxHeaders { get; init; } = 64;

    /// <summary>One command or header line, escapes included.</summary>
    public int MaxLineBytes { get; init; } = 8 * 1024;

    /// <summary>Command and all header lines together.</summary>
    public int MaxHeaderBytes { get; init; } = 64 * 1024;
}
