using System.Reflection;
using System.Runtime.InteropServices;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Routing;
using Gateway.Mqtt;

namespace Gateway.Hosting;

/// <summary>What operators look at: the metrics (every series at zero from the start, the process's, the build) and the health probes.</summary>
internal static class OperatorRegistration
{
    public static IServiceCollection AddOperatorViews(this IServiceCollection services, GatewayOptions options)
    {
        services.AddSingleton(sp => CreateMetrics(sp.GetRequiredService<RouteTable>()));
        services.AddSingleton<HealthChecks>();
        services.AddSingleton(sp =>
        {
            var mqtt = sp.GetRequiredService<MqttListenerService>();
            return new ListenerProbe("mqtt", () => mqtt.Listening);
        });
        // Kestrel serves HTTP (and the MQTT and STOMP WebSockets) and the STOMP port: its listeners
        // accept from the host's start until it stops; a bind failure stops the start itself.
        services.AddSingleton(sp => KestrelProbe("http", sp));
        if (options.Stomp.Port != 0) services.AddSingleton(sp => KestrelProbe("stomp", sp));
        return services;
    }

    private static ListenerProbe KestrelProbe(string name, IServiceProvider services)
    {
        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        return new ListenerProbe(name, () => lifetime.ApplicationStarted.IsCancellationRequested && !lifetime.ApplicationStopping.IsCancellationRequested);
    }

    private static GatewayMetrics CreateMetrics(RouteTable routes)
    {
        var metrics = new GatewayMetrics();
        metrics.Prepare(routes.Upstreams, routes.Routes.Select(r => r.Filter).Distinct());
        metrics.IncludeProcessMetrics();
        // "1.2.3+<commit>": the SDK appends the commit the program was built from to its informational version.
        var version = typeof(OperatorRegistration).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        metrics.SetBuildInfo(plus < 0 ? version : version[..plus], plus < 0 ? "unknown" : version[(plus + 1)..], RuntimeInformation.FrameworkDescription);
        return metrics;
    }
}
