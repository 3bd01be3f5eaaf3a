using Gateway.Configuration;

namespace Gateway.Security;

/// <summary>The users, the login checks of each listener, the HTTP guard, and the upstream secrets read at start.</summary>
public static class SecurityRegistration
{
    internal static IServiceCollection AddGatewaySecurity(this IServiceCollection services)
    {
        services.AddSingleton<GatewayAuthenticator>();
        services.AddSingleton<MqttLogin>();
        return services;
    }

    /// <summary>
    /// Reads the password file now, so an unreadable one stops the start with its one line (exit 2),
    /// says at start who may connect, and guards the HTTP port's pages. Call before the endpoints and static files.
    /// </summary>
    /// <exception cref="GatewayConfigurationException">The password file exists but cannot be read or parsed.</exception>
    public static WebApplication UseGatewaySecurity(this WebApplication app)
    {
        app.Services.GetRequiredService<GatewayAuthenticator>().LogStartState();
        app.UseGatewayUsers();
        return app;
    }
}
