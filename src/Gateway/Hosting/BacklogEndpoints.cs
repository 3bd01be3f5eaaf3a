using System.Net;
using Gateway.Backlog;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Outbox;

namespace Gateway.Hosting;

/// <summary>
/// The admin API the <c>gateway backlog</c> commands use, under <c>/api/backlog</c>: list, show,
/// purge. Loopback only, unless users are configured (Gateway:Auth:PasswordFile) and the request is
/// authenticated: the HTTP port may be bound to every address for the browsers, the backlog must not be.
/// </summary>
internal static class BacklogEndpoints
{
    public const string Prefix = "/api/backlog";

    /// <summary>Maps the endpoints on one group, so the authentication filter can be added to the group.</summary>
    public static RouteGroupBuilder MapBacklogApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(Prefix);
        group.AddEndpointFilter(async (context, next) => AllowedCaller(context.HttpContext) ? await next(context) : Problem("the admin API answers only on loopback (or to a signed-in user when Gateway:Auth:PasswordFile is set)", StatusCodes.Status403Forbidden));

        group.MapGet("", (BacklogReader backlog, string? route, string? upstream, long? from, int? limit, bool? details) =>
            Answer(() => Results.Json(backlog.List(new BacklogQuery(route, upstream, from ?? 1, limit ?? 100, details ?? false)), BacklogJson.Default.BacklogPage)));

        group.MapGet("/{sequence:long}", (BacklogReader backlog, long sequence) =>
            backlog.Show(sequence) is { } entry
                ? Results.Json(entry, BacklogJson.Default.BacklogEntry)
                : Problem($"no message {sequence} is stored (forwarded and confirmed, purged, expired, or never stored)", StatusCodes.Status404NotFound));

        group.MapPost("/purge", async (HttpContext context, BacklogReader backlog, ILoggerFactory loggers) =>
        {
            var request = await context.Request.ReadFromJsonAsync(BacklogJson.Default.PurgeRequest, context.RequestAborted);
            if (request is null) return Problem("a purge request is a JSON body: route, before or olderThan", StatusCodes.Status400BadRequest);
            try
            {
                var result = await backlog.PurgeAsync(request, context.RequestAborted);
                loggers.CreateLogger("Gateway.Backlog").LogWarning(EventIds.BacklogPurged,
                    "Backlog purge by {Caller} removed {Removed} messages (route {Route}, before {Before}, older than {OlderThan}); {Stored} stored",
                    context.Connection.RemoteIpAddress, result.Removed, request.Route ?? "any", request.Before?.ToString() ?? "-", request.OlderThan?.ToString() ?? "-", result.Stored);
                return Results.Json(result, BacklogJson.Default.PurgeResult);
            }
            catch (BacklogRequestException ex)
            {
                return Problem(ex.Message, StatusCodes.Status400BadRequest);
            }
            catch (OutboxRejectedException ex)
            {
                return Problem(ex.Message, StatusCodes.Status503ServiceUnavailable);
            }
        });
        return group;
    }

    private static bool AllowedCaller(HttpContext context)
    {
        if (context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote)) return true;
        var options = context.RequestServices.GetRequiredService<GatewayOptions>();
        return options.Auth.PasswordFile is not null && context.User.Identity?.IsAuthenticated == true;
    }

    private static IResult Answer(Func<IResult> answer)
    {
        try
        {
            return answer();
        }
        catch (BacklogRequestException ex)
        {
            return Problem(ex.Message, StatusCodes.Status400BadRequest);
        }
    }

    private static IResult Problem(string error, int status) => Results.Json(new BacklogProblem(error), BacklogJson.Default.BacklogProblem, statusCode: status);
}

internal static class BacklogRegistration
{
    public static IServiceCollection AddBacklog(this IServiceCollection services) =>
        services.AddSingleton(sp => new BacklogReader(sp.GetRequiredService<Storage.LiteDb.LiteDbOutbox>(), sp.GetRequiredService<Core.Routing.RouteTable>()));
}
