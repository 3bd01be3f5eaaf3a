using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Gateway.Status;

/// <summary>The status dashboard's parts: the fault log fed by logging, the backlog figures, the once-a-second sampler.</summary>
internal static class StatusRegistration
{
    /// <summary>Added after the parts it watches, so its sampler starts once they run.</summary>
    public static IServiceCollection AddStatus(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<FaultLog>();
        services.AddSingleton<ILoggerProvider, FaultLoggerProvider>();
        services.AddSingleton<IBacklogFigures>(sp => new OutboxBacklogFigures(
            sp.GetRequiredService<Core.Outbox.IOutbox>(), sp.GetRequiredService<Core.Routing.RouteTable>()));
        services.AddSingleton<ConnectedClients>();
        services.AddSingleton<StatusBuilder>();
        services.AddSingleton<StatusSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<StatusSampler>());
        return services;
    }
}
