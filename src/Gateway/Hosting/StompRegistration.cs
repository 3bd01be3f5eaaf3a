using Gateway.Stomp;
using Gateway.Stomp.Server;

namespace Gateway.Hosting;

/// <summary>The STOMP part: the bridge to the outbox and the bus, and the TCP connection handler (Kestrel listens).</summary>
internal static class StompRegistration
{
    public static IServiceCollection AddStomp(this IServiceCollection services, StompServerOptions sessions)
    {
        services.AddSingleton(sessions with { ServerName = "edge-gateway/" + typeof(StompBridge).Assembly.GetName().Version?.ToString(3) });
        services.AddSingleton<StompBridge>();
        services.AddSingleton<StompTcpConnectionHandler>();
        return services;
    }
}
