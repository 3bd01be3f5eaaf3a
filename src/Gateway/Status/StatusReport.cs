using System.Text.Json.Serialization;

namespace Gateway.Status;

/// <summary>What <c>GET /api/status</c> answers and <c>/api/status/events</c> sends every second (README.md, Operating it).</summary>
/// <param name="TakenAt">When the snapshot was built; the page shows data older than a few seconds as stale.</param>
/// <param name="Sample">The newest point of the charts (the page appends it to what <c>/api/status/history</c> gave).</param>
public sealed record StatusReport(
    string GatewayId,
    DateTimeOffset TakenAt,
    DateTimeOffset StartedAt,
    UpstreamStatus[] Upstreams,
    RouteBacklog[] Routes,
    RateStatus Rates,
    DiskStatus Disk,
    ConnectionStatus Connections,
    FaultEntry[] Faults,
    StatusSample Sample);

/// <param name="State">"connected", "blocked" (connected, the broker holds publishes back), "reconnecting" (down for under a minute) or "down".</param>
/// <param name="Since">When it entered that state (to the second; the start of the gateway at the latest).</param>
/// <param name="ForwardPerSecond">Deliveries to it confirmed per second over the last second.</param>
public sealed record UpstreamStatus(
    string Name,
    string State,
    DateTimeOffset Since,
    string Endpoint,
    string? BlockedReason,
    LinkError? LastError,
    double ForwardPerSecond,
    UpstreamBacklog Backlog);

/// <summary>What waits for one upstream.</summary>
/// <param name="Exact">True when counted message by message; false when extrapolated from the oldest ones (a backlog larger than one look reads).</param>
/// <param name="OldestAgeSeconds">How long the oldest waiting message has waited; null with no backlog.</param>
/// <param name="DrainEtaSeconds">When the backlog will be gone at its present pace; 0 with none, null while it does not shrink.</param>
public sealed record UpstreamBacklog(long Messages, long Bytes, bool Exact, double? OldestAgeSeconds, double? DrainEtaSeconds);

/// <summary>What waits for one route (a topic filter to one upstream).</summary>
public sealed record RouteBacklog(string Filter, string Upstream, long Messages, long Bytes, bool Exact);

/// <param name="IngestPerSecond">Messages committed to the outbox per second, over the last second.</param>
/// <param name="ForwardPerSecond">Deliveries confirmed by all upstreams per second, over the last second.</param>
public sealed record RateStatus(double IngestPerSecond, double ForwardPerSecond);

/// <param name="FreeBytes">Free space on the store's file system.</param>
/// <param name="MinFreeBytes">The watermark (<c>Gateway:Outbox:MinFreeDiskBytes</c>): below it new messages are refused.</param>
/// <param name="Refusing">The store refuses new messages for lack of disk.</param>
/// <param name="StoreMessages">Messages in the store, against <paramref name="MaxMessages"/>.</param>
/// <param name="StoreBytes">Payload bytes in the store, against <paramref name="MaxBytes"/>.</param>
public sealed record DiskStatus(long FreeBytes, long MinFreeBytes, bool Refusing, long StoreMessages, long MaxMessages, long StoreBytes, long MaxBytes);

/// <param name="Clients">At most <see cref="StatusSampler.MaxClientsListed"/> of them, oldest connection first.</param>
public sealed record ConnectionStatus(int Mqtt, int Stomp, ClientStatus[] Clients);

/// <param name="Protocol">"mqtt" (with its version, e.g. "mqtt 5") or "stomp".</param>
public sealed record ClientStatus(string Protocol, string Id, string Endpoint, DateTimeOffset ConnectedAt);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(StatusReport))]
[JsonSerializable(typeof(StatusSample[]))]
public sealed partial class StatusJson : JsonSerializerContext;
