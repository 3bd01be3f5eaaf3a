using Gateway.Configuration;
using Gateway.Limits;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gateway.Hosting;

/// <summary>The limits of <c>Gateway:Limits</c>: one connection count for every listener, and what Kestrel bounds itself.</summary>
internal static class LimitsRegistration
{
    public static IServiceCollection AddLimits(this IServiceCollection services, LimitsOptions limits)
    {
        services.AddSingleton(limits);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<LimitLog>();
        services.AddSingleton<ConnectionLimiter>();
        services.AddSingleton<TopicLimits>();
        services.AddSingleton<MqttLimits>();
        services.AddSingleton<StompSessionLimits>();
        return services;
    }

    /// <summary>
    /// Kestrel's own bounds: its connections in all (HTTP and STOMP; a backstop, the gateway's count
    /// refuses first) and how long a client may take over its request headers (a WebSocket handshake
    /// dribbled a byte at a time) or sit idle between requests (Kestrel's defaults: 30 s and 130 s).
    /// </summary>
    public static void ApplyLimits(this KestrelServerOptions kestrel, LimitsOptions limits)
    {
        kestrel.Limits.MaxConcurrentConnections = limits.MaxConnections;
        kestrel.Limits.RequestHeadersTimeout = limits.ConnectTimeout;
        kestrel.Limits.KeepAliveTimeout = limits.ConnectTimeout;
    }

    /// <summary>
    /// Admits each connection on this Kestrel endpoint through the <see cref="ConnectionLimiter"/>, at
    /// accept, before any byte is parsed; a refused one is closed at once. Call it before any other
    /// connection middleware (TLS), so a refused connection costs no handshake.
    /// </summary>
    /// <param name="listener">How the log names the endpoint: <c>HTTP</c>, <c>STOMP</c>.</param>
    public static ListenOptions UseConnectionLimits(this ListenOptions listen, string listener)
    {
        var limiter = listen.ApplicationServices.GetRequiredService<ConnectionLimiter>();
        listen.Use(next => async connection =>
        {
            var address = (connection.RemoteEndPoint as System.Net.IPEndPoint)?.Address;
            if (limiter.TryAdmit(address, listener) is not { } lease)
            {
                connection.Abort(new ConnectionAbortedException("refused by Gateway:Limits"));
                return;
            }
            using (lease) await next(connection).ConfigureAwait(false);
        });
        return listen;
    }
}
