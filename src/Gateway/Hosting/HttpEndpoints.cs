using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Outbox;

namespace Gateway.Hosting;

/// <summary>Operator endpoints: <c>/healthz</c> (JSON state) and <c>/metrics</c> (Prometheus text).</summary>
internal static class HttpEndpoints
{
    public static void MapOperatorEndpoints(this WebApplication app)
    {
        app.MapGet("/healthz", (IOutbox outbox, ForwardingService forwarding, GatewayOptions options) => Results.Json(new HealthReport(
            Status: "ok",
            GatewayId: options.Id!,
            Outbox: new OutboxHealth(outbox.Count, outbox.LastCommittedSequence),
            Upstreams: forwarding.Forwarders.Select(f => new UpstreamHealth(f.Upstream, f.IsConnected, f.CurrentEndpoint, f.Position)).ToArray()),
            HealthJson.Default.HealthReport));

        app.MapGet("/metrics", (GatewayMetrics metrics) => Results.Text(metrics.ToPrometheusText(), "text/plain; version=0.0.4"));
    }
}

internal sealed record HealthReport(string Status, string GatewayId, OutboxHealth Outbox, UpstreamHealth[] Upstreams);

internal sealed record OutboxHealth(long Messages, long LastSequence);

internal sealed record UpstreamHealth(string Name, bool Connected, string Endpoint, long Cursor);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(HealthReport))]
internal sealed partial class HealthJson : System.Text.Json.Serialization.JsonSerializerContext;
