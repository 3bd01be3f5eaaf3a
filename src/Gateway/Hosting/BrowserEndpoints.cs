using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Mqtt;
using Gateway.Stomp;
using MQTTnet.AspNetCore;

namespace Gateway.Hosting;

/// <summary>What browsers reach on the HTTP port: STOMP over WebSocket, MQTT over WebSocket, the example page.</summary>
internal static class BrowserEndpoints
{
    /// <summary>Subprotocols of STOMP over WebSocket, most preferred first.</summary>
    private static readonly string[] StompSubprotocols = ["v12.stomp", "v11.stomp", "v10.stomp"];

    /// <summary>
    /// A 403 for a browser page of another origin not in <c>Gateway:Http:AllowedOrigins</c>; null when
    /// the request may go on (no Origin: not a browser; the gateway's own pages; an allowed origin).
    /// </summary>
    private static IResult? RefusedOrigin(HttpContext context, GatewayOptions options)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length == 0) return null;
        var own = $"{context.Request.Scheme}://{context.Request.Host}";
        if (string.Equals(origin, own, StringComparison.OrdinalIgnoreCase)) return null;
        if (options.Http.AllowedOrigins.Any(a => a == "*" || string.Equals(a, origin, StringComparison.OrdinalIgnoreCase))) return null;
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Browser")
            .LogWarning(EventIds.OriginRefused, "Refused a WebSocket from a page of origin {Origin} on {Path}: not in Gateway:Http:AllowedOrigins", origin, context.Request.Path);
        return Results.Text($"a page of origin '{origin}' may not connect here: add it to Gateway:Http:AllowedOrigins", statusCode: StatusCodes.Status403Forbidden);
    }

    public static void MapBrowserEndpoints(this WebApplication app)
    {
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.UseDefaultFiles();
        app.UseStaticFiles();

        app.Map("/stomp", async (HttpContext context, StompBridge bridge, IHostApplicationLifetime lifetime, GatewayOptions options) =>
        {
            if (RefusedOrigin(context, options) is { } refused) return refused;
            if (!context.WebSockets.IsWebSocketRequest)
                return Results.BadRequest("STOMP over WebSocket: connect with a WebSocket client offering the subprotocol v12.stomp");
            var requested = context.WebSockets.WebSocketRequestedProtocols;
            var subprotocol = StompSubprotocols.FirstOrDefault(requested.Contains);
            if (requested.Count > 0 && subprotocol is null)
                return Results.BadRequest($"no STOMP subprotocol among '{string.Join(", ", requested)}': offer v12.stomp, v11.stomp or v10.stomp");

            using var socket = await context.WebSockets.AcceptWebSocketAsync(subprotocol);
            var remote = $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort} (WebSocket)";
            await bridge.RunSessionAsync(new WebSocketStompTransport(socket), remote, context.Connection.RemoteIpAddress, context.Features, lifetime.ApplicationStopping);
            return Results.Empty;
        });

        app.Map("/mqtt", async (HttpContext context, MqttListenerService mqtt, GatewayOptions options) =>
        {
            if (RefusedOrigin(context, options) is { } refused) return refused;
            if (!context.WebSockets.IsWebSocketRequest)
                return Results.BadRequest("MQTT over WebSocket: connect with an MQTT client offering the subprotocol mqtt");
            var subprotocol = MqttSubProtocolSelector.SelectSubProtocol(context.Request);
            using var socket = await context.WebSockets.AcceptWebSocketAsync(subprotocol);
            await mqtt.WebSockets.RunWebSocketConnectionAsync(socket, context);
            return Results.Empty;
        });
    }
}
