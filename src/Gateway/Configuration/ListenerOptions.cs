using System.Net;

namespace Gateway.Configuration;

/// <summary>The MQTT listener, bound from <c>Gateway:Mqtt</c>.</summary>
public sealed record MqttListenerOptions
{
    /// <summary>MQTT over plain TCP; 0 turns it off (MQTT over TLS and over WebSocket stay).</summary>
    public int Port { get; init; } = 1883;
    public string BindAddress { get; init; } = "0.0.0.0";

    /// <summary>MQTT over TLS, on <see cref="BindAddress"/>. Unset: 8883 when Gateway:Tls has a certificate, else off; 0 off.</summary>
    public int? TlsPort { get; init; }

    /// <summary>Messages queued for one subscriber before the oldest are dropped: MQTTnet's per-session queue, and what the gateway keeps of a persistent session across restarts.</summary>
    public int MaxPendingMessagesPerClient { get; init; } = 10_000;

    /// <summary>Keep sessions of clients that connect with clean session off (MQTT 3.1.1) / a session expiry (MQTT 5).</summary>
    public bool PersistentSessions { get; init; } = true;

    /// <summary>
    /// The largest MQTT packet a client may send, in bytes (fixed header included); a larger one is
    /// refused from its header and the connection closed, before any memory is taken for it. Default:
    /// Gateway:Outbox:MaxMessageBytes plus 128 KiB for the topic and properties. A CONNECT may be at most 64 KiB.
    /// </summary>
    public int? MaxPacketBytes { get; init; }

    /// <summary>
    /// A client that connects with an empty client id (and, on MQTT 3.1.1, clean session on) is given a
    /// unique one, <c>auto-</c> and 32 hex digits, sent back to MQTT 5 clients in CONNACK. Off: an empty id is refused.
    /// </summary>
    public bool AssignClientIds { get; init; } = true;

    /// <summary>MQTT 5's Server Keep Alive: the keep alive every MQTT 5 client must use instead of its own, in seconds; 0 leaves each client's.</summary>
    public int ServerKeepAliveSeconds { get; init; }

    /// <summary>
    /// How often the retained <c>$SYS/gateway/...</c> topics (uptime, connections, messages, backlog,
    /// upstream links) are published to local subscribers; 0 publishes none.
    /// </summary>
    public TimeSpan SysTopicsInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Give MQTT 5 clients that allow it (Topic Alias Maximum in CONNECT) topic aliases for the topics sent
    /// to them: the topic goes out in full once, then as a two-byte alias. Off: topics always in full,
    /// for clients that announce aliases they mishandle.
    /// </summary>
    public bool SendTopicAliases { get; init; } = true;

    /// <summary>Every value out of range, each a line naming its key as <paramref name="section"/><c>:Name</c>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        foreach (var problem in ListenerPorts.Validate(section, Port, TlsPort)) yield return problem;
        if (!IPAddress.TryParse(BindAddress, out _)) yield return $"{section}:BindAddress must be an IP address (was '{BindAddress}')";
        if (MaxPendingMessagesPerClient <= 0) yield return $"{section}:MaxPendingMessagesPerClient must be positive (was {MaxPendingMessagesPerClient})";
        if (SysTopicsInterval != TimeSpan.Zero && (SysTopicsInterval < TimeSpan.FromSeconds(1) || SysTopicsInterval > TimeSpan.FromHours(1)))
            yield return $"{section}:SysTopicsInterval must be 0 (off) or 00:00:01 to 01:00:00 (was {SysTopicsInterval})";
        if (MaxPacketBytes is < 1024 or > 268_435_460) yield return $"{section}:MaxPacketBytes must be 1024 to 268435460, MQTT's largest packet (was {MaxPacketBytes})";
        if (ServerKeepAliveSeconds is < 0 or > ushort.MaxValue) yield return $"{section}:ServerKeepAliveSeconds must be 0 (each client's own) to 65535 (was {ServerKeepAliveSeconds})";
    }
}

/// <summary>The HTTP listener, bound from <c>Gateway:Http</c>.</summary>
public sealed record HttpListenerOptions
{
    /// <summary>Health, metrics, STOMP over WebSocket (<c>/stomp</c>), MQTT over WebSocket (<c>/mqtt</c>) and the example page.</summary>
    public int Port { get; init; } = 8080;
    public string BindAddress { get; init; } = "0.0.0.0";

    /// <summary>The same over HTTPS (WSS for <c>/stomp</c> and <c>/mqtt</c>). Unset: 8443 when Gateway:Tls has a certificate, else off; 0 off.</summary>
    public int? TlsPort { get; init; }

    /// <summary>
    /// Web pages of other origins allowed to open <c>/stomp</c> and <c>/mqtt</c> (<c>https://dash.example</c>,
    /// or <c>*</c> for any). Pages served by the gateway itself, and clients that send no Origin
    /// (devices, Node, scripts), are always allowed; any other page a browser opens is refused, so a
    /// site visited on the plant's network cannot publish through the gateway.
    /// </summary>
    public List<string> AllowedOrigins { get; init; } = [];

    /// <inheritdoc cref="MqttListenerOptions.Validate"/>
    public IEnumerable<string> Validate(string section)
    {
        foreach (var problem in ListenerPorts.Validate(section, Port, TlsPort)) yield return problem;
        if (!IPAddress.TryParse(BindAddress, out _)) yield return $"{section}:BindAddress must be an IP address (was '{BindAddress}')";
        for (var i = 0; i < AllowedOrigins.Count; i++)
        {
            var origin = AllowedOrigins[i];
            var ok = origin == "*" || (Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/" && !origin.EndsWith('/'));
            if (!ok) yield return $"{section}:AllowedOrigins:{i} must be * or an origin such as https://dash.example or http://10.0.0.5:3000 (was '{origin}')";
        }
    }
}

/// <summary>
/// The STOMP listeners, bound from <c>Gateway:Stomp</c>. The same section also sets the sessions'
/// <see cref="Stomp.Server.StompServerOptions"/> (pending limits, heart-beat, CONNECT timeout, subscriptions).
/// </summary>
public sealed record StompListenerOptions
{
    /// <summary>STOMP over plain TCP; 0 turns the TCP listener off (STOMP over WebSocket at <c>/stomp</c> stays).</summary>
    public int Port { get; init; } = 61613;
    public string BindAddress { get; init; } = "0.0.0.0";

    /// <summary>STOMP over TLS (ActiveMQ's stomp+ssl port). Unset: 61614 when Gateway:Tls has a certificate, else off; 0 off.</summary>
    public int? TlsPort { get; init; }

    /// <summary>
    /// The kernel's send buffer per STOMP connection (TCP and WebSocket), in bytes; 0 leaves it to the
    /// OS, which grows it to megabytes per connection. Bounded, a thousand dashboards cannot take the
    /// board's memory, and a client that stops reading is noticed (and disconnected) in seconds.
    /// </summary>
    public int SocketSendBufferBytes { get; init; } = 64 * 1024;

    /// <inheritdoc cref="MqttListenerOptions.Validate"/>
    public IEnumerable<string> Validate(string section)
    {
        foreach (var problem in ListenerPorts.Validate(section, Port, TlsPort)) yield return problem;
        if (!IPAddress.TryParse(BindAddress, out _)) yield return $"{section}:BindAddress must be an IP address (was '{BindAddress}')";
        if (SocketSendBufferBytes is not 0 and < 4096)
            yield return $"{section}:SocketSendBufferBytes must be 0 (the OS decides) or at least 4096 (was {SocketSendBufferBytes})";
    }
}
