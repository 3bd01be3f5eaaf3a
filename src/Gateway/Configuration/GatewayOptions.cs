using Gateway.Core.Routing;

namespace Gateway.Configuration;

/// <summary>
/// Everything an operator can set, bound from the <c>Gateway</c> section: <c>appsettings.json</c>, then
/// <c>firmware-config/gateway.json</c>, then environment variables (<c>Gateway__Mqtt__Port=1884</c>).
/// The defaults are the embedded ones: the gateway starts with no file at all.
/// </summary>
public sealed record GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>This gateway's name, the prefix of every upstream message id; default: the host name.</summary>
    public string? Id { get; init; }

    /// <summary>Where the outbox and other state live.</summary>
    public string DataPath { get; init; } = "./data";

    public MqttListenerOptions Mqtt { get; init; } = new();

    public HttpListenerOptions Http { get; init; } = new();

    public StompListenerOptions Stomp { get; init; } = new();

    public OutboxSettings Outbox { get; init; } = new();

    /// <summary>Upstream brokers by name; none = store-and-forward only.</summary>
    public Dictionary<string, UpstreamSettings> Upstreams { get; init; } = new(StringComparer.Ordinal);

    public List<RouteSettings> Routes { get; init; } = [];

    /// <summary>What happens to a publish no route matches, when upstreams are configured.</summary>
    public UnroutedPolicy Unrouted { get; init; } = UnroutedPolicy.Local;
}

public enum UnroutedPolicy
{
    /// <summary>Delivered to local subscribers only, not stored; counted.</summary>
    Local,

    /// <summary>Refused: MQTT 5 reason code, or no PUBACK and a disconnect for MQTT 3.1.1; counted.</summary>
    Reject,
}

public sealed record MqttListenerOptions
{
    public int Port { get; init; } = 1883;
    public string BindAddress { get; init; } = "0.0.0.0";

    /// <summary>Messages queued for one subscriber before the oldest are dropped (MQTTnet's per-session queue).</summary>
    public int MaxPendingMessagesPerClient { get; init; } = 10_000;

    /// <summary>Keep sessions of clients that connect with clean session off (MQTT 3.1.1) / a session expiry (MQTT 5).</summary>
    public bool PersistentSessions { get; init; } = true;

    /// <summary>
    /// The largest MQTT packet a client may send, in bytes (fixed header included); a larger one is
    /// refused from its header and the connection closed, before any memory is taken for it. Default:
    /// Gateway:Outbox:MaxMessageBytes plus 128 KiB for the topic and properties. A CONNECT may be at most 64 KiB.
    /// </summary>
    public int? MaxPacketBytes { get; init; }
}

public sealed record StompListenerOptions
{
    /// <summary>STOMP over plain TCP; 0 turns the TCP listener off (STOMP over WebSocket at <c>/stomp</c> stays).</summary>
    public int Port { get; init; } = 61613;
    public string BindAddress { get; init; } = "0.0.0.0";

    /// <summary>
    /// MESSAGE frames queued for one connection, plus those awaiting an ACK (client ack modes). A client
    /// beyond it is a slow consumer: it gets an ERROR saying so and is disconnected; nobody waits for it.
    /// </summary>
    public int MaxPendingMessages { get; init; } = 1000;

    /// <summary>The same limit in message body bytes per connection.</summary>
    public long MaxPendingBytes { get; init; } = 16L << 20;

    /// <summary>The heart-beat interval offered both ways; the client's CONNECT decides the real one. 0 = none.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a new connection may take to send CONNECT.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public int MaxSubscriptionsPerConnection { get; init; } = 100;

    /// <summary>
    /// The kernel's send buffer per STOMP connection (TCP and WebSocket), in bytes; 0 leaves it to the
    /// OS, which grows it to megabytes per connection. Bounded, a thousand dashboards cannot take the
    /// board's memory, and a client that stops reading is noticed (and disconnected) in seconds.
    /// </summary>
    public int SocketSendBufferBytes { get; init; } = 64 * 1024;
}

public sealed record HttpListenerOptions
{
    /// <summary>Health, metrics, STOMP over WebSocket (<c>/stomp</c>), MQTT over WebSocket (<c>/mqtt</c>) and the example page.</summary>
    public int Port { get; init; } = 8080;
    public string BindAddress { get; init; } = "0.0.0.0";

    /// <summary>
    /// Web pages of other origins allowed to open <c>/stomp</c> and <c>/mqtt</c> (<c>https://dash.example</c>,
    /// or <c>*</c> for any). Pages served by the gateway itself, and clients that send no Origin
    /// (devices, Node, scripts), are always allowed; any other page a browser opens is refused, so a
    /// site visited on the plant's network cannot publish through the gateway.
    /// </summary>
    public List<string> AllowedOrigins { get; init; } = [];
}

public sealed record OutboxSettings
{
    public int MaxGroupMessages { get; init; } = 1000;
    public int MaxGroupBytes { get; init; } = 4 << 20;

    /// <summary>How long messages nobody waits for (MQTT QoS 0, STOMP SEND without receipt) may wait to share a commit.</summary>
    public TimeSpan UnacknowledgedLinger { get; init; } = TimeSpan.FromMilliseconds(100);

    public int PendingCapacity { get; init; } = 20_000;
    public int MaxMessageBytes { get; init; } = 1 << 20;

    /// <summary>How often expired messages are removed (and once at start).</summary>
    public TimeSpan ExpirySweepInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Most messages stored (default sized for a 16 GB SD card).</summary>
    public long MaxMessages { get; init; } = 5_000_000;

    /// <summary>Most payload bytes stored.</summary>
    public long MaxBytes { get; init; } = 4L << 30;

    /// <summary>When full: refuse new messages (clients keep them) or drop the oldest of the same route. Routes may override.</summary>
    public Core.Outbox.WhenFull WhenFull { get; init; } = Core.Outbox.WhenFull.RejectNew;

    /// <summary>Below this much free disk space new messages are refused, whatever the policy.</summary>
    public long MinFreeDiskBytes { get; init; } = 256L << 20;
}

public enum UpstreamKind
{
    /// <summary>AMQP 0-9-1: <c>amqp://</c> / <c>amqps://</c> endpoints, routes name exchanges.</summary>
    RabbitMq,

    /// <summary>STOMP 1.2: <c>stomp://</c> / <c>stomp+ssl://</c> endpoints, routes name destinations.</summary>
    ActiveMq,
}

public sealed record UpstreamSettings
{
    public UpstreamKind Kind { get; init; } = UpstreamKind.RabbitMq;

    /// <summary>
    /// RabbitMQ: <c>amqp://host:5672/vhost</c> or <c>amqps://host:5671/vhost</c>; ActiveMQ:
    /// <c>stomp://host:61613</c> or <c>stomp+ssl://host:61614</c>. Walked in order on failure.
    /// </summary>
    public List<string> Endpoints { get; init; } = [];

    public string? UserName { get; init; }

    /// <summary>Prefer <see cref="PasswordFile"/> or the environment variable; never logged.</summary>
    public string? Password { get; init; }

    /// <summary>A file whose first line is the password (a systemd credential, a mounted secret).</summary>
    public string? PasswordFile { get; init; }

    /// <summary>A PEM or DER CA certificate that upstream TLS certificates must chain to (private CAs).</summary>
    public string? CaFile { get; init; }

    /// <summary>Lab use only: accept any TLS certificate. Logged as a warning at every start.</summary>
    public bool AllowUntrustedCertificate { get; init; }

    /// <summary>Heart-beat (STOMP) / heartbeat (AMQP) interval: how soon a silent, dead connection is noticed.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(10);

    public int BatchMaxMessages { get; init; } = 500;
    public int BatchMaxBytes { get; init; } = 1 << 20;
    public TimeSpan ConfirmTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);
}

public sealed record RouteSettings
{
    /// <summary>MQTT topic filter, e.g. <c>sensors/#</c>.</summary>
    public string? Filter { get; init; }

    /// <summary>Name of an entry in <see cref="GatewayOptions.Upstreams"/>.</summary>
    public string? Upstream { get; init; }

    /// <summary>RabbitMQ exchange; default <c>amq.topic</c>.</summary>
    public string Exchange { get; init; } = "amq.topic";

    public ExchangeType ExchangeType { get; init; } = ExchangeType.Topic;

    /// <summary>Declare the exchange (durable) at connect; otherwise it must exist (checked passively).</summary>
    public bool DeclareExchange { get; init; }

    /// <summary>Fixed routing key; default: the topic with <c>/</c> and <c>.</c> swapped, as RabbitMQ's MQTT plugin does.</summary>
    public string? RoutingKey { get; init; }

    /// <summary>ActiveMQ: <c>/queue/name</c> or <c>/topic/name</c>; default <c>/topic/</c> plus the topic mapped as for routing keys.</summary>
    public string? Destination { get; init; }

    /// <summary>How long a message is worth delivering by this route; expired messages are removed and counted, never sent.</summary>
    public TimeSpan? Ttl { get; init; }

    /// <summary>This route's policy when the store is full; default: Gateway:Outbox:WhenFull.</summary>
    public Core.Outbox.WhenFull? WhenFull { get; init; }
}
