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

        group.MapGet("", async (StatusSampler sampler, HttpContext context) =>
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            wait.CancelAfter(StatusSampler.Interval * 5);
            try
            {
                return Results.Bytes((await sampler.FreshAsync(wait.Token).ConfigureAwait(false)).Json, "application/json");
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                return Results.Problem("no status snapshot was built within 5 s", statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });

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
            using var watch = sampler.WatchStream();
            var seen = sampler.Current;
            // A snapshot from before anybody watched is old: the stream starts with the next one.
            if (seen is { IsFresh: true }) await WriteAsync(response, seen, ending.Token).ConfigureAwait(false);
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
