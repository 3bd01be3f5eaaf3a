using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using Gateway.Core.Diagnostics;

namespace Gateway.Security;

/// <summary>
/// Who may use the HTTP port's page and APIs: the same users, anonymous rule and back-off as the
/// other listeners, by HTTP Basic. <see cref="UseGatewayUsers"/> guards every path but the open ones
/// (<c>/healthz</c>, <c>/readyz</c>, <c>/metrics</c> unless <c>Gateway:Auth:ProtectMetrics</c>, and
/// <c>/stomp</c>, <c>/mqtt</c>, which log in inside their protocol), so an endpoint added later is
/// guarded without anyone remembering to; <see cref="RequireGatewayUser{TBuilder}"/> guards one endpoint
/// or group explicitly, whatever its path.
/// </summary>
/// <remarks>
/// Basic sends the password with every request, so only over HTTPS on an untrusted network; each
/// request's check is one keyed hash once the password was verified (the authenticator remembers it).
/// </remarks>
public static partial class HttpUsers
{
    private const string Realm = "edge-gateway";

    private static readonly string[] OpenPaths = ["/healthz", "/readyz", "/stomp", "/mqtt"];

    /// <summary>Guards every path but the open ones; add it before the static files and the endpoints.</summary>
    public static IApplicationBuilder UseGatewayUsers(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var authenticator = context.RequestServices.GetRequiredService<GatewayAuthenticator>();
            if (!IsOpen(context.Request.Path, authenticator) && !IsLocalCommandLine(context)
                && await RefusalAsync(context, authenticator).ConfigureAwait(false) is { } refused)
            {
                await refused.ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            await next(context).ConfigureAwait(false);
        });

    /// <summary>Requires a gateway user on these endpoints (when users are configured; from loopback only when none are).</summary>
    public static TBuilder RequireGatewayUser<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (http.Items.ContainsKey(VerifiedItem)) return await next(context).ConfigureAwait(false);
            return await RefusalAsync(http, http.RequestServices.GetRequiredService<GatewayAuthenticator>()).ConfigureAwait(false)
                   ?? await next(context).ConfigureAwait(false);
        });

    /// <summary>The user this request logged in as; null for an anonymous request (or one not checked).</summary>
    public static string? UserOf(HttpContext context) => context.Items.TryGetValue(VerifiedItem, out var user) ? user as string : null;

    private const string VerifiedItem = "gateway.user";

    private static bool IsOpen(PathString path, GatewayAuthenticator authenticator) =>
        OpenPaths.Any(p => path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase))
        || (!authenticator.Options.ProtectMetrics && path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The <c>gateway</c> command line on the gateway's own machine (<c>status</c>, <c>backlog</c>) asks
    /// the admin API over loopback without a user: whoever is on the machine can read the store's files
    /// anyway (docs/security.md, threat model). A reverse proxy on the same machine would make every
    /// request loopback: put one in front of the page only, never of <c>/api/</c>.
    /// </summary>
    private static bool IsLocalCommandLine(HttpContext context) =>
        context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
        && context.Request.Headers.Origin.Count == 0 // not a browser page
        && context.Connection.RemoteIpAddress is { } source && System.Net.IPAddress.IsLoopback(source.IsIPv4MappedToIPv6 ? source.MapToIPv4() : source);

    /// <summary>Null when the request may go on (and then its user is in <see cref="UserOf"/>); otherwise the answer.</summary>
    private static async Task<IResult?> RefusalAsync(HttpContext context, GatewayAuthenticator authenticator)
    {
        var source = context.Connection.RemoteIpAddress;
        if (!TryReadBasic(context.Request.Headers.Authorization.ToString(), out var user, out var password))
        {
            if (authenticator.AnonymousAllowedFrom(source))
            {
                context.Items[VerifiedItem] = null;
                return null;
            }
            if (!authenticator.UsersConfigured)
            {
                LogRefused(Logger(context), source?.ToString() ?? "?", context.Request.Path);
                return Results.Text("This gateway has no users yet: its pages are open only on its own machine. Add a user with 'gateway passwd FILE USER' and set Gateway:Auth:PasswordFile.\n",
                    statusCode: StatusCodes.Status403Forbidden);
            }
            return Challenge(context, "log in with a gateway user");
        }

        var result = await authenticator.LoginAsync("http", user, password, source, context.RequestAborted).ConfigureAwait(false);
        switch (result.Outcome)
        {
            case LoginOutcome.Accepted:
                context.Items[VerifiedItem] = result.User;
                if (result.User is not null) context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, result.User)], "Basic"));
                return null;
            case LoginOutcome.HeldBack:
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(authenticator.Throttle.HeldBackFor(source!).TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Results.Text(result.Reason + "\n", statusCode: StatusCodes.Status429TooManyRequests);
            default:
                return Challenge(context, result.Reason);
        }
    }

    private static IResult Challenge(HttpContext context, string reason)
    {
        context.Response.Headers.WWWAuthenticate = $"Basic realm=\"{Realm}\", charset=\"UTF-8\"";
        return Results.Text(reason + "\n", statusCode: StatusCodes.Status401Unauthorized);
    }

    private static bool TryReadBasic(string header, out string user, out string password)
    {
        user = password = "";
        if (!AuthenticationHeaderValue.TryParse(header, out var value) || !"Basic".Equals(value.Scheme, StringComparison.OrdinalIgnoreCase) || value.Parameter is null)
            return false;
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(value.Parameter));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) return false;
            user = text[..colon];
            password = text[(colon + 1)..];
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static ILogger Logger(HttpContext context) => context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Security.Http");

    [LoggerMessage(EventIds.HttpUserRefused, LogLevel.Information, "Refused an anonymous HTTP request from {Source} for {Path}: no users configured, open only on this machine")]
    private static partial void LogRefused(ILogger logger, string source, string path);
}
