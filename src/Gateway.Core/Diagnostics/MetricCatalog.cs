namespace Gateway.Core.Diagnostics;

public enum MetricKind
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>One series of <c>/metrics</c>, as declared in <see cref="MetricCatalog"/>.</summary>
/// <param name="Name">Without the <c>gateway_</c> prefix; ends in its unit (<c>_seconds</c>, <c>_bytes</c>) or <c>_total</c> for a counter.</param>
/// <param name="Label">The one label's name (<c>upstream</c>, <c>route</c>, <c>protocol</c>, <c>reason</c>), or null.</param>
/// <param name="KnownValues">The label's values shown at zero from the start, where they are fixed (protocols, reasons).</param>
public sealed record MetricDefinition(string Name, MetricKind Kind, string Help, string? Label = null, IReadOnlyList<string>? KnownValues = null);

/// <summary>
/// Every series the gateway exports, in one place: a series must be declared here before any code
/// counts it (<c>MetricCatalogTests</c> scans the sources), so each has its HELP and TYPE, and is
/// shown at zero from the start rather than appearing once it first counts.
/// </summary>
public static partial class MetricCatalog
{
    public const string UpstreamLabel = "upstream", RouteLabel = "route", ProtocolLabel = "protocol", ReasonLabel = "reason";

    /// <summary>The connections counted per protocol: MQTT and STOMP, each over TCP and over WebSocket, and MQTT over TLS.</summary>
    public static readonly IReadOnlyList<string> Protocols = ["mqtt", "mqtt-ws", "mqtt-tls", "stomp", "stomp-ws"];

    /// <summary>The <c>route</c> label of a message no route takes (stored all the same when no upstream is configured).</summary>
    public const string NoRoute = "(no route)";

    /// <summary><c>gateway_build_info{version,commit,runtime} 1</c>: three labels, so set apart from the one-label series.</summary>
    public const string BuildInfo = "build_info";

    private static IReadOnlyList<MetricDefinition>? _all;

    /// <summary>Every declared series; gathered on first use, once the parts' static fields (in other files) are set.</summary>
    public static IReadOnlyList<MetricDefinition> All => _all ??=
    [
        .. Outbox,
        .. Ingest,
        .. Upstreams,
        .. Mqtt,
        .. Stomp,
        .. LocalDelivery,
        .. Security,
    ];

    private static MetricDefinition Counter(string name, string help, string? label = null, IReadOnlyList<string>? values = null) =>
        new(name, MetricKind.Counter, help, label, values);

    private static MetricDefinition Gauge(string name, string help, string? label = null, IReadOnlyList<string>? values = null) =>
        new(name, MetricKind.Gauge, help, label, values);

    private static MetricDefinition Histogram(string name, string help) => new(name, MetricKind.Histogram, help);
}
