namespace Gateway.Hosting;

/// <summary>The body of <c>/healthz</c>.</summary>
/// <param name="Status">"ok" (200) or "failed" (503).</param>
/// <param name="Fault">The first of <paramref name="Reasons"/>, or null.</param>
/// <param name="Reasons">Why the gateway is not alive; empty when it is.</param>
internal sealed record HealthReport(string Status, string GatewayId, OutboxHealth Outbox, UpstreamHealth[] Upstreams,
    IReadOnlyList<ListenerHealth> Listeners, string? Fault, IReadOnlyList<string> Reasons);

/// <summary>The body of <c>/readyz</c>.</summary>
/// <param name="Status">"ready" (200) or "not-ready" (503).</param>
/// <param name="Reasons">Why the gateway is not ready; empty when it is.</param>
internal sealed record ReadinessReport(string Status, string GatewayId, IReadOnlyList<string> Reasons, StoreReadiness Store,
    IReadOnlyList<ListenerHealth> Listeners, UpstreamHealth[] Upstreams);

/// <param name="Writer">"ok", "disk-full" (new messages refused, what is stored still forwarded) or "failed".</param>
internal sealed record OutboxHealth(long Messages, long LastSequence, string Writer);

/// <param name="Open">The store's files are open.</param>
/// <param name="Accepting">The next message would be taken (no fault, disk guard, full disk or quota).</param>
/// <param name="DiskGuard">Below the free-space watermark.</param>
/// <param name="DiskFull">A write found no room on the disk.</param>
/// <param name="AtQuota">At its quota, rejecting new messages.</param>
/// <param name="DiskFreeBytes">At the last reading; null before the first.</param>
internal sealed record StoreReadiness(bool Open, bool Accepting, bool DiskGuard, bool DiskFull, bool AtQuota, long? DiskFreeBytes, long Messages, long PayloadBytes);

internal sealed record ListenerHealth(string Name, bool Alive);

/// <param name="Blocked">The broker holds publishes back (RabbitMQ's memory or disk alarm): connected, stored, waiting.</param>
/// <param name="BlockedReason">The broker's reason while blocked, e.g. "low on memory".</param>
/// <param name="DownSeconds">How long the link has been down; null while it is up.</param>
/// <param name="Backlog">Messages waiting for this upstream (see <c>gateway_upstream_backlog_messages</c>).</param>
internal sealed record UpstreamHealth(string Name, bool Connected, bool Blocked, string? BlockedReason, string Endpoint, long Cursor, double? DownSeconds, long Backlog);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(HealthReport))]
[System.Text.Json.Serialization.JsonSerializable(typeof(ReadinessReport))]
internal sealed partial class HealthJson : System.Text.Json.Serialization.JsonSerializerContext;
