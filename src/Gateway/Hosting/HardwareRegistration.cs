using Gateway.Hardware;

namespace Gateway.Hosting;

/// <summary>The appliance's front panel (LEDs, button), started last and stopped first.</summary>
internal static class HardwareRegistration
{
    public static IServiceCollection AddFrontPanel(this IServiceCollection services)
    {
        services.AddSingleton<IAppliance, ApplianceSource>();
        services.AddSingleton<FrontPanelService>();
        services.AddHostedService(sp => sp.GetRequiredService<FrontPanelService>());
        return services;
    }
}
