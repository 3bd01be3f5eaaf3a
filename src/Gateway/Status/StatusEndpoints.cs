using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace Gateway.Status;

/// <summary>
/// The status API: <c>GET /api/status</c> (the last snapshot), <c>GET /api/status/history</c> (the
/// charts' last hour) and <c>GET /api/status/events</c> (server-sent events, a snapshot a second).
/// All on one route group, so access rules can be put on it in one place.
/// </summary>
internal static class StatusEndpoints
{
    public static RouteGroupBuilder MapStatusEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/status");

        group.MapGet("", (StatusSampler sampler) => sampler.Current is { } current
            ? Results.Bytes(current.Json, "application/json")
            : Results.Problem("the first status snapshot is not built yet", statusCode: StatusCodes.Status503ServiceUnavailable));

        group.MapGet("/history", (StatusSampler sampler) =>
            Results.Bytes(JsonSerializer.SerializeToUtf8Bytes(sampler.History.ToArray(), StatusJson.Default.StatusSampleArray), "application/json"));

        group.MapGet("/events", StreamAsync);
        return group;
    }

    /// <summary>Writes every snapshot as it is built until the client goes or the gateway stops.</summary>
    private static async Task StreamAsync(HttpContext context, StatusSampler sampler, IHostApplicationLifetime lifetime)
    {
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        try
        {
            // The browser reconnects this soon after losing the stream (EventSource's retry).
            await response.WriteAsync("retry: 2000\n\n", ending.Token).ConfigureAwait(false);
            var seen = sampler.Current;
            if (seen is not null) await WriteAsync(response, seen, ending.Token).ConfigureAwait(false);
            while (true)
            {
                seen = await sampler.NextAsync(seen, ending.Token).ConfigureAwait(false);
                await WriteAsync(response, seen, ending.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ending.IsCancellationRequested)
        {
            // the browser went away, or the gateway stops
        }
    }

    private static async Task WriteAsync(HttpResponse response, StatusSampler.Published snapshot, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(snapshot.EventFrame, cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
