using Gateway.Configuration;
using Gateway.Core.Bus;

namespace Gateway.Hosting;

/// <summary>What every part uses: the checked options, the route table, the metrics and the local bus.</summary>
internal static class GatewayRegistration
{
    public static IServiceCollection AddGatewayCore(this IServiceCollection services, GatewayOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(GatewayConfiguration.BuildRouteTable(options));
        services.AddOperatorViews(options); // the metrics, and the health probes
        services.AddSingleton<LocalBus>();
        services.AddSingleton<Security.AccessControl>(); // the ACL, for MQTT and STOMP alike
        return services;
    }
}
