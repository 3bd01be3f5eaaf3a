using Gateway.Hardware;

namespace Gateway.Hosting;

/// <summary>The appliance's parts: the front panel (LEDs, button) and systemd's watchdog, started last and stopped first.</summary>
internal static class HardwareRegistration
{
    public static IServiceCollection AddFrontPanel(this IServiceCollection services)
    {
        services.AddSingleton(_ => WatchdogSettings.FromEnvironment());
        services.AddSingleton<SystemdWatchdog>();
        services.AddHostedService(sp => sp.GetRequiredService<SystemdWatchdog>());
        services.AddSingleton<IAppliance, ApplianceSource>();
        services.AddSingleton<FrontPanelService>();
        services.AddHostedService(sp => sp.GetRequiredService<FrontPanelService>());
        return services;
    }
}
