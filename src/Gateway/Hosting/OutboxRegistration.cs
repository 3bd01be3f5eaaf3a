using Gateway.Core.Diagnostics;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Gateway.Storage.LiteDb;

namespace Gateway.Hosting;

/// <summary>The outbox part: the LiteDB store, opened by a hosted service before anything can publish.</summary>
internal static class OutboxRegistration
{
    public static IServiceCollection AddOutbox(this IServiceCollection services, LiteDbOutboxOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton<IDiskSync>(FsyncDiskSync.Instance);
        services.AddSingleton(sp => new LiteDbOutbox(
            sp.GetRequiredService<LiteDbOutboxOptions>(),
            sp.GetRequiredService<RouteTable>(),
            sp.GetRequiredService<GatewayMetrics>(),
            sp.GetRequiredService<ILogger<LiteDbOutbox>>(),
            sp.GetRequiredService<IDiskSync>()));
        services.AddSingleton<IOutbox>(sp => sp.GetRequiredService<LiteDbOutbox>());
        services.AddHostedService<OutboxService>();
        return services;
    }
}
