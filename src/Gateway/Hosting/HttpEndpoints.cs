using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Outbox;
using Gateway.Storage.LiteDb;

namespace Gateway.Hosting;

/// <summary>Operator endpoints: <c>/healthz</c> (JSON state) and <c>/metrics</c> (Prometheus text).</summary>
internal static class HttpEndpoints
{
    public static void MapOperatorEndpoints(this WebApplication app)
    {
        // Alive (200) while the outbox's writer and every forwarder run, full disk or not; 503 once a
        // part has stopped on a fault: a liveness probe must not call such a gateway healthy.
        app.MapGet("/healthz", (IOutbox outbox, LiteDbOutbox store, ForwardingService forwarding, GatewayOptions options) =>
        {
            var fault = store.Faulted.IsCompleted ? $"the outbox's writer stopped: {store.Faulted.Result.Message}" : forwarding.Fault;
            return Results.Json(new HealthReport(
                Status: fault is null ? "ok" : "failed",
                GatewayId: options.Id!,
                Outbox: new OutboxHealth(outbox.Count, outbox.LastCommittedSequence, store.Faulted.IsCompleted ? "failed" : store.DiskFull ? "disk-full" : "ok"),
                Upstreams: forwarding.Forwarders.Select(f => new UpstreamHealth(f.Upstream, f.IsConnected, f.BlockedBecause is not null, f.BlockedBecause, f.CurrentEndpoint, f.Position)).ToArray(),
                Fault: fault),
                HealthJson.Default.HealthReport,
                statusCode: fault is null ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });

        app.MapGet("/metrics", (GatewayMetrics metrics) => Results.Text(metrics.ToPrometheusText(), "text/plain; version=0.0.4"));
    }
}

internal sealed record HealthReport(string Status, string GatewayId, OutboxHealth Outbox, UpstreamHealth[] Upstreams, string? Fault);

/// <param name="Writer">"ok", "disk-full" (new messages refused, what is stored still forwarded) or "failed".</param>
internal sealed record OutboxHealth(long Messages, long LastSequence, string Writer);

/// <param name="Blocked">The broker holds publishes back (RabbitMQ's memory or disk alarm): connected, stored, waiting.</param>
/// <param name="BlockedReason">The broker's reason while blocked, e.g. "low on memory".</param>
internal sealed record UpstreamHealth(string Name, bool Connected, bool Blocked, string? BlockedReason, string Endpoint, long Cursor);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(HealthReport))]
internal sealed partial class HealthJson : System.Text.Json.Serialization.JsonSerializerContext;
