using Gateway.Core.Diagnostics;

namespace Gateway.Hosting;

/// <summary>Operator endpoints: <c>/healthz</c> (alive), <c>/readyz</c> (taking messages), both JSON, and <c>/metrics</c> (Prometheus text).</summary>
internal static class HttpEndpoints
{
    public static void MapOperatorEndpoints(this WebApplication app)
    {
        // Alive (200) while the outbox's writer, every forwarder and every listener run, full disk or
        // not; 503 once a part has stopped: a liveness probe must not call such a gateway healthy.
        app.MapGet("/healthz", (HealthChecks health) =>
        {
            var (report, alive) = health.Liveness();
            return Results.Json(report, HealthJson.Default.HealthReport, statusCode: alive ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });

        // Ready (200) while alive and the store takes new messages; an upstream down is reported, not a reason.
        app.MapGet("/readyz", (HealthChecks health) =>
        {
            var (report, ready) = health.Readiness();
            return Results.Json(report, HealthJson.Default.ReadinessReport, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });

        app.MapGet("/metrics", async (HttpContext context, GatewayMetrics metrics) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.WriteAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });
    }
}
