namespace Gateway.Configuration;

/// <summary>
/// What one client, or one address, may take of the gateway, bound from <c>Gateway:Limits</c>. The
/// defaults suit a Raspberry Pi class board (1-4 GB, a quad core, an SD card): far above what a site's
/// sensors and dashboards need, far below what would take the board down.
/// </summary>
public sealed record LimitsOptions
{
    /// <summary>
    /// Connections open at once over every listener together (MQTT, STOMP, both WebSockets): they share
    /// the board's memory and file descriptors, whatever the protocol.
    /// </summary>
    public int MaxConnections { get; init; } = 2000;

    /// <summary>Connections open at once from one address, over every listener together.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 100;

    /// <summary>New connections per second from one address, on average (a token bucket refilled at this rate).</summary>
    public double ConnectRatePerAddress { get; init; } = 10;

    /// <summary>New connections one address may open at once before <see cref="ConnectRatePerAddress"/> applies: a site's sensors reconnecting together after a reboot of their router.</summary>
    public int ConnectBurstPerAddress { get; init; } = 50;

    /// <summary>
    /// Clients connecting from 127.0.0.1 or ::1 (the gateway's own machine: a local bridge, a tool, the
    /// benchmarks) are not held to the per-address limits; they still count towards <see cref="MaxConnections"/>.
    /// Other 127/8 addresses are held to them like any address.
    /// </summary>
    public bool ExemptLoopback { get; init; } = true;

    /// <summary>
    /// How long a new MQTT connection may take to send its CONNECT, and an HTTP client its request
    /// headers (the WebSocket handshake); STOMP's own is <c>Gateway:Stomp:ConnectTimeout</c>.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages per second one client (MQTT or STOMP connection) may publish on average; beyond it its connection is read more slowly. 0: no limit.</summary>
    public double PublishRatePerClient { get; init; }

    /// <summary>Messages a client may publish at once before <see cref="PublishRatePerClient"/> applies (a sensor flushing what it queued while offline).</summary>
    public int PublishBurstPerClient { get; init; } = 1000;

    /// <summary>Topic filters one MQTT session may hold (STOMP's own is <c>Gateway:Stomp:MaxSubscriptionsPerConnection</c>).</summary>
    public int MaxSubscriptionsPerClient { get; init; } = 100;

    /// <summary>The longest topic or topic filter (MQTT) or destination's topic (STOMP), in UTF-8 bytes.</summary>
    public int MaxTopicBytes { get; init; } = 1024;

    /// <summary>The most levels (parts between <c>/</c>) a topic or topic filter may have.</summary>
    public int MaxTopicLevels { get; init; } = 32;

    /// <inheritdoc cref="MqttListenerOptions.Validate"/>
    public IEnumerable<string> Validate(string section)
    {
        if (MaxConnections <= 0) yield return $"{section}:MaxConnections must be positive (was {MaxConnections})";
        if (MaxConnectionsPerAddress <= 0) yield return $"{section}:MaxConnectionsPerAddress must be positive (was {MaxConnectionsPerAddress})";
        if (ConnectRatePerAddress <= 0) yield return $"{section}:ConnectRatePerAddress must be positive (was {ConnectRatePerAddress})";
        if (ConnectBurstPerAddress < 1) yield return $"{section}:ConnectBurstPerAddress must be at least 1 (was {ConnectBurstPerAddress})";
        if (ConnectTimeout < TimeSpan.FromMilliseconds(100) || ConnectTimeout > TimeSpan.FromMinutes(10))
            yield return $"{section}:ConnectTimeout must be 00:00:00.1 to 00:10:00 (was {ConnectTimeout})";
        if (PublishRatePerClient < 0) yield return $"{section}:PublishRatePerClient must be 0 (no limit) or positive (was {PublishRatePerClient})";
        if (PublishBurstPerClient < 1) yield return $"{section}:PublishBurstPerClient must be at least 1 (was {PublishBurstPerClient})";
        if (MaxSubscriptionsPerClient <= 0) yield return $"{section}:MaxSubscriptionsPerClient must be positive (was {MaxSubscriptionsPerClient})";
        if (MaxTopicBytes is < 16 or > 65535) yield return $"{section}:MaxTopicBytes must be 16 to 65535, MQTT's longest topic (was {MaxTopicBytes})";
        if (MaxTopicLevels < 1) yield return $"{section}:MaxTopicLevels must be at least 1 (was {MaxTopicLevels})";
    }
}
