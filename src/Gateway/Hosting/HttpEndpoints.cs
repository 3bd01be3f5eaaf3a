using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Outbox;

namespace Gateway.Hosting;

/// <summary>Operator endpoints: <c>/healthz</c> (JSON state) and <c>/metrics</c> (Prometheus text).</summary>
internal static class HttpEndpoints
{
    public static void MapOperatorEndpoints(this WebApplication app)
    {
        // 503 once a part has died (a forwarder): a liveness probe must not call such a gateway healthy.
        app.MapGet("/healthz", (IOutbox outbox, ForwardingService forwarding, GatewayOptions options) => Results.Json(new HealthReport(
            Status: forwarding.Fault is null ? "ok" : "failed",
            GatewayId: options.Id!,
            Outbox: new OutboxHealth(outbox.Count, outbox.LastCommittedSequence),
            Upstreams: forwarding.Forwarders.Select(f => new UpstreamHealth(f.Upstream, f.IsConnected, f.CurrentEndpoint, f.Position)).ToArray(),
            Fault: forwarding.Fault),
            HealthJson.Default.HealthReport,
            statusCode: forwarding.Fault is null ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable));

        app.MapGet("/metrics", (GatewayMetrics metrics) => Results.Text(metrics.ToPrometheusText(), "text/plain; version=0.0.4"));
    }
}

internal sealed record HealthReport(string Status, string GatewayId, OutboxHealth Outbox, UpstreamHealth[] Upstreams, string? Fault);

internal sealed record OutboxHealth(long Messages, long LastSequence);

internal sealed record UpstreamHealth(string Name, bool Connected, string Endpoint, long Cursor);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(HealthReport))]
internal sealed partial class HealthJson : System.Text.Json.Serialization.JsonSerializerContext;
