using Gateway.Stomp.Server;
using Gateway.Storage.LiteDb;

namespace Gateway.Configuration;

/// <summary>
/// Everything an operator can set, bound from the <c>Gateway</c> section: <c>appsettings.json</c>, then
/// <c>firmware-config/gateway.json</c>, then environment variables (<c>Gateway__Mqtt__Port=1884</c>).
/// Each part's record is bound from its own section and keeps its own defaults, so the gateway starts
/// with no file at all; <see cref="OptionsSections"/> lists which properties are keys.
/// </summary>
public sealed record GatewayOptions
{
    public const string Section = "Gateway";

    private const string DefaultDataPath = "./data";

    /// <summary>This gateway's name, the prefix of every upstream message id; default: the host name.</summary>
    public string? Id { get; init; }

    /// <summary>Where the outbox and other state live.</summary>
    public string DataPath { get; init; } = DefaultDataPath;

    /// <summary>What happens to a publish no route matches, when upstreams are configured.</summary>
    public UnroutedPolicy Unrouted { get; init; } = UnroutedPolicy.Local;

    public MqttListenerOptions Mqtt { get; init; } = new();

    public HttpListenerOptions Http { get; init; } = new();

    /// <summary>The STOMP listeners; the sessions' settings, from the same section, are <see cref="StompSessions"/>.</summary>
    public StompListenerOptions Stomp { get; init; } = new();

    /// <summary>Not a key: bound from <c>Gateway:Stomp</c> beside <see cref="Stomp"/> (see <see cref="GatewayConfiguration"/>).</summary>
    public StompServerOptions StompSessions { get; init; } = new();

    /// <summary>The outbox, bound from <c>Gateway:Outbox</c>; its <c>DataPath</c> is always this record's <see cref="DataPath"/>.</summary>
    public LiteDbOutboxOptions Outbox { get; init; } = new() { DataPath = DefaultDataPath };

    /// <summary>Upstream brokers by name; none = store-and-forward only.</summary>
    public Dictionary<string, UpstreamSettings> Upstreams { get; init; } = new(StringComparer.Ordinal);

    public List<RouteSettings> Routes { get; init; } = [];

    /// <summary>The appliance's front panel: status LEDs and a button on GPIO pins.</summary>
    public Gateway.Hardware.HardwareOptions Hardware { get; init; } = new();

    /// <summary>Users, anonymous access and the ACL for every listener.</summary>
    public AuthOptions Auth { get; init; } = new();

    /// <summary>The server certificate of the TLS listeners.</summary>
    public TlsOptions Tls { get; init; } = new();

    /// <summary>Connections, rates, subscriptions and topics: what one client or address may take.</summary>
    public LimitsOptions Limits { get; init; } = new();

    /// <summary>The top-level values out of range, each a line naming its key.</summary>
    public IEnumerable<string> Validate()
    {
        if (Id is not null && !(Id.Length is > 0 and <= 64 && Id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            yield return $"{Section}:Id must be 1-64 letters, digits, '-', '_' or '.' (was '{Id}')";
        if (string.IsNullOrWhiteSpace(DataPath)) yield return $"{Section}:DataPath must name a folder";
    }
}

public enum UnroutedPolicy
{
    /// <summary>Delivered to local subscribers only, not stored; counted.</summary>
    Local,

    /// <summary>Refused: MQTT 5 reason code, or no PUBACK and a disconnect for MQTT 3.1.1; counted.</summary>
    Reject,
}
